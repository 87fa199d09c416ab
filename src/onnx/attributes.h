// ONNX AttributeProto -> ir::Attribute, for every attribute type unihal represents.
#pragma once

#include <onnx/onnx_pb.h>

#include <functional>
#include <memory>
#include <string>

#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::onnx_import {

// Converts a subgraph (the body of If, Loop, Scan) in the scope of the node that owns it.
using SubgraphConverter =
    std::function<Result<std::shared_ptr<const ir::Graph>>(const onnx::GraphProto&)>;

// `node` is the converted node so far (for messages); tensors with external data are read
// relative to `external_data_dir`.
Result<ir::Attribute> ConvertAttribute(const onnx::AttributeProto& proto, const ir::Node& node,
                                       const std::string& external_data_dir,
                                       const SubgraphConverter& convert_subgraph);

}  // namespace unihal::onnx_import
