// FoldBatchNormIntoConv: Conv -> BatchNormalization (inference) with constant parameters
// becomes one Conv whose weights and bias absorb the normalization.
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "base/uninitialized_allocation.h"
#include "ir/passes.h"

namespace unihal::ir {
namespace {

// How many times each value is read (node inputs, subgraph captures, graph outputs).
std::map<std::string, int> CountReaders(const Graph& graph) {
  std::map<std::string, int> readers;
  for (const Node& node : graph.nodes) {
    for (const std::string& in : node.inputs) {
      if (!in.empty()) ++readers[in];
    }
    for (const std::string& in : OuterScopeValues(node)) ++readers[in];
  }
  for (const ValueInfo& out : graph.outputs) ++readers[out.name];
  return readers;
}

const Tensor* F32Constant(const Graph& graph, const Node& node, size_t i) {
  if (!node.has_input(i)) return nullptr;
  const Tensor* t = graph.FindInitializer(node.inputs[i]);
  return t && t->dtype() == DType::kF32 ? t : nullptr;
}

bool IsInferenceBatchNorm(const Node& bn) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() != 5) {
    return false;
  }
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (!bn.outputs[i].empty()) return false;  // training outputs (running mean/var) wanted
  }
  Result<int64_t> training = bn.GetInt("training_mode", 0);
  return training.ok() && *training == 0;
}

std::string FreshName(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int i = 1; graph.initializers.count(name) || graph.value_info.count(name); ++i) {
    name = base + "_" + std::to_string(i);
  }
  return name;
}

void AddInitializer(Graph& graph, const std::string& name, Tensor value) {
  ValueInfo& info = graph.value_info[name];
  info.name = name;
  info.dtype = value.dtype();
  info.shape = SymbolicShape();
  for (int64_t d : value.shape()) info.shape->push_back(Dim::Static(d));
  graph.initializers[name] = std::move(value);
}

// The tensor the folded weights go into: `w` itself when nothing else can see it (this conv
// is its only reader and no other tensor shares its storage), saving a fresh copy of every
// weight at load; else a new tensor. Null when out of memory.
std::optional<Tensor> FoldedWeightsTarget(const Graph& graph, const Node& conv,
                                          const std::map<std::string, int>& readers) {
  const Tensor& w = *graph.FindInitializer(conv.inputs[1]);
  auto count = readers.find(conv.inputs[1]);
  const bool exclusive = count != readers.end() && count->second == 1 && w.is_host() &&
                         w.buffer().use_count() == 1 && w.offset() == 0;
  if (exclusive) return w;
  Result<Tensor> fresh = AllocateUninitializedTensor(DType::kF32, w.shape());
  return fresh.ok() ? std::optional<Tensor>(*std::move(fresh)) : std::nullopt;
}

// Rewrites `conv` to include `bn`; false (nothing changed) when the pair does not qualify.
bool FoldPair(Graph& graph, Node& conv, const Node& bn, const std::map<std::string, int>& readers) {
  const Tensor* w = F32Constant(graph, conv, 1);
  const Tensor* bias = conv.has_input(2) ? F32Constant(graph, conv, 2) : nullptr;
  const Tensor* scale = F32Constant(graph, bn, 1);
  const Tensor* beta = F32Constant(graph, bn, 2);
  const Tensor* mean = F32Constant(graph, bn, 3);
  const Tensor* var = F32Constant(graph, bn, 4);
  if (!w || (conv.has_input(2) && !bias) || !scale || !beta || !mean || !var) return false;
  if (w->shape().size() < 3) return false;
  const int64_t m = w->shape()[0];
  for (const Tensor* t : {scale, beta, mean, var}) {
    if (t->shape() != Shape{m}) return false;
  }
  if (bias && bias->shape() != Shape{m}) return false;
  Result<float> epsilon = bn.GetFloat("epsilon", 1e-5f);
  if (!epsilon.ok()) return false;
  const int64_t per_channel = w->num_elements() / m;
  std::optional<Tensor> new_w = FoldedWeightsTarget(graph, conv, readers);
  Result<Tensor> new_b = AllocateUninitializedTensor(DType::kF32, {m});
  if (!new_w || !new_b.ok()) return false;
  const float* wd = w->data_as<float>();  // may be new_w's storage: each element read first
  float* nw = new_w->data_as<float>();
  float* nb = new_b->data_as<float>();
  for (int64_t c = 0; c < m; ++c) {
    const double s = static_cast<double>(scale->data_as<float>()[c]) /
                     std::sqrt(static_cast<double>(var->data_as<float>()[c]) + *epsilon);
    for (int64_t k = 0; k < per_channel; ++k) {
      const int64_t i = c * per_channel + k;
      nw[i] = static_cast<float>(wd[i] * s);
    }
    const double b = bias ? bias->data_as<float>()[c] : 0.0;
    nb[c] = static_cast<float>((b - mean->data_as<float>()[c]) * s + beta->data_as<float>()[c]);
  }
  const std::string w_name = FreshName(graph, conv.inputs[1] + "_bn_folded");
  const std::string b_name = FreshName(graph, bn.name + "_folded_bias");
  // Written in place, the old weights no longer hold their values: nothing may find them.
  if (new_w->buffer() == w->buffer()) graph.initializers.erase(conv.inputs[1]);
  AddInitializer(graph, w_name, *std::move(new_w));
  AddInitializer(graph, b_name, *std::move(new_b));
  conv.inputs.resize(3);
  conv.inputs[1] = w_name;
  conv.inputs[2] = b_name;
  conv.outputs[0] = bn.outputs[0];
  return true;
}

}  // namespace

Status FoldBatchNormIntoConv(Graph& graph) {
  const std::map<std::string, int> readers = CountReaders(graph);
  std::map<std::string, size_t> producer;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (const std::string& out : graph.nodes[n].outputs) producer[out] = n;
  }
  std::vector<bool> removed(graph.nodes.size(), false);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& bn = graph.nodes[n];
    if (!IsInferenceBatchNorm(bn) || bn.inputs[0].empty()) continue;
    auto from = producer.find(bn.inputs[0]);
    if (from == producer.end() || removed[from->second]) continue;
    Node& conv = graph.nodes[from->second];
    if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1) continue;
    auto count = readers.find(conv.outputs[0]);
    if (count == readers.end() || count->second != 1) continue;  // someone else reads it
    if (FoldPair(graph, conv, bn, readers)) removed[n] = true;
  }
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!removed[n]) kept.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(kept);
  return Status::Ok();
}

}  // namespace unihal::ir
