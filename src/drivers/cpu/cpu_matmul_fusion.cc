#include "drivers/cpu/cpu_matmul_fusion.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "drivers/cpu/cpu_graph_match.h"

namespace unihal::cpu {
namespace {

bool Near(std::optional<float> value, double expected) {
  return value && std::abs(*value - expected) <= 1e-6 * std::abs(expected);
}

// Input i of `node` is a constant near `expected` and the other input is `value`.
bool TakesValueAndConstant(const ir::Graph& graph, const ir::Node& node, const std::string& value,
                           double expected, bool value_first_only = false) {
  if (node.inputs.size() != 2) return false;
  for (size_t i = 0; i < 2; ++i) {
    if (value_first_only && i == 0) continue;
    if (node.inputs[1 - i] == value && Near(ScalarConstant(graph, node, i), expected)) return true;
  }
  return false;
}

bool Multiplies(const ir::Node& node, const std::string& a, const std::string& b) {
  return IsOnnx(node, "Mul") && node.inputs.size() == 2 &&
         ((node.inputs[0] == a && node.inputs[1] == b) ||
          (node.inputs[0] == b && node.inputs[1] == a));
}

struct Match {
  std::vector<size_t> nodes;
  std::string output;
};

// The erf GELU reading `x`: x/sqrt2 (or x*(1/sqrt2)) -> Erf -> +1 -> times x, times 0.5 (in
// either order). Every intermediate value has one reader; x is read by the GELU alone.
std::optional<Match> MatchGelu(const ir::Graph& graph, const ReaderMap& readers,
                               const std::string& x) {
  auto it = readers.find(x);
  if (it == readers.end() || it->second.size() != 2) return std::nullopt;
  const auto node_at = [&](int i) -> const ir::Node* { return i < 0 ? nullptr : &graph.nodes[i]; };
  const auto sole = [&](const ir::Node& n) { return node_at(SoleReader(readers, n.outputs[0])); };
  for (int k = 0; k < 2; ++k) {
    const int scale_at = it->second[k];
    const int mul_at = it->second[1 - k];
    const ir::Node* scale = node_at(scale_at);
    const ir::Node* mul = node_at(mul_at);
    if (!scale || !mul || !IsOnnx(*mul, "Mul")) continue;
    const bool div =
        IsOnnx(*scale, "Div") && TakesValueAndConstant(graph, *scale, x, M_SQRT2, true);
    const bool times = IsOnnx(*scale, "Mul") && TakesValueAndConstant(graph, *scale, x, M_SQRT1_2);
    if (!div && !times) continue;
    const ir::Node* erf = sole(*scale);
    if (!erf || !IsOnnx(*erf, "Erf")) continue;
    const ir::Node* plus_one = sole(*erf);
    if (!plus_one || !IsOnnx(*plus_one, "Add") ||
        !TakesValueAndConstant(graph, *plus_one, erf->outputs[0], 1.0)) {
      continue;
    }
    const int last_at = SoleReader(readers, plus_one->outputs[0]);
    const ir::Node* last = node_at(last_at);
    if (!last) continue;
    Match match;
    match.nodes = {
        static_cast<size_t>(scale_at), static_cast<size_t>(SoleReader(readers, scale->outputs[0])),
        static_cast<size_t>(SoleReader(readers, erf->outputs[0])), static_cast<size_t>(mul_at)};
    if (last != mul && SoleReader(readers, mul->outputs[0]) == last_at &&
        TakesValueAndConstant(graph, *mul, x, 0.5) &&
        Multiplies(*last, mul->outputs[0], plus_one->outputs[0])) {
      match.nodes.push_back(static_cast<size_t>(last_at));
      match.output = last->outputs[0];  // (x * 0.5) * (1 + erf)
      return match;
    }
    if (last == mul && Multiplies(*mul, x, plus_one->outputs[0])) {
      const int half_at = SoleReader(readers, mul->outputs[0]);
      const ir::Node* half = node_at(half_at);
      if (!half || !IsOnnx(*half, "Mul") ||
          !TakesValueAndConstant(graph, *half, mul->outputs[0], 0.5)) {
        continue;
      }
      match.nodes.push_back(static_cast<size_t>(half_at));
      match.output = half->outputs[0];  // (x * (1 + erf)) * 0.5
      return match;
    }
  }
  return std::nullopt;
}

// The bias Add reading MatMul output `y`: y + constant of n values (shape [n] or [1, .., n]).
std::optional<std::string> MatchBias(const ir::Graph& graph, const ir::Node& add,
                                     const std::string& y, int64_t n) {
  if (!IsOnnx(add, "Add") || add.inputs.size() != 2) return std::nullopt;
  const std::string& other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
  if (other == y) return std::nullopt;
  const Tensor* bias = graph.FindInitializer(other);
  if (!bias || bias->dtype() != DType::kF32 || bias->num_elements() != n || bias->rank() < 1 ||
      bias->shape().back() != n) {
    return std::nullopt;
  }
  return other;
}

// A MatMul whose B is a constant float32 matrix: its N. A's shape may be unknown here (e.g.
// after LayerNormalization); the kernel takes any rank >= 1, and A is float32 as B is.
std::optional<int64_t> WeightColumns(const ir::Graph& graph, const ir::Node& matmul) {
  if (!IsOnnx(matmul, "MatMul") || matmul.inputs.size() != 2) return std::nullopt;
  const Tensor* b = graph.FindInitializer(matmul.inputs[1]);
  if (!b || b->dtype() != DType::kF32 || b->rank() != 2) return std::nullopt;
  return b->dim(1);
}

}  // namespace

Status FuseMatMulEpilogues(ir::Graph& graph, const FusionCheck& can_run) {
  if (HasSubgraphs(graph)) return Status::Ok();
  const ReaderMap readers = Readers(graph);
  std::vector<bool> absorbed(graph.nodes.size(), false);
  std::map<size_t, ir::Node> replacements;  // by the position of the chain's last node
  const auto free_node = [&](int i) { return i >= 0 && !absorbed[static_cast<size_t>(i)]; };
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& matmul = graph.nodes[n];
    const std::optional<int64_t> columns = WeightColumns(graph, matmul);
    if (!columns || absorbed[n]) continue;
    const int add_at = SoleReader(readers, matmul.outputs[0]);
    const std::optional<std::string> bias =
        free_node(add_at) ? MatchBias(graph, graph.nodes[static_cast<size_t>(add_at)],
                                      matmul.outputs[0], *columns)
                          : std::nullopt;
    ir::Node fused = matmul;
    fused.op_type = kFusedMatMulOp;
    fused.domain = kCpuFusionDomain;
    if (!bias) {  // the product alone still gains B packed once (dnnl_fused_matmul.cc)
      if (!can_run(fused, graph)) continue;
      absorbed[n] = true;
      replacements.emplace(n, std::move(fused));
      continue;
    }
    const ir::Node& add = graph.nodes[static_cast<size_t>(add_at)];
    fused.inputs = {matmul.inputs[0], matmul.inputs[1], *bias};
    std::vector<size_t> chain{n, static_cast<size_t>(add_at)};
    std::string value = add.outputs[0];
    const int next = SoleReader(readers, value);
    if (std::optional<Match> gelu = MatchGelu(graph, readers, value)) {
      bool all_free = true;
      for (size_t i : gelu->nodes) all_free = all_free && !absorbed[i];
      if (all_free) {
        fused.attributes["activation"] = ir::Attribute(std::string("Gelu"));
        chain.insert(chain.end(), gelu->nodes.begin(), gelu->nodes.end());
        value = gelu->output;
      }
    } else if (free_node(next) && IsOnnx(graph.nodes[next], "Add") &&
               graph.nodes[next].inputs.size() == 2) {
      const ir::Node& residual = graph.nodes[static_cast<size_t>(next)];
      const std::string& other =
          residual.inputs[0] == value ? residual.inputs[1] : residual.inputs[0];
      // Shapes the import could not infer are checked at run time: FusedMatMul adds a
      // residual of another (broadcast) shape in a second pass.
      if (other != value && MayBeSameShape(graph, value, other) &&
          MayBeSameShape(graph, value, residual.outputs[0])) {
        fused.inputs.push_back(other);
        chain.push_back(static_cast<size_t>(next));
        value = residual.outputs[0];
      }
    }
    fused.outputs = {value};
    if (!can_run(fused, graph)) continue;
    size_t last = 0;
    for (size_t i : chain) {
      absorbed[i] = true;
      last = std::max(last, i);
    }
    replacements.emplace(last, std::move(fused));
  }
  ApplyReplacements(graph, absorbed, std::move(replacements));
  return Status::Ok();
}

}  // namespace unihal::cpu
