#include "io/npy.h"

#include <bit>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

namespace unihal::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              ".npy I/O copies bytes as they are and so assumes a little-endian host");

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kPreambleV1 = 10;  // magic, 2 version bytes, 2-byte header length
constexpr size_t kPreambleV2 = 12;  // magic, 2 version bytes, 4-byte header length
constexpr size_t kHeaderAlignment = 64;
constexpr std::string_view kSupported =
    "bool, int8, uint8, int16, uint16, int32, uint32, int64, uint64, float16, float32, float64";

// 'name', built by appending: GCC 12 warns falsely (-Wrestrict) on "'" + std::string(...).
std::string Quoted(std::string_view text) {
  std::string quoted;
  quoted.reserve(text.size() + 2);
  quoted.push_back('\'');
  quoted.append(text);
  quoted.push_back('\'');
  return quoted;
}

struct DescrEntry {
  std::string_view kind_and_size;  // "f4"
  DType dtype;
};
constexpr DescrEntry kDescrTable[] = {
    {"b1", DType::kBool}, {"i1", DType::kI8},  {"u1", DType::kU8},  {"i2", DType::kI16},
    {"u2", DType::kU16},  {"i4", DType::kI32}, {"u4", DType::kU32}, {"i8", DType::kI64},
    {"u8", DType::kU64},  {"f2", DType::kF16}, {"f4", DType::kF32}, {"f8", DType::kF64},
};

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// Reads the Python dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view source) : text_(text), source_(source) {}

  Result<NpyHeader> Parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    if (!Consume('{')) return Error("expected '{'");
    while (!Consume('}')) {
      UH_ASSIGN_OR_RETURN(std::string key, ParseString());
      if (!Consume(':')) return Error("expected ':' after '" + key + "'");
      if (key == "descr") {
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == '[') {
          return InvalidArgumentError(Quoted(source_) +
                                      " holds a structured (record) array, which unihal does "
                                      "not read; save each field as its own array");
        }
        UH_ASSIGN_OR_RETURN(header.descr, ParseString());
        has_descr = true;
      } else if (key == "fortran_order") {
        UH_ASSIGN_OR_RETURN(header.fortran_order, ParseBool());
        has_order = true;
      } else if (key == "shape") {
        UH_ASSIGN_OR_RETURN(header.shape, ParseShape());
        has_shape = true;
      } else {
        return Error("unexpected key '" + key + "'");
      }
      if (!Consume(',')) {
        if (!Consume('}')) return Error("expected ',' or '}'");
        break;
      }
    }
    if (!has_descr || !has_order || !has_shape) {
      return InvalidArgumentError(Quoted(source_) + " has a malformed .npy header (\"" +
                                  std::string(text_) + "\"): it needs the keys 'descr', " +
                                  "'fortran_order' and 'shape'; rewrite it with numpy.save");
    }
    return header;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  Result<std::string> ParseString() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string");
    }
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return Error("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }
  Result<bool> ParseBool() {
    SkipSpace();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::string_view w(word);
      if (text_.substr(pos_, w.size()) == w) {
        pos_ += w.size();
        return value;
      }
    }
    return Error("expected True or False");
  }
  Result<Shape> ParseShape() {
    if (!Consume('(')) return Error("expected '(' to start the shape");
    Shape shape;
    while (!Consume(')')) {
      SkipSpace();
      int64_t dim = 0;
      size_t digits = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        const int digit = text_[pos_++] - '0';
        if (dim > (std::numeric_limits<int64_t>::max() - digit) / 10) {
          return Error("a dimension is too large");
        }
        dim = dim * 10 + digit;
        ++digits;
      }
      if (digits == 0) return Error("expected a non-negative integer dimension");
      Consume('L');  // Python 2 longs
      shape.push_back(dim);
      if (!Consume(',')) {
        if (!Consume(')')) return Error("expected ',' or ')' in the shape");
        break;
      }
    }
    return shape;
  }
  Status Error(const std::string& what) const {
    return InvalidArgumentError(Quoted(source_) + " has a malformed .npy header (" + what +
                                " at offset " + std::to_string(pos_) + " of \"" +
                                std::string(text_) + "\"); rewrite it with numpy.save");
  }

  std::string_view text_;
  std::string_view source_;
  size_t pos_ = 0;
};

Result<DType> DTypeFromDescr(const std::string& descr, std::string_view source) {
  const std::string where = Quoted(source);
  if (descr.size() == 3 || descr.size() == 2) {
    const char order = descr.size() == 3 ? descr[0] : '=';
    const std::string_view kind_and_size = std::string_view(descr).substr(descr.size() - 2);
    for (const DescrEntry& entry : kDescrTable) {
      if (entry.kind_and_size != kind_and_size) continue;
      const bool one_byte = DTypeSize(entry.dtype) == 1;
      if (order == '>' && !one_byte) {
        return InvalidArgumentError(where + " holds big-endian data ('" + descr +
                                    "'), which unihal does not read; convert it with "
                                    "arr.astype(arr.dtype.newbyteorder('<'))");
      }
      if (order == '<' || order == '=' || order == '|' || (order == '>' && one_byte)) {
        return entry.dtype;
      }
    }
  }
  if (descr == "?") return DType::kBool;
  return InvalidArgumentError(where + " has dtype '" + descr +
                              "', which unihal does not support; it reads " +
                              std::string(kSupported));
}

Result<std::string> DescrFromDType(DType dtype) {
  for (const DescrEntry& entry : kDescrTable) {
    if (entry.dtype != dtype) continue;
    return std::string(DTypeSize(dtype) == 1 ? "|" : "<") + std::string(entry.kind_and_size);
  }
  return InvalidArgumentError("a " + std::string(DTypeName(dtype)) +
                              " tensor cannot be saved as .npy: NumPy has no such dtype; "
                              "convert it to one of " +
                              std::string(kSupported) + " first");
}

uint32_t ReadLittleEndian(std::string_view bytes, size_t offset, size_t width) {
  uint32_t value = 0;
  for (size_t i = 0; i < width; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

void AppendLittleEndian(std::string& out, uint32_t value, size_t width) {
  for (size_t i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::string ShapeTuple(const Shape& shape) {
  std::string tuple = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) tuple += ", ";
    tuple += std::to_string(shape[i]);
  }
  return tuple + (shape.size() == 1 ? ",)" : ")");
}

// Element count of `shape` when its data fits in memory at all; nullopt on overflow.
std::optional<int64_t> CheckedByteCount(const Shape& shape, size_t element_size) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim != 0 && count > std::numeric_limits<int64_t>::max() / dim) return std::nullopt;
    count *= dim;
  }
  const auto size = static_cast<int64_t>(element_size);
  if (count > std::numeric_limits<int64_t>::max() / size) return std::nullopt;
  return count * size;
}

}  // namespace

Result<Tensor> ParseNpy(std::string_view bytes, std::string_view source) {
  const std::string where = Quoted(source);
  if (bytes.size() < kPreambleV1 || bytes.substr(0, kMagic.size()) != kMagic) {
    return InvalidArgumentError(where +
                                " is not a .npy file (it does not start with "
                                "\\x93NUMPY); save arrays with numpy.save");
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  const int minor = static_cast<unsigned char>(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    return InvalidArgumentError(where + " uses .npy format version " + std::to_string(major) + "." +
                                std::to_string(minor) +
                                ", which unihal does not read (it reads 1.0, 2.0 and 3.0)");
  }
  const size_t preamble = major == 1 ? kPreambleV1 : kPreambleV2;
  if (bytes.size() < preamble) return InvalidArgumentError(where + " is truncated in its header");
  const size_t header_len = ReadLittleEndian(bytes, 8, preamble - 8);
  if (bytes.size() < preamble + header_len) {
    return InvalidArgumentError(where + " is truncated: its header declares " +
                                std::to_string(header_len) + " bytes but the file ends first");
  }
  UH_ASSIGN_OR_RETURN(NpyHeader header,
                      HeaderParser(bytes.substr(preamble, header_len), source).Parse());
  UH_ASSIGN_OR_RETURN(DType dtype, DTypeFromDescr(header.descr, source));
  if (header.fortran_order && header.shape.size() > 1) {
    return InvalidArgumentError(where +
                                " is in Fortran (column-major) order, which unihal "
                                "does not read; save np.ascontiguousarray(arr) instead");
  }
  const std::string described = std::string(DTypeName(dtype)) + ShapeToString(header.shape);
  const std::optional<int64_t> data_bytes = CheckedByteCount(header.shape, DTypeSize(dtype));
  if (!data_bytes) {
    return InvalidArgumentError(where + " declares " + described + ", which is too large");
  }
  const std::string_view data = bytes.substr(preamble + header_len);
  if (static_cast<int64_t>(data.size()) != *data_bytes) {
    return InvalidArgumentError(
        where +
        (static_cast<int64_t>(data.size()) < *data_bytes ? " is truncated" : " is corrupt") +
        ": its header declares " + described + " (" + std::to_string(*data_bytes) +
        " bytes of data) but " + std::to_string(data.size()) + " bytes follow the header");
  }
  UH_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(dtype, header.shape));
  if (dtype == DType::kBool) {
    auto* out = tensor.data_as<bool>();
    for (size_t i = 0; i < data.size(); ++i) out[i] = data[i] != 0;
  } else if (!data.empty()) {
    std::memcpy(tensor.data(), data.data(), data.size());
  }
  return tensor;
}

Result<Tensor> ReadNpyFile(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return NotFoundError("file '" + path + "' does not exist; check the path");
  }
  if (std::filesystem::is_directory(path, error)) {
    return InvalidArgumentError("'" + path + "' is a directory, not a .npy file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open '" + path + "' for reading; check its permissions");
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return DataLossError("reading '" + path + "' failed");
  return ParseNpy(contents.str(), path);
}

Result<std::string> SerializeNpy(const Tensor& tensor) {
  UH_ASSIGN_OR_RETURN(std::string descr, DescrFromDType(tensor.dtype()));
  if (tensor.nbytes() > 0 && tensor.data() == nullptr) {
    return InvalidArgumentError("a " + tensor.Describe() +
                                " tensor is not in host memory; copy it to the host first");
  }
  std::string dict = "{'descr': '" + descr +
                     "', 'fortran_order': False, 'shape': " + ShapeTuple(tensor.shape()) + ", }";
  // numpy pads with spaces so that the data starts on a 64-byte boundary, then ends with '\n'.
  int major = 1;
  size_t preamble = kPreambleV1;
  auto padded_length = [&] {
    const size_t unpadded = preamble + dict.size() + 1;
    return dict.size() + 1 + (kHeaderAlignment - unpadded % kHeaderAlignment) % kHeaderAlignment;
  };
  if (padded_length() > std::numeric_limits<uint16_t>::max()) {
    major = 2;
    preamble = kPreambleV2;
  }
  const size_t header_len = padded_length();
  std::string out(kMagic);
  out.push_back(static_cast<char>(major));
  out.push_back(0);
  AppendLittleEndian(out, static_cast<uint32_t>(header_len), preamble - 8);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out.push_back('\n');
  if (tensor.nbytes() > 0) out.append(static_cast<const char*>(tensor.data()), tensor.nbytes());
  return out;
}

Status WriteNpyFile(const std::string& path, const Tensor& tensor) {
  UH_ASSIGN_OR_RETURN(std::string bytes, SerializeNpy(tensor));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return InvalidArgumentError("cannot open '" + path +
                                "' for writing; check that its folder exists and is writable");
  }
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return DataLossError("writing '" + path + "' failed (disk full?)");
  return Status::Ok();
}

}  // namespace unihal::io
