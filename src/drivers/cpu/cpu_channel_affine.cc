#include "drivers/cpu/cpu_channel_affine.h"

#include <cmath>
#include <map>
#include <optional>
#include <vector>

#include "drivers/cpu/cpu_graph_match.h"

namespace unihal::cpu {
namespace {

// y = scale * x + shift per channel, in double while composing.
struct Affine {
  std::vector<double> scale;
  std::vector<double> shift;
};

// Composes `next` after `affine`.
void Then(Affine& affine, const Affine& next) {
  for (size_t c = 0; c < affine.scale.size(); ++c) {
    affine.scale[c] *= next.scale[c];
    affine.shift[c] = affine.shift[c] * next.scale[c] + next.shift[c];
  }
}

// A float32 constant holding one value per channel of a 4-D value (shape [C,1,1] or [1,C,1,1],
// or one value for all), as C doubles.
std::optional<std::vector<double>> PerChannel(const ir::Graph& graph, const std::string& name,
                                              size_t channels) {
  const Tensor* t = graph.FindInitializer(name);
  if (!t || t->dtype() != DType::kF32 || t->rank() > 4) return std::nullopt;
  const float* v = t->data_as<float>();
  if (t->num_elements() == 1) return std::vector<double>(channels, v[0]);
  const Shape& s = t->shape();
  const bool c11 = s.size() == 3 && s[1] == 1 && s[2] == 1;
  const bool one_c11 = s.size() == 4 && s[0] == 1 && s[2] == 1 && s[3] == 1;
  if (static_cast<size_t>(t->num_elements()) != channels || !(c11 || one_c11)) {
    return std::nullopt;
  }
  return std::vector<double>(v, v + channels);
}

std::optional<Affine> BatchNormAffine(const ir::Graph& graph, const ir::Node& bn, size_t c) {
  if (!IsOnnx(bn, "BatchNormalization") || bn.inputs.size() != 5) return std::nullopt;
  Result<int64_t> training = bn.GetInt("training_mode", 0);
  Result<int64_t> spatial = bn.GetInt("spatial", 1);
  Result<float> epsilon = bn.GetFloat("epsilon", 1e-5f);
  if (!training.ok() || *training != 0 || !spatial.ok() || *spatial != 1 || !epsilon.ok()) {
    return std::nullopt;
  }
  std::vector<const float*> p;
  for (size_t i = 1; i < 5; ++i) {
    const Tensor* t = graph.FindInitializer(bn.inputs[i]);
    if (!t || t->dtype() != DType::kF32 || t->shape() != Shape{static_cast<int64_t>(c)}) {
      return std::nullopt;
    }
    p.push_back(t->data_as<float>());
  }
  Affine affine{std::vector<double>(c), std::vector<double>(c)};
  for (size_t k = 0; k < c; ++k) {
    affine.scale[k] = p[0][k] / std::sqrt(static_cast<double>(p[3][k]) + *epsilon);
    affine.shift[k] = p[1][k] - p[2][k] * affine.scale[k];
  }
  return affine;
}

// `node` (reading `x`, `c` channels) as a per-channel affine, or nullopt.
std::optional<Affine> AsAffine(const ir::Graph& graph, const ir::Node& node, const std::string& x,
                               size_t c) {
  if (node.inputs.empty() || node.inputs[0].empty()) return std::nullopt;
  if (IsOnnx(node, "BatchNormalization")) {
    if (node.inputs[0] != x) return std::nullopt;
    return BatchNormAffine(graph, node, c);
  }
  const bool mul = IsOnnx(node, "Mul");
  const bool add = IsOnnx(node, "Add");
  const bool sub = IsOnnx(node, "Sub");
  if ((!mul && !add && !sub) || node.inputs.size() != 2) return std::nullopt;
  if (!SameShape(graph, x, node.outputs[0])) return std::nullopt;  // no broadcast of x
  const bool x_first = node.inputs[0] == x;
  if (!x_first && (sub || node.inputs[1] != x)) return std::nullopt;
  std::optional<std::vector<double>> k = PerChannel(graph, node.inputs[x_first ? 1 : 0], c);
  if (!k) return std::nullopt;
  Affine affine{std::vector<double>(c, 1.0), std::vector<double>(c, 0.0)};
  if (mul) affine.scale = *k;
  if (add) affine.shift = *k;
  if (sub) {
    for (size_t i = 0; i < c; ++i) affine.shift[i] = -(*k)[i];
  }
  return affine;
}

std::optional<size_t> StaticChannels(const ir::Graph& graph, const std::string& value) {
  const ir::ValueInfo* info = graph.FindValueInfo(value);
  // 4-D only: a [C, 1, 1] constant broadcasts along depth, not channels, for a 5-D value.
  if (!info || info->dtype != DType::kF32 || !info->shape || info->shape->size() != 4) {
    return std::nullopt;
  }
  const ir::Dim& c = (*info->shape)[1];
  if (!c.is_static() || c.value <= 0) return std::nullopt;
  return static_cast<size_t>(c.value);
}

std::string FreshName(const ir::Graph& graph, const std::string& base) {
  std::string name = base;
  for (int i = 1; graph.initializers.count(name) || graph.value_info.count(name); ++i) {
    name = base + "_" + std::to_string(i);
  }
  return name;
}

std::string AddConstant(ir::Graph& graph, const std::string& base, const std::vector<double>& v,
                        Shape shape) {
  Result<Tensor> t = Tensor::Allocate(DType::kF32, shape);
  float* data = t->data_as<float>();
  for (size_t i = 0; i < v.size(); ++i) data[i] = static_cast<float>(v[i]);
  const std::string name = FreshName(graph, base);
  ir::ValueInfo& info = graph.value_info[name];
  info.name = name;
  info.dtype = DType::kF32;
  info.shape = ir::SymbolicShape();
  for (int64_t d : shape) info.shape->push_back(ir::Dim::Static(d));
  graph.initializers[name] = *std::move(t);
  return name;
}

// The chain of affine nodes reading `value` one after the other (each the sole reader).
struct Chain {
  std::vector<size_t> nodes;
  Affine affine;
  std::string output;
};

Chain FollowAffines(const ir::Graph& graph, const ReaderMap& readers,
                    const std::vector<bool>& absorbed, std::string value, size_t c) {
  Chain chain{{}, Affine{std::vector<double>(c, 1.0), std::vector<double>(c, 0.0)}, value};
  for (int next = SoleReader(readers, value); next >= 0 && !absorbed[next];
       next = SoleReader(readers, chain.output)) {
    std::optional<Affine> step = AsAffine(graph, graph.nodes[next], chain.output, c);
    if (!step) break;
    Then(chain.affine, *step);
    chain.nodes.push_back(static_cast<size_t>(next));
    chain.output = graph.nodes[next].outputs[0];
  }
  return chain;
}

// Conv with constant W (and B) absorbing `affine`; nullopt when W or B is not constant.
std::optional<ir::Node> FoldIntoConv(ir::Graph& graph, const ir::Node& conv, const Chain& chain) {
  const Tensor* w = graph.FindInitializer(conv.inputs[1]);
  const Tensor* b = conv.has_input(2) ? graph.FindInitializer(conv.inputs[2]) : nullptr;
  const int64_t m = w ? w->dim(0) : 0;
  if (!w || w->dtype() != DType::kF32 || w->rank() < 3 ||
      static_cast<size_t>(m) != chain.affine.scale.size() ||
      (conv.has_input(2) && (!b || b->dtype() != DType::kF32 || b->shape() != Shape{m}))) {
    return std::nullopt;
  }
  const int64_t per_channel = w->num_elements() / m;
  std::vector<double> new_w(static_cast<size_t>(w->num_elements()));
  std::vector<double> new_b(static_cast<size_t>(m));
  for (int64_t c = 0; c < m; ++c) {
    const double s = chain.affine.scale[c];
    for (int64_t k = 0; k < per_channel; ++k) {
      new_w[c * per_channel + k] = w->data_as<float>()[c * per_channel + k] * s;
    }
    new_b[c] = (b ? b->data_as<float>()[c] : 0.0) * s + chain.affine.shift[c];
  }
  ir::Node fused = conv;
  fused.inputs.resize(3);
  fused.inputs[1] = AddConstant(graph, conv.inputs[1] + "_affine", new_w, w->shape());
  fused.inputs[2] = AddConstant(graph, conv.name + "_affine_bias", new_b, {m});
  fused.outputs = {chain.output};
  return fused;
}

// The cpu-private BatchNormalization computing `chain` (and a following Relu when `relu`).
ir::Node AsChannelAffineNode(ir::Graph& graph, const ir::Node& first, const Chain& chain, bool relu,
                             const std::string& output) {
  const size_t c = chain.affine.scale.size();
  const Shape shape{static_cast<int64_t>(c)};
  ir::Node node = first;
  node.domain = kCpuFusionDomain;
  node.attributes.clear();
  node.attributes["epsilon"] = ir::Attribute(0.f);
  if (relu) node.attributes[kBatchNormActivationAttr] = ir::Attribute(std::string("Relu"));
  node.inputs = {first.inputs[0], AddConstant(graph, first.name + "_a", chain.affine.scale, shape),
                 AddConstant(graph, first.name + "_b", chain.affine.shift, shape),
                 AddConstant(graph, first.name + "_mean0", std::vector<double>(c, 0.0), shape),
                 AddConstant(graph, first.name + "_var1", std::vector<double>(c, 1.0), shape)};
  node.outputs = {output};
  return node;
}

}  // namespace

Status FuseChannelAffine(ir::Graph& graph, const FusionCheck& can_run) {
  if (HasSubgraphs(graph)) return Status::Ok();
  const ReaderMap readers = Readers(graph);
  std::vector<bool> absorbed(graph.nodes.size(), false);
  std::map<size_t, ir::Node> replacements;
  const size_t original_nodes = graph.nodes.size();
  for (size_t n = 0; n < original_nodes; ++n) {
    if (absorbed[n]) continue;
    const ir::Node node = graph.nodes[n];  // a copy: AddConstant may grow the graph's maps
    const bool conv = IsOnnx(node, "Conv") && node.inputs.size() >= 2;
    if (!conv && !IsOnnx(node, "BatchNormalization")) continue;
    const std::optional<size_t> c = StaticChannels(graph, conv ? node.outputs[0] : node.inputs[0]);
    if (!c) continue;
    if (conv) {
      Chain chain = FollowAffines(graph, readers, absorbed, node.outputs[0], *c);
      if (chain.nodes.empty()) continue;
      std::optional<ir::Node> folded = FoldIntoConv(graph, node, chain);
      if (!folded) continue;
      absorbed[n] = true;
      for (size_t i : chain.nodes) absorbed[i] = true;
      replacements.emplace(chain.nodes.back(), *std::move(folded));
      continue;
    }
    std::optional<Affine> bn = BatchNormAffine(graph, node, *c);
    if (!bn) continue;
    Chain chain = FollowAffines(graph, readers, absorbed, node.outputs[0], *c);
    Then(*bn, chain.affine);
    chain.affine = *std::move(bn);
    chain.nodes.insert(chain.nodes.begin(), n);
    std::string output = chain.output;
    const int next = SoleReader(readers, output);
    const bool relu = next >= 0 && !absorbed[next] && IsOnnx(graph.nodes[next], "Relu");
    if (relu) {
      chain.nodes.push_back(static_cast<size_t>(next));
      output = graph.nodes[next].outputs[0];
    }
    ir::Node fused = AsChannelAffineNode(graph, node, chain, relu, output);
    if (!can_run(fused, graph)) continue;
    for (size_t i : chain.nodes) absorbed[i] = true;
    replacements.emplace(chain.nodes.back(), std::move(fused));
  }
  ApplyReplacements(graph, absorbed, std::move(replacements));
  return Status::Ok();
}

}  // namespace unihal::cpu
