#include "onnx/attributes.h"

#include "onnx/tensor_proto.h"
#include "onnx/value_types.h"

namespace unihal::onnx_import {
namespace {

using AP = onnx::AttributeProto;

// Writers before IR version 2 left `type` unset; the populated field tells the type then.
AP::AttributeType EffectiveType(const AP& proto) {
  if (proto.type() != AP::UNDEFINED) return proto.type();
  if (proto.has_f()) return AP::FLOAT;
  if (proto.has_i()) return AP::INT;
  if (proto.has_s()) return AP::STRING;
  if (proto.has_t()) return AP::TENSOR;
  if (proto.has_g()) return AP::GRAPH;
  if (proto.floats_size()) return AP::FLOATS;
  if (proto.ints_size()) return AP::INTS;
  if (proto.strings_size()) return AP::STRINGS;
  if (proto.tensors_size()) return AP::TENSORS;
  if (proto.graphs_size()) return AP::GRAPHS;
  if (proto.has_tp()) return AP::TYPE_PROTO;
  return AP::UNDEFINED;
}

}  // namespace

Result<ir::Attribute> ConvertAttribute(const AP& proto, const ir::Node& node,
                                       const std::string& external_data_dir,
                                       const SubgraphConverter& convert_subgraph) {
  const std::string where = node.Describe() + ", attribute '" + proto.name() + "'";
  if (!proto.ref_attr_name().empty()) {
    return UnimplementedError(where + " refers to function attribute '" + proto.ref_attr_name() +
                              "'; attribute references are only valid inside a function body");
  }
  switch (EffectiveType(proto)) {
    case AP::INT:
      return ir::Attribute(static_cast<int64_t>(proto.i()));
    case AP::FLOAT:
      return ir::Attribute(proto.f());
    case AP::STRING:
      return ir::Attribute(proto.s());
    case AP::INTS:
      return ir::Attribute(std::vector<int64_t>(proto.ints().begin(), proto.ints().end()));
    case AP::FLOATS:
      return ir::Attribute(std::vector<float>(proto.floats().begin(), proto.floats().end()));
    case AP::STRINGS:
      return ir::Attribute(
          std::vector<std::string>(proto.strings().begin(), proto.strings().end()));
    case AP::TENSOR: {
      Result<Tensor> tensor = TensorFromProto(proto.t(), external_data_dir);
      if (!tensor.ok()) return tensor.status().WithContext(where);
      return ir::Attribute(*std::move(tensor));
    }
    case AP::TENSORS: {
      std::vector<Tensor> tensors;
      for (const auto& t : proto.tensors()) {
        Result<Tensor> tensor = TensorFromProto(t, external_data_dir);
        if (!tensor.ok()) return tensor.status().WithContext(where);
        tensors.push_back(*std::move(tensor));
      }
      return ir::Attribute(std::move(tensors));
    }
    case AP::GRAPH: {
      Result<std::shared_ptr<const ir::Graph>> graph = convert_subgraph(proto.g());
      if (!graph.ok()) return graph.status().WithContext(where);
      return ir::Attribute(*std::move(graph));
    }
    case AP::TYPE_PROTO: {
      // A value type (Optional's `type`): unihal keeps what it can carry.
      Result<ir::ValueInfo> type = ConvertTypeProto(proto.tp());
      if (!type.ok()) {
        return Status(type.status().code(), where + " " + type.status().message());
      }
      return ir::Attribute(*std::move(type));
    }
    case AP::GRAPHS:
    case AP::SPARSE_TENSOR:
    case AP::SPARSE_TENSORS:
    case AP::TYPE_PROTOS:
      return UnimplementedError(where + " has type " + AP::AttributeType_Name(proto.type()) +
                                ", which unihal does not support");
    case AP::UNDEFINED:
      break;
  }
  return InvalidArgumentError(where +
                              " has no value (its type is undefined and no field is "
                              "set); fix the model");
}

}  // namespace unihal::onnx_import
