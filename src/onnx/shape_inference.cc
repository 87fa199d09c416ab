#include "onnx/shape_inference.h"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <exception>

namespace unihal::onnx_import {
namespace {

// Initializers above this size are copied without their data: inference only reads the values
// of small ones (shapes for Reshape, axes, ...), and copying weights would double load time.
constexpr int64_t kMaxInitializerElementsToCopy = 4096;

int64_t ElementCount(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > kMaxInitializerElementsToCopy)) return -1;
    n *= d;
  }
  return n;
}

// A copy of `model` for inference, without the data of large initializers.
onnx::ModelProto LightCopy(onnx::ModelProto& model) {
  google::protobuf::RepeatedPtrField<onnx::TensorProto> initializers;
  initializers.Swap(model.mutable_graph()->mutable_initializer());
  onnx::ModelProto copy(model);
  initializers.Swap(model.mutable_graph()->mutable_initializer());
  for (const onnx::TensorProto& init : model.graph().initializer()) {
    onnx::TensorProto* target = copy.mutable_graph()->add_initializer();
    const int64_t n = ElementCount(init);
    if (n >= 0 && n <= kMaxInitializerElementsToCopy &&
        init.data_location() != onnx::TensorProto::EXTERNAL) {
      *target = init;
      continue;
    }
    target->set_name(init.name());
    target->set_data_type(init.data_type());
    *target->mutable_dims() = init.dims();
  }
  // Before IR 4, libonnx takes initializer types only from the graph inputs that list them. An
  // IR-3 model whose weights are initializers alone (ONNX Runtime runs those) would get no
  // shape past its first weighted node, and every later node the reference kernels (SqueezeNet
  // ran 17x slower). From IR 4 on, initializers are typed by themselves.
  if (copy.ir_version() < 4) copy.set_ir_version(4);
  return copy;
}

// Why libonnx cannot infer this model, or "" when it can try.
std::string UnknownOpsetReason(const onnx::ModelProto& model) {
  const auto& known = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& import : model.opset_import()) {
    const std::string domain = import.domain() == "ai.onnx" ? "" : import.domain();
    auto it = known.find(domain);
    if (it != known.end() && import.version() > it->second.second) {
      return "libonnx knows " + (domain.empty() ? std::string("ai.onnx") : domain) +
             " opsets up to " + std::to_string(it->second.second) + ", the model uses " +
             std::to_string(import.version());
    }
  }
  return "";
}

}  // namespace

std::string InferShapesInPlace(onnx::ModelProto& model) {
  if (!model.has_graph()) return "no graph";
  if (std::string reason = UnknownOpsetReason(model); !reason.empty()) return reason;
  try {
    onnx::ModelProto inferred = LightCopy(model);
    onnx::ShapeInferenceOptions options(/*check_type_val=*/false, /*strict_mode_val=*/0,
                                        /*data_prop_val=*/true);
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(), options);
    onnx::GraphProto& graph = *model.mutable_graph();
    graph.mutable_value_info()->Swap(inferred.mutable_graph()->mutable_value_info());
    // Keep declared output types; fill only what the model left out.
    for (int i = 0; i < graph.output_size() && i < inferred.graph().output_size(); ++i) {
      onnx::ValueInfoProto& declared = *graph.mutable_output(i);
      const onnx::ValueInfoProto& found = inferred.graph().output(i);
      const onnx::TypeProto& type = declared.type();
      const bool has_type =
          type.has_tensor_type()
              ? type.tensor_type().elem_type() != 0 && type.tensor_type().has_shape()
              : type.value_case() != onnx::TypeProto::VALUE_NOT_SET;
      if (!has_type && found.name() == declared.name()) *declared.mutable_type() = found.type();
    }
    return "";
  } catch (const std::exception& e) {
    return std::string("libonnx shape inference failed: ") + e.what();
  } catch (...) {
    return "libonnx shape inference failed";
  }
}

}  // namespace unihal::onnx_import
