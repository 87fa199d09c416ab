// ONNX GraphProto -> ir::Graph: nodes (named uniquely, with their opset), attributes,
// initializers, inputs, outputs and value_info. Subgraphs are converted recursively and every
// graph is validated and topologically sorted.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::onnx_import {

struct ConversionContext {
  std::string external_data_dir;             // folder external data paths are relative to
  std::map<std::string, int> opset_imports;  // domain ("" = ai.onnx) -> version
  // Main-graph initializers whose raw_data was cut out of the proto (model_skeleton.h), by
  // their index in graph.initializer.
  std::unordered_map<int, std::string_view> detached_raw_data;
};

// Converts the main graph (outer_scope empty) or a subgraph, which may read the values in
// `outer_scope` (everything its enclosing graphs define).
Result<ir::Graph> ConvertGraph(const onnx::GraphProto& proto, const ConversionContext& context,
                               const std::set<std::string>& outer_scope = {}, int depth = 0);

// One value's type (tensor, sequence or optional; see ConvertTypeProto). Types unihal lacks
// (maps, string elements) give an unknown tensor: kUndefined with an unknown shape.
ir::ValueInfo ConvertValueInfo(const onnx::ValueInfoProto& proto);

}  // namespace unihal::onnx_import
