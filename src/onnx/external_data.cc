#include "onnx/external_data.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

namespace unihal::onnx_import {
namespace {

namespace fs = std::filesystem;

struct ExternalLocation {
  std::string location;
  std::optional<uint64_t> offset;
  std::optional<uint64_t> length;
};

Result<uint64_t> ParseByteCount(const std::string& tensor, const std::string& key,
                                const std::string& text) {
  if (text.empty() || text.size() > 19 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgumentError("tensor '" + tensor + "': external data '" + key + "' is '" + text +
                                "', not a non-negative integer");
  }
  return std::stoull(text);
}

Result<ExternalLocation> ParseLocation(const onnx::TensorProto& proto) {
  ExternalLocation out;
  for (const auto& entry : proto.external_data()) {
    if (entry.key() == "location") {
      out.location = entry.value();
    } else if (entry.key() == "offset") {
      UH_ASSIGN_OR_RETURN(out.offset, ParseByteCount(proto.name(), "offset", entry.value()));
    } else if (entry.key() == "length") {
      UH_ASSIGN_OR_RETURN(out.length, ParseByteCount(proto.name(), "length", entry.value()));
    }
    // "checksum" and unknown keys are informational.
  }
  if (out.location.empty()) {
    return InvalidArgumentError("tensor '" + proto.name() +
                                "' has external data but no 'location' entry");
  }
  return out;
}

// model_dir/location, refusing anything that resolves outside model_dir.
Result<fs::path> ResolveInside(const std::string& tensor, const std::string& model_dir,
                               const std::string& location) {
  const fs::path relative(location);
  if (relative.is_absolute() || relative.has_root_name()) {
    return InvalidArgumentError("tensor '" + tensor + "': external data location '" + location +
                                "' is absolute; it must be relative to the model's folder");
  }
  std::error_code error;
  const fs::path root =
      fs::weakly_canonical(fs::absolute(model_dir.empty() ? "." : model_dir), error);
  const fs::path full = fs::weakly_canonical(root / relative, error);
  if (error) {
    return InvalidArgumentError("tensor '" + tensor + "': cannot resolve external data location '" +
                                location + "': " + error.message());
  }
  auto [root_end, full_it] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  if (root_end != root.end() || full == root) {
    return InvalidArgumentError("tensor '" + tensor + "': external data location '" + location +
                                "' points outside the model's folder " + root.string() +
                                "; refusing to read it");
  }
  return full;
}

}  // namespace

Status ReadExternalData(const onnx::TensorProto& proto, const std::string& model_dir,
                        void* destination, size_t expected_bytes) {
  UH_ASSIGN_OR_RETURN(ExternalLocation where, ParseLocation(proto));
  UH_ASSIGN_OR_RETURN(fs::path file, ResolveInside(proto.name(), model_dir, where.location));
  const std::string tensor = "tensor '" + proto.name() + "'";
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return NotFoundError(tensor + ": cannot open external data file " + file.string() + ": " +
                         std::strerror(errno) + "; keep it next to the model");
  }
  std::error_code error;
  const uint64_t file_size = fs::file_size(file, error);
  if (error) return NotFoundError(tensor + ": cannot stat " + file.string());
  const uint64_t offset = where.offset.value_or(0);
  if (offset > file_size) {
    return InvalidArgumentError(tensor + ": external data offset " + std::to_string(offset) +
                                " is past the end of " + file.string() + " (" +
                                std::to_string(file_size) + " bytes)");
  }
  const uint64_t length = where.length.value_or(file_size - offset);
  if (length != expected_bytes) {
    return InvalidArgumentError(tensor + ": external data holds " + std::to_string(length) +
                                " bytes but its dtype and shape need " +
                                std::to_string(expected_bytes));
  }
  if (length > file_size - offset) {
    return InvalidArgumentError(tensor + ": external data range [" + std::to_string(offset) + ", " +
                                std::to_string(offset + length) + ") is past the end of " +
                                file.string() + " (" + std::to_string(file_size) + " bytes)");
  }
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(destination), static_cast<std::streamsize>(length));
  if (!in) return DataLossError(tensor + ": reading " + file.string() + " failed");
  return Status::Ok();
}

}  // namespace unihal::onnx_import
