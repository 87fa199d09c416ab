#include "onnx/onnx_loader.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/defs/schema.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_map>

#include "onnx/graph_converter.h"
#include "onnx/mapped_file.h"
#include "onnx/model_skeleton.h"
#include "onnx/shape_inference.h"
#include "onnx/tensor_proto.h"
#include "onnx/value_proto.h"

namespace unihal::onnx_import {
namespace {

namespace fs = std::filesystem;

constexpr int kMinAiOnnxOpset = 7;
// ONNX 1.22's newest opset; each kernel handles the op versions up to it (node.opset).
constexpr int kMaxAiOnnxOpset = 27;
// Domains whose ops a unihal driver may implement; any other domain is a custom op library.
const std::set<std::string>& KnownDomains() {
  static const std::set<std::string> domains = {"", "ai.onnx.ml", "ai.onnx.preview",
                                                "ai.onnx.preview.training", "com.microsoft"};
  return domains;
}

const char kCorrupt[] =
    " is not a valid ONNX model (truncated or corrupt protobuf); re-export or re-download it";

// Protobuf's default 64 MB message limit is too small for real models; 2 GB is its hard limit
// (bigger models keep their weights in external data files).
template <typename Message>
bool ParseLarge(std::string_view bytes, Message& message) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return false;
  google::protobuf::io::ArrayInputStream stream(bytes.data(), static_cast<int>(bytes.size()));
  google::protobuf::io::CodedInputStream coded(&stream);
  coded.SetTotalBytesLimit(INT_MAX);
  return message.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::error_code error;
  if (!fs::exists(path, error)) {
    return NotFoundError(std::string(what) + " '" + path + "' does not exist; check the path");
  }
  if (fs::is_directory(path, error)) {
    return InvalidArgumentError(std::string(what) + " '" + path +
                                "' is a directory; give the .onnx file inside it");
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return NotFoundError("cannot open " + std::string(what) + " '" + path +
                         "': " + std::strerror(errno));
  }
  const std::streamoff size = in.tellg();
  if (size > static_cast<std::streamoff>(INT_MAX)) {
    return InvalidArgumentError(std::string(what) + " '" + path +
                                "' is larger than 2 GB, protobuf's limit; save the model with "
                                "its weights as external data");
  }
  std::string bytes(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  if (!in) return DataLossError("reading " + std::string(what) + " '" + path + "' failed");
  return bytes;
}

// Domain -> version, with "ai.onnx" spelled "". Checks versions unihal can run.
Result<std::map<std::string, int>> ConvertOpsetImports(const onnx::ModelProto& proto) {
  std::map<std::string, int> imports;
  for (const auto& import : proto.opset_import()) {
    const std::string domain = import.domain() == "ai.onnx" ? "" : import.domain();
    const std::string shown = domain.empty() ? "ai.onnx" : domain;
    if (import.version() < 1 || import.version() > INT_MAX) {
      return InvalidArgumentError("the model imports " + shown + " opset " +
                                  std::to_string(import.version()) + ", which is not valid");
    }
    const int version = static_cast<int>(import.version());
    if (domain.empty() && version > kMaxAiOnnxOpset) {
      return UnimplementedError(
          "the model uses ai.onnx opset " + std::to_string(version) + "; opset " +
          std::to_string(version) + " is newer than unihal supports (max " +
          std::to_string(kMaxAiOnnxOpset) + "); convert it with onnx.version_converter");
    }
    auto [it, inserted] = imports.emplace(domain, version);
    if (!inserted && it->second != version) {
      return InvalidArgumentError("the model imports " + shown + " twice, as opsets " +
                                  std::to_string(it->second) + " and " + std::to_string(version));
    }
  }
  return imports;
}

// Models older than opset 7 load when each of their ai.onnx ops is still the version opset 7
// has (e.g. Not-1): those run exactly as at opset 7. Any op that changed since is refused.
Status CheckOpsOlderThanOpset7(const onnx::GraphProto& graph, int opset) {
  const auto* registry = onnx::OpSchemaRegistry::Instance();
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if (!node.domain().empty() && node.domain() != "ai.onnx") continue;
    const onnx::OpSchema* old_schema = registry->GetSchema(node.op_type(), opset, "");
    const onnx::OpSchema* schema_at_7 = registry->GetSchema(node.op_type(), kMinAiOnnxOpset, "");
    if (!old_schema || !schema_at_7 ||
        old_schema->since_version() != schema_at_7->since_version()) {
      return UnimplementedError(
          "the model uses ai.onnx opset " + std::to_string(opset) + ", and its node '" +
          node.name() + "' (" + node.op_type() +
          ") changed between that opset and opset 7, the oldest unihal supports; convert the "
          "model with onnx.version_converter");
    }
    for (const auto& attr : node.attribute()) {
      if (attr.has_g()) UH_RETURN_IF_ERROR(CheckOpsOlderThanOpset7(attr.g(), opset));
      for (const auto& g : attr.graphs()) UH_RETURN_IF_ERROR(CheckOpsOlderThanOpset7(g, opset));
    }
  }
  return Status::Ok();
}

// Nodes of domains no unihal driver implements, or calls to model-local functions.
Status CheckNodeDomains(const onnx::GraphProto& graph, const onnx::ModelProto& model) {
  std::set<std::pair<std::string, std::string>> functions;
  for (const auto& f : model.functions()) functions.emplace(f.domain(), f.name());
  for (int i = 0; i < graph.node_size(); ++i) {
    const onnx::NodeProto& node = graph.node(i);
    const std::string domain = node.domain() == "ai.onnx" ? "" : node.domain();
    const std::string name =
        node.name().empty() ? node.op_type() + "_" + std::to_string(i) : node.name();
    const std::string where = "node '" + name + "' (" + node.op_type() + ")";
    if (functions.count({node.domain(), node.op_type()})) {
      return UnimplementedError(where + " calls the model-local function '" + node.domain() + "." +
                                node.op_type() +
                                "'; unihal does not inline model-local functions, inline it "
                                "with onnx.inliner first");
    }
    if (!KnownDomains().count(domain)) {
      return UnimplementedError(where + " is in domain '" + domain +
                                "', which unihal does not know (known: ai.onnx, ai.onnx.ml, "
                                "ai.onnx.preview, ai.onnx.preview.training, com.microsoft)");
    }
    for (const auto& attr : node.attribute()) {
      if (attr.has_g()) UH_RETURN_IF_ERROR(CheckNodeDomains(attr.g(), model));
      for (const auto& g : attr.graphs()) UH_RETURN_IF_ERROR(CheckNodeDomains(g, model));
    }
  }
  return Status::Ok();
}

Result<ir::Model> ConvertModel(onnx::ModelProto& proto, const std::string& base_dir,
                               std::unordered_map<int, std::string_view> detached_raw_data) {
  if (!proto.has_graph()) {
    return InvalidArgumentError(
        "the model has no graph; it is not a valid ONNX model (truncated or corrupt protobuf?)");
  }
  ConversionContext context;
  context.external_data_dir = base_dir;
  context.detached_raw_data = std::move(detached_raw_data);
  UH_ASSIGN_OR_RETURN(context.opset_imports, ConvertOpsetImports(proto));
  UH_RETURN_IF_ERROR(CheckNodeDomains(proto.graph(), proto));
  if (auto ai_onnx = context.opset_imports.find("");
      ai_onnx != context.opset_imports.end() && ai_onnx->second < kMinAiOnnxOpset) {
    UH_RETURN_IF_ERROR(CheckOpsOlderThanOpset7(proto.graph(), ai_onnx->second));
  }
  InferShapesInPlace(proto);  // best effort: without it, shapes are found at run time

  ir::Model model;
  model.ir_version = proto.ir_version();
  model.producer_name = proto.producer_name();
  model.producer_version = proto.producer_version();
  UH_ASSIGN_OR_RETURN(model.graph, ConvertGraph(proto.graph(), context));
  return model;
}

// Initializer raw_data of this size or more is cut out before protobuf parses the model, so it
// is not copied into a string (model_skeleton.h). Smaller values stay in the proto, where
// shape inference reads them (it reads initializers of up to 4096 elements).
constexpr size_t kMinDetachedRawDataBytes = 64 * 1024;

Result<ir::Model> LoadParsed(std::string_view bytes, const std::string& base_dir,
                             const std::string& what) {
  onnx::ModelProto proto;
  std::unordered_map<int, std::string_view> detached;
  if (std::optional<ModelSkeleton> skeleton = SplitLargeRawData(bytes, kMinDetachedRawDataBytes)) {
    if (!ParseLarge(skeleton->bytes, proto)) return InvalidArgumentError(what + kCorrupt);
    detached = std::move(skeleton->raw_data);
  } else if (!ParseLarge(bytes, proto)) {
    return InvalidArgumentError(what + kCorrupt);
  }
  if (proto.ir_version() == 0 && proto.opset_import_size() == 0 && !proto.has_graph()) {
    return InvalidArgumentError(what + kCorrupt);  // parsed, but nothing of a model in it
  }
  Result<ir::Model> model = ConvertModel(proto, base_dir, std::move(detached));
  if (!model.ok()) return model.status().WithContext(what);
  return model;
}

// libonnx and protobuf may throw (std::bad_alloc on hostile sizes, onnx's own exceptions);
// nothing crosses this boundary.
template <typename Fn>
auto CatchAll(const std::string& what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError(what + ": out of memory while loading");
  } catch (const std::exception& e) {
    return InternalError(what + ": unexpected error while loading: " + e.what());
  } catch (...) {
    return InternalError(what + ": unexpected error while loading");
  }
}

}  // namespace

Result<ir::Model> LoadModelFromFile(const std::string& path) {
  const std::string what = "model '" + path + "'";
  return CatchAll(what, [&]() -> Result<ir::Model> {
    // Mapped, not read: protobuf parses the small skeleton and each weight is copied once.
    UH_ASSIGN_OR_RETURN(std::unique_ptr<const MappedFile> file,
                        MappedFile::Open(path, "model file"));
    const std::string folder = fs::path(path).parent_path().string();
    // The weights are copied out of the mapping rather than wrapped in place: Conv+BatchNorm
    // folding rewrites most of them in place, which in a private mapping copies each 4 KiB
    // page on its first write, slower than one copy into huge-page memory (measured on
    // ResNet-50). The mapping is gone once loading ends: a file changed later cannot fault
    // a run.
    UH_ASSIGN_OR_RETURN(ir::Model model,
                        LoadParsed(file->bytes(), folder.empty() ? "." : folder, what));
    model.path = path;
    return model;
  });
}

Result<ir::Model> LoadModelFromBytes(std::string_view bytes, const std::string& base_dir) {
  return CatchAll("model bytes", [&]() -> Result<ir::Model> {
    return LoadParsed(bytes, base_dir, "the model bytes");
  });
}

Result<Tensor> LoadTensorProtoFile(const std::string& path) {
  const std::string what = "tensor file '" + path + "'";
  return CatchAll(what, [&]() -> Result<Tensor> {
    UH_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, "tensor file"));
    onnx::TensorProto proto;
    if (!ParseLarge(bytes, proto)) {
      return InvalidArgumentError(what + " is not a valid ONNX TensorProto (truncated or corrupt)");
    }
    const std::string folder = fs::path(path).parent_path().string();
    Result<Tensor> tensor = TensorFromProto(proto, folder.empty() ? "." : folder);
    if (!tensor.ok()) return tensor.status().WithContext(what);
    return tensor;
  });
}

Result<Value> LoadValueProtoFile(const std::string& path, const ir::ValueInfo& type) {
  if (type.is_tensor()) {
    UH_ASSIGN_OR_RETURN(Tensor tensor, LoadTensorProtoFile(path));
    return Value(std::move(tensor));
  }
  const std::string what = "value file '" + path + "'";
  return CatchAll(what, [&]() -> Result<Value> {
    UH_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, "value file"));
    const std::string folder = fs::path(path).parent_path().string();
    const std::string base_dir = folder.empty() ? "." : folder;
    Result<Value> value = InvalidArgumentError("");
    if (type.kind == ir::TypeKind::kSequence) {
      onnx::SequenceProto proto;
      if (!ParseLarge(bytes, proto)) {
        return InvalidArgumentError(what + " is not a valid ONNX SequenceProto");
      }
      value = ValueFromSequenceProto(proto, type.dtype, base_dir);
    } else {
      onnx::OptionalProto proto;
      if (!ParseLarge(bytes, proto)) {
        return InvalidArgumentError(what + " is not a valid ONNX OptionalProto");
      }
      value = ValueFromOptionalProto(proto, type.dtype, base_dir);
    }
    if (!value.ok()) return value.status().WithContext(what);
    return value;
  });
}

}  // namespace unihal::onnx_import
