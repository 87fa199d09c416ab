#include "ir/passes.h"

#include <map>

namespace unihal::ir {
namespace {

bool IsNonDeterministic(const Node& node) {
  static const std::set<std::string> kRandomOps = {"RandomNormal",     "RandomUniform",
                                                   "RandomNormalLike", "RandomUniformLike",
                                                   "Multinomial",      "Bernoulli"};
  if (!node.domain.empty()) return true;  // unknown semantics: leave to the device
  if (kRandomOps.count(node.op_type)) return true;
  // Dropout with a training_mode input may drop values at random.
  return node.op_type == "Dropout" && node.has_input(2);
}

bool HasSubgraph(const Node& node) {
  for (const auto& [key, attr] : node.attributes) {
    if (attr.get<std::shared_ptr<const Graph>>()) return true;
  }
  return false;
}

bool AllInputsConstant(const Graph& graph, const Node& node) {
  for (const std::string& in : node.inputs) {
    if (!in.empty() && !graph.FindInitializer(in)) return false;
  }
  return true;
}

// The value of a Constant node, or nullopt for the forms unihal has no tensor for (strings,
// sparse).
std::optional<Tensor> ConstantNodeValue(const Node& node) {
  for (const auto& [key, attr] : node.attributes) {
    if (key == "value") {
      if (const Tensor* t = attr.get<Tensor>()) return *t;
    } else if (key == "value_float") {
      if (const float* f = attr.get<float>()) return Tensor::Scalar<float>(*f);
    } else if (key == "value_int") {
      if (const int64_t* i = attr.get<int64_t>()) return Tensor::Scalar<int64_t>(*i);
    } else if (key == "value_floats") {
      if (const auto* v = attr.get<std::vector<float>>()) {
        return Tensor::FromVector<float>({static_cast<int64_t>(v->size())}, *v);
      }
    } else if (key == "value_ints") {
      if (const auto* v = attr.get<std::vector<int64_t>>()) {
        return Tensor::FromVector<int64_t>({static_cast<int64_t>(v->size())}, *v);
      }
    }
  }
  return std::nullopt;
}

// Bytes the node's outputs will take, when known before running it; nullopt when unknown.
std::optional<size_t> PredictedOutputBytes(const Graph& graph, const Node& node) {
  if (node.op_type == "ConstantOfShape" && node.has_input(0)) {
    Result<std::vector<int64_t>> dims = graph.FindInitializer(node.inputs[0])->ToInt64Vector();
    if (!dims.ok()) return std::nullopt;
    double elements = 1;
    for (int64_t d : *dims) elements *= static_cast<double>(d < 0 ? 0 : d);
    double element_bits = 32;  // float32 unless `value` says otherwise
    if (Result<Tensor> value = node.GetTensor("value"); value.ok()) {
      element_bits = static_cast<double>(DTypeBits(value->dtype()));
    }
    const double bytes = elements * element_bits / 8;
    return bytes > 1e18 ? SIZE_MAX : static_cast<size_t>(bytes);
  }
  size_t total = 0;
  for (const std::string& out : node.outputs) {
    if (out.empty()) continue;
    const ValueInfo* info = graph.FindValueInfo(out);
    if (!info || DTypeBits(info->dtype) == 0) return std::nullopt;
    std::optional<Shape> shape = info->StaticShape();
    if (!shape) return std::nullopt;
    double elements = 1;
    for (int64_t d : *shape) elements *= static_cast<double>(d);
    total += static_cast<size_t>(
        std::min(elements * static_cast<double>(DTypeBits(info->dtype)) / 8, 1e18));
  }
  return total;
}

// Evaluates a foldable node; nullopt when it should stay a node.
Result<std::optional<std::vector<Tensor>>> Evaluate(const Graph& graph, const Node& node,
                                                    const NodeEvaluator& evaluate,
                                                    const FoldConstantsOptions& options) {
  using Folded = std::optional<std::vector<Tensor>>;
  if (node.op_type == "Constant") {
    std::optional<Tensor> value = ConstantNodeValue(node);
    if (!value || node.outputs.size() != 1) return Folded();
    return Folded(std::vector<Tensor>{*std::move(value)});
  }
  std::optional<size_t> predicted = PredictedOutputBytes(graph, node);
  if (predicted && *predicted > options.max_folded_bytes) return Folded();
  std::vector<Tensor> inputs;
  for (const std::string& in : node.inputs) {
    inputs.push_back(in.empty() ? Tensor() : *graph.FindInitializer(in));
  }
  Result<std::vector<Tensor>> outputs = evaluate(node, inputs);
  if (!outputs.ok()) {
    // No CPU kernel for it: the target device may still run it.
    if (outputs.status().code() == StatusCode::kUnimplemented) return Folded();
    return outputs.status().WithContext("constant-folding " + node.Describe());
  }
  if (outputs->size() != node.outputs.size()) {
    return InternalError("constant-folding " + node.Describe() + ": the evaluator returned " +
                         std::to_string(outputs->size()) + " outputs, the node has " +
                         std::to_string(node.outputs.size()));
  }
  size_t bytes = 0;
  for (const Tensor& t : *outputs) bytes += t.defined() ? t.nbytes() : 0;
  if (bytes > options.max_folded_bytes) return Folded();
  return Folded(*std::move(outputs));
}

void CollectFreeValues(const Graph& graph, std::set<std::string>& free) {
  std::set<std::string> defined;
  for (const auto& in : graph.inputs) defined.insert(in.name);
  for (const auto& [name, tensor] : graph.initializers) defined.insert(name);
  for (const Node& node : graph.nodes) {
    for (const auto& out : node.outputs) defined.insert(out);
  }
  auto add = [&](const std::string& name) {
    if (!name.empty() && !defined.count(name)) free.insert(name);
  };
  for (const Node& node : graph.nodes) {
    for (const auto& in : node.inputs) add(in);
    for (const auto& in : OuterScopeValues(node)) add(in);
  }
  for (const auto& out : graph.outputs) add(out.name);
}

// Ops whose outputs after the first are optional in ONNX and only cost work when named:
// Dropout's mask, MaxPool's Indices (which also keep MaxPool off the fast kernels) and
// LayerNormalization's Mean and InvStdDev.
bool HasOptionalTrailingOutputs(const Node& node) {
  static const std::set<std::string> kOps = {"Dropout", "MaxPool", "LayerNormalization"};
  return node.domain.empty() && kOps.count(node.op_type) > 0;
}

}  // namespace

std::set<std::string> OuterScopeValues(const Node& node) {
  std::set<std::string> free;
  for (const auto& [key, attr] : node.attributes) {
    if (const auto* graph = attr.get<std::shared_ptr<const Graph>>(); graph && *graph) {
      CollectFreeValues(**graph, free);
    }
  }
  return free;
}

Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate) {
  return FoldConstants(graph, evaluate, FoldConstantsOptions{});
}

Status FoldConstants(Graph& graph, const NodeEvaluator& evaluate,
                     const FoldConstantsOptions& options) {
  // Nodes are topologically sorted, so one forward sweep folds whole constant chains.
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (Node& node : graph.nodes) {
    const bool candidate =
        !IsNonDeterministic(node) && !HasSubgraph(node) && AllInputsConstant(graph, node);
    std::optional<std::vector<Tensor>> folded;
    if (candidate) {
      UH_ASSIGN_OR_RETURN(folded, Evaluate(graph, node, evaluate, options));
    }
    if (!folded) {
      kept.push_back(std::move(node));
      continue;
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& name = node.outputs[i];
      const Tensor& value = (*folded)[i];
      if (name.empty()) continue;
      if (!value.defined()) {
        return InternalError("constant-folding " + node.Describe() + " gave no value for '" + name +
                             "'");
      }
      graph.initializers[name] = value;
      ValueInfo& info = graph.value_info[name];
      info.name = name;
      info.dtype = value.dtype();
      info.shape = SymbolicShape();
      for (int64_t d : value.shape()) info.shape->push_back(Dim::Static(d));
    }
  }
  graph.nodes = std::move(kept);
  return Status::Ok();
}

Status RemoveDeadNodes(Graph& graph) {
  std::set<std::string> live;
  for (const auto& out : graph.outputs) live.insert(out.name);
  std::vector<bool> keep(graph.nodes.size(), false);
  // Reverse topological order: a node is live when something live reads one of its outputs.
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const Node& node = graph.nodes[n];
    for (const auto& out : node.outputs) keep[n] = keep[n] || (!out.empty() && live.count(out));
    if (!keep[n]) continue;
    if (HasOptionalTrailingOutputs(node)) {
      std::vector<std::string>& outputs = graph.nodes[n].outputs;
      while (outputs.size() > 1 && !live.count(outputs.back())) outputs.pop_back();
    }
    for (const auto& in : node.inputs) {
      if (!in.empty()) live.insert(in);
    }
    for (const auto& in : OuterScopeValues(node)) live.insert(in);
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (keep[n]) kept.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(kept);
  std::erase_if(graph.initializers, [&](const auto& entry) { return !live.count(entry.first); });
  return Status::Ok();
}

}  // namespace unihal::ir
