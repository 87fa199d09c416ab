// Test helper (header-only, used by tests only): builds ONNX ModelProtos in C++ with the
// protobuf API, as an exporter would write them.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "onnx/tensor_proto.h"
#include "unihal/tensor.h"

namespace unihal::onnx_import::testing {

inline onnx::ModelProto NewModel(int64_t opset = 17, int64_t ir_version = 8) {
  onnx::ModelProto model;
  model.set_ir_version(ir_version);
  model.set_producer_name("unihal-test");
  auto* import = model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  model.mutable_graph()->set_name("test_graph");
  return model;
}

// dims: >= 0 static, -1 unknown; symbols[i] (when given and non-empty) names dim i.
inline void SetTensorType(onnx::ValueInfoProto* info, int32_t elem_type,
                          const std::vector<int64_t>& dims,
                          const std::vector<std::string>& symbols = {}) {
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(elem_type);
  auto* shape = tensor_type->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* dim = shape->add_dim();
    if (i < symbols.size() && !symbols[i].empty()) {
      dim->set_dim_param(symbols[i]);
    } else if (dims[i] >= 0) {
      dim->set_dim_value(dims[i]);
    }
  }
}

inline void AddInput(onnx::GraphProto* graph, const std::string& name, int32_t elem_type,
                     const std::vector<int64_t>& dims,
                     const std::vector<std::string>& symbols = {}) {
  auto* info = graph->add_input();
  info->set_name(name);
  SetTensorType(info, elem_type, dims, symbols);
}

inline void AddOutput(onnx::GraphProto* graph, const std::string& name, int32_t elem_type,
                      const std::vector<int64_t>& dims,
                      const std::vector<std::string>& symbols = {}) {
  auto* info = graph->add_output();
  info->set_name(name);
  SetTensorType(info, elem_type, dims, symbols);
}

// An output that declares no type (inference fills it in).
inline void AddUntypedOutput(onnx::GraphProto* graph, const std::string& name) {
  graph->add_output()->set_name(name);
}

inline onnx::NodeProto* AddNode(onnx::GraphProto* graph, const std::string& op_type,
                                const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs,
                                const std::string& name = "") {
  auto* node = graph->add_node();
  node->set_op_type(op_type);
  node->set_name(name);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& out : outputs) node->add_output(out);
  return node;
}

inline void AddInitializer(onnx::GraphProto* graph, const std::string& name, const Tensor& value) {
  *graph->add_initializer() = *TensorToProto(value, name);
}

inline onnx::AttributeProto* AddAttr(onnx::NodeProto* node, const std::string& name,
                                     onnx::AttributeProto::AttributeType type) {
  auto* attr = node->add_attribute();
  attr->set_name(name);
  attr->set_type(type);
  return attr;
}

inline void SetIntAttr(onnx::NodeProto* node, const std::string& name, int64_t v) {
  AddAttr(node, name, onnx::AttributeProto::INT)->set_i(v);
}

inline void SetIntsAttr(onnx::NodeProto* node, const std::string& name,
                        const std::vector<int64_t>& v) {
  auto* attr = AddAttr(node, name, onnx::AttributeProto::INTS);
  for (int64_t x : v) attr->add_ints(x);
}

inline void SetTensorAttr(onnx::NodeProto* node, const std::string& name, const Tensor& v) {
  *AddAttr(node, name, onnx::AttributeProto::TENSOR)->mutable_t() = *TensorToProto(v, "");
}

inline std::string Serialize(const onnx::ModelProto& model) {
  std::string bytes;
  model.SerializeToString(&bytes);
  return bytes;
}

}  // namespace unihal::onnx_import::testing
