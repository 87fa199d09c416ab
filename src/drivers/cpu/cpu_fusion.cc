#include "drivers/cpu/cpu_fusion.h"

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "drivers/cpu/cpu_graph_match.h"
#include "drivers/cpu/dnnl/grouped_pointwise_conv.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {
namespace {

// Sets the activation attributes of `fused` from `node`; false when it is no fusable activation.
bool TakeActivation(const ir::Graph& graph, const ir::Node& node, ir::Node& fused) {
  float alpha = 0.f;
  float beta = 0.f;
  if (IsOnnx(node, "Relu") || IsOnnx(node, "Sigmoid") || IsOnnx(node, "Tanh")) {
    if (node.inputs.size() != 1) return false;
  } else if (IsOnnx(node, "LeakyRelu")) {
    Result<float> a = node.GetFloat("alpha", 0.01f);
    if (!a.ok()) return false;
    alpha = *a;
  } else if (IsOnnx(node, "Clip")) {
    float lo = std::numeric_limits<float>::lowest();
    float hi = std::numeric_limits<float>::max();
    if (node.opset < 11) {
      Result<float> min = node.GetFloat("min", lo);
      Result<float> max = node.GetFloat("max", hi);
      if (!min.ok() || !max.ok()) return false;
      lo = *min;
      hi = *max;
    } else {
      for (size_t i = 1; i < 3; ++i) {
        if (!node.has_input(i)) continue;
        std::optional<float> bound = ScalarConstant(graph, node, i);
        if (!bound) return false;
        (i == 1 ? lo : hi) = *bound;
      }
    }
    alpha = lo;
    beta = hi;
  } else {
    return false;
  }
  fused.attributes["activation"] = ir::Attribute(node.op_type);
  fused.attributes["activation_alpha"] = ir::Attribute(alpha);
  fused.attributes["activation_beta"] = ir::Attribute(beta);
  return true;
}

// oneDNN 2.6 runs grouped (not depthwise) convolutions as GEMMs, whose sum post-op is a scalar
// loop: 2.1 ms instead of 0.38 ms for ShuffleNet's 136-channel group-4 convs, far more than a
// separate Add costs. Their Add (and the activation after it) stay separate, except for the
// grouped 1x1 convolutions that grouped_pointwise_conv.h runs, which add the sum in cache.
bool SumFusesFast(const ir::Node& conv, const ir::Graph& graph) {
  Result<int64_t> group = conv.GetInt("group", 1);
  if (!group.ok() || *group == 1) return true;
  const Tensor* w = conv.inputs.size() > 1 ? graph.FindInitializer(conv.inputs[1]) : nullptr;
  if (w == nullptr || w->rank() < 3) return false;
  if (w->dim(1) == 1 && w->dim(0) == *group) return true;  // depthwise
  Result<WindowAttributes> window = ParseWindowAttributes(conv, false);
  if (!window.ok()) return false;
  const Shape kernel(w->shape().begin() + 2, w->shape().end());
  const std::vector<int64_t> ones(kernel.size(), 1), zeros(kernel.size(), 0);
  auto or_default = [](const std::vector<int64_t>& v, const std::vector<int64_t>& d) {
    return v.empty() ? d : v;
  };
  // A 1x1 window with stride 1 pads nothing under SAME_* either.
  const bool unpadded =
      window->pads.empty() || window->pads == std::vector<int64_t>(2 * kernel.size(), 0);
  return unpadded &&
         IsGroupedPointwise(*group, w->dim(1), kernel, or_default(window->strides, ones),
                            or_default(window->dilations, ones), zeros, zeros);
}

}  // namespace

Status FuseConvPostOps(ir::Graph& graph, const FusionCheck& can_run) {
  // Values a subgraph captures from here are not counted: leave such graphs as they are.
  if (HasSubgraphs(graph)) return Status::Ok();
  const ReaderMap readers = Readers(graph);
  std::vector<bool> absorbed(graph.nodes.size(), false);
  std::map<size_t, ir::Node> replacements;  // by the position of the chain's last node
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& conv = graph.nodes[n];
    if (!IsOnnx(conv, "Conv") || absorbed[n]) continue;
    ir::Node fused = conv;
    fused.op_type = kFusedConvOp;
    fused.domain = kCpuFusionDomain;
    fused.inputs.resize(4);
    std::vector<size_t> chain{n};
    std::string value = conv.outputs[0];
    int next = SoleReader(readers, value);
    // Sum of two inputs is Add without broadcasting (older models write it so).
    if (next >= 0 && !absorbed[next] && SumFusesFast(conv, graph) &&
        (IsOnnx(graph.nodes[next], "Add") || IsOnnx(graph.nodes[next], "Sum")) &&
        graph.nodes[next].inputs.size() == 2) {
      const ir::Node& add = graph.nodes[next];
      const std::string& other = add.inputs[0] == value ? add.inputs[1] : add.inputs[0];
      if (other != value && SameShape(graph, value, other) &&
          SameShape(graph, value, add.outputs[0])) {
        fused.inputs[3] = other;
        chain.push_back(static_cast<size_t>(next));
        value = add.outputs[0];
        next = SoleReader(readers, value);
      }
    }
    if (next >= 0 && !absorbed[next] && TakeActivation(graph, graph.nodes[next], fused)) {
      chain.push_back(static_cast<size_t>(next));
      value = graph.nodes[next].outputs[0];
    }
    if (chain.size() == 1) continue;
    fused.outputs = {value};
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    if (!can_run(fused, graph)) continue;
    for (size_t i : chain) absorbed[i] = true;
    replacements.emplace(chain.back(), std::move(fused));
  }
  ApplyReplacements(graph, absorbed, std::move(replacements));
  return Status::Ok();
}

}  // namespace unihal::cpu
