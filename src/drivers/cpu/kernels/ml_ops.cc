// ai.onnx.ml ops on numeric tensors: ArrayFeatureExtractor, Binarizer, TreeEnsemble (opset 5).
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

constexpr char kMlDomain[] = "ai.onnx.ml";

// Any numeric tensor's elements as doubles.
std::vector<double> NumericAsDoubles(const Tensor& t) {
  std::vector<double> values(static_cast<size_t>(t.num_elements()));
  VisitNumericDType(t.dtype(), [&](auto tag) {
    const auto* data = t.data_as<decltype(tag)>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(data[i]);
  });
  return values;
}

// ---- ArrayFeatureExtractor: Y[..., j] = X[..., indices[j]]; a 1-D X gives a (1, n) Y ----

Status ComputeArrayFeatureExtractor(hal::KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *indices, "Y (indices)", {DType::kI64}));
  if (x->rank() == 0) {
    return InvalidArgumentError(node.Describe() + ": X must have rank >= 1, got " + x->Describe());
  }
  const int64_t width = x->shape().back();
  const int64_t count = indices->num_elements();
  const int64_t* index = indices->data_as<int64_t>();
  for (int64_t j = 0; j < count; ++j) {
    if (index[j] < 0 || index[j] >= width) {
      return InvalidArgumentError(node.Describe() + ": index " + std::to_string(index[j]) +
                                  " is out of range for the last dim of X " + x->Describe());
    }
  }
  Shape out_shape = x->rank() == 1 ? Shape{1} : Shape(x->shape().begin(), x->shape().end() - 1);
  out_shape.push_back(count);
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), out_shape));
  const int64_t rows = width == 0 ? 0 : x->num_elements() / width;
  const bool handled = VisitElementSize(DTypeSize(x->dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* in = x->data_as<U>();
    U* out = y->data_as<U>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < count; ++j) out[r * count + j] = in[r * width + index[j]];
    }
  });
  if (!handled) return UnimplementedError(node.Describe() + ": unsupported element size");
  return Status::Ok();
}

// ---- Binarizer: Y = X > threshold ? 1 : 0, in X's type ----

Status ComputeBinarizer(hal::KernelContext& context, double threshold) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", NumericDTypes()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), x->shape()));
  VisitNumericDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data_as<T>();
    T* out = y->data_as<T>();
    for (int64_t i = 0; i < x->num_elements(); ++i) {
      out[i] = FromDouble<T>(AsDouble(in[i]) > threshold ? 1.0 : 0.0);
    }
  });
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateBinarizer(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(float threshold, info.node.GetFloat("threshold", 0.0f));
  return MakeFunctionKernel([threshold](hal::KernelContext& c) {
    return ComputeBinarizer(c, static_cast<double>(threshold));
  });
}

// ---- TreeEnsemble (ai.onnx.ml opset 5) ----

enum class SplitMode { kLeq = 0, kLt, kGte, kGt, kEq, kNeq, kMember };
enum class Aggregate { kAverage = 0, kSum, kMin, kMax };

struct TreeEnsembleModel {
  std::vector<double> splits;
  std::vector<int64_t> features;
  std::vector<SplitMode> modes;
  std::vector<int64_t> true_ids;
  std::vector<int64_t> false_ids;
  std::vector<int64_t> true_leafs;
  std::vector<int64_t> false_leafs;
  std::vector<int64_t> missing_tracks_true;
  std::vector<std::set<double>> members;  // per node, for kMember
  std::vector<int64_t> leaf_targets;
  std::vector<double> leaf_weights;
  std::vector<int64_t> roots;
  Aggregate aggregate = Aggregate::kSum;
  int64_t n_targets = 0;
};

bool TakesTrueBranch(const TreeEnsembleModel& m, size_t node, double x) {
  if (std::isnan(x) && !m.missing_tracks_true.empty() && m.missing_tracks_true[node] != 0) {
    return true;
  }
  const double split = m.splits[node];
  switch (m.modes[node]) {
    case SplitMode::kLeq:
      return x <= split;
    case SplitMode::kLt:
      return x < split;
    case SplitMode::kGte:
      return x >= split;
    case SplitMode::kGt:
      return x > split;
    case SplitMode::kEq:
      return x == split;
    case SplitMode::kNeq:
      return x != split;
    case SplitMode::kMember:
      return m.members[node].count(x) != 0;
  }
  return false;
}

// The leaf a row reaches from `root`, or an error on a malformed tree.
Result<size_t> FindLeaf(const ir::Node& node, const TreeEnsembleModel& m, int64_t root,
                        const double* row, int64_t width) {
  const size_t n = m.modes.size();
  size_t current = static_cast<size_t>(root);
  if (m.true_leafs[current] && m.false_leafs[current] &&
      m.true_ids[current] == m.false_ids[current]) {
    return current;  // a tree that is a single leaf (the reference's reading)
  }
  for (size_t steps = 0; steps <= n; ++steps) {
    const int64_t feature = m.features[current];
    if (feature < 0 || feature >= width) {
      return InvalidArgumentError(node.Describe() + ": feature id " + std::to_string(feature) +
                                  " is out of range for X with " + std::to_string(width) +
                                  " features");
    }
    const bool branch = TakesTrueBranch(m, current, row[feature]);
    const int64_t next = branch ? m.true_ids[current] : m.false_ids[current];
    const bool leaf = (branch ? m.true_leafs[current] : m.false_leafs[current]) != 0;
    const size_t limit = leaf ? m.leaf_weights.size() : n;
    if (next < 0 || static_cast<size_t>(next) >= limit) {
      return InvalidArgumentError(node.Describe() + ": tree index " + std::to_string(next) +
                                  " is out of range");
    }
    if (leaf) return static_cast<size_t>(next);
    current = static_cast<size_t>(next);
  }
  return InvalidArgumentError(node.Describe() + ": the trees contain a cycle");
}

Status ComputeTreeEnsemble(hal::KernelContext& context, const TreeEnsembleModel& m) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", {DType::kF32, DType::kF64, DType::kF16}));
  if (x->rank() != 2) {
    return InvalidArgumentError(node.Describe() + ": X must be (N, F), got " + x->Describe());
  }
  const int64_t rows = x->dim(0);
  const int64_t width = x->dim(1);
  const std::vector<double> values = NumericAsDoubles(*x);
  const double initial = m.aggregate == Aggregate::kMin   ? std::numeric_limits<double>::max()
                         : m.aggregate == Aggregate::kMax ? std::numeric_limits<double>::lowest()
                                                          : 0.0;
  std::vector<double> result(static_cast<size_t>(rows * m.n_targets), initial);
  const double trees = static_cast<double>(m.roots.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t root : m.roots) {
      UH_ASSIGN_OR_RETURN(size_t leaf, FindLeaf(node, m, root, &values[r * width], width));
      const int64_t target = m.leaf_targets[leaf];
      if (target < 0 || target >= m.n_targets) {
        return InvalidArgumentError(node.Describe() + ": leaf target id " + std::to_string(target) +
                                    " is not below n_targets " + std::to_string(m.n_targets));
      }
      double& out = result[r * m.n_targets + target];
      const double w = m.leaf_weights[leaf];
      switch (m.aggregate) {
        case Aggregate::kSum:
          out += w;
          break;
        case Aggregate::kAverage:
          out += w / trees;
          break;
        case Aggregate::kMin:
          out = std::min(out, w);
          break;
        case Aggregate::kMax:
          out = std::max(out, w);
          break;
      }
    }
  }
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), Shape{rows, m.n_targets}));
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = y->data_as<T>();
    for (size_t i = 0; i < result.size(); ++i) out[i] = FromDouble<T>(result[i]);
  });
  return Status::Ok();
}

// A required ints attribute.
Result<std::vector<int64_t>> RequiredInts(const ir::Node& node, const char* name) {
  if (!node.HasAttribute(name)) {
    return InvalidArgumentError(node.Describe() + ": the required attribute '" + std::string(name) +
                                "' is missing");
  }
  return node.GetInts(name);
}

// A required tensor attribute's values as doubles.
Result<std::vector<double>> RequiredTensorValues(const ir::Node& node, const char* name) {
  if (!node.HasAttribute(name)) {
    return InvalidArgumentError(node.Describe() + ": the required attribute '" + std::string(name) +
                                "' is missing");
  }
  UH_ASSIGN_OR_RETURN(Tensor t, node.GetTensor(name));
  return NumericAsDoubles(t);
}

// Splits membership_values (NaN-separated runs, one per MEMBER node in order) into sets.
Status AssignMembers(const ir::Node& node, const std::vector<double>& values,
                     TreeEnsembleModel& m) {
  m.members.assign(m.modes.size(), {});
  size_t next = 0;
  for (size_t i = 0; i < m.modes.size(); ++i) {
    if (m.modes[i] != SplitMode::kMember) continue;
    while (next < values.size() && !std::isnan(values[next])) m.members[i].insert(values[next++]);
    if (next >= values.size()) {
      return InvalidArgumentError(node.Describe() +
                                  ": membership_values needs one NaN-terminated run per MEMBER "
                                  "node");
    }
    ++next;
  }
  return Status::Ok();
}

Status CheckTreeSizes(const ir::Node& node, const TreeEnsembleModel& m) {
  const size_t n = m.modes.size();
  for (size_t size : {m.splits.size(), m.features.size(), m.true_ids.size(), m.false_ids.size(),
                      m.true_leafs.size(), m.false_leafs.size()}) {
    if (size != n) {
      return InvalidArgumentError(node.Describe() +
                                  ": the nodes_* attributes must all have as many entries as "
                                  "nodes_modes (" +
                                  std::to_string(n) + ")");
    }
  }
  if (!m.missing_tracks_true.empty() && m.missing_tracks_true.size() != n) {
    return InvalidArgumentError(node.Describe() +
                                ": nodes_missing_value_tracks_true must match nodes_modes");
  }
  if (m.leaf_targets.size() != m.leaf_weights.size()) {
    return InvalidArgumentError(node.Describe() +
                                ": leaf_targetids and leaf_weights must have equal lengths");
  }
  for (int64_t root : m.roots) {
    if (root < 0 || static_cast<size_t>(root) >= n) {
      return InvalidArgumentError(node.Describe() + ": tree root " + std::to_string(root) +
                                  " is out of range");
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateTreeEnsemble(const hal::KernelCreateInfo& info) {
  const ir::Node& node = info.node;
  TreeEnsembleModel m;
  UH_ASSIGN_OR_RETURN(m.splits, RequiredTensorValues(node, "nodes_splits"));
  UH_ASSIGN_OR_RETURN(std::vector<double> modes, RequiredTensorValues(node, "nodes_modes"));
  for (double mode : modes) {
    if (!(mode >= 0 && mode <= 6)) {
      return InvalidArgumentError(node.Describe() + ": unknown nodes_modes value " +
                                  std::to_string(mode));
    }
    m.modes.push_back(static_cast<SplitMode>(static_cast<int>(mode)));
  }
  UH_ASSIGN_OR_RETURN(m.features, RequiredInts(node, "nodes_featureids"));
  UH_ASSIGN_OR_RETURN(m.true_ids, RequiredInts(node, "nodes_truenodeids"));
  UH_ASSIGN_OR_RETURN(m.false_ids, RequiredInts(node, "nodes_falsenodeids"));
  UH_ASSIGN_OR_RETURN(m.true_leafs, RequiredInts(node, "nodes_trueleafs"));
  UH_ASSIGN_OR_RETURN(m.false_leafs, RequiredInts(node, "nodes_falseleafs"));
  UH_ASSIGN_OR_RETURN(m.leaf_targets, RequiredInts(node, "leaf_targetids"));
  UH_ASSIGN_OR_RETURN(m.leaf_weights, RequiredTensorValues(node, "leaf_weights"));
  UH_ASSIGN_OR_RETURN(m.roots, RequiredInts(node, "tree_roots"));
  UH_ASSIGN_OR_RETURN(m.missing_tracks_true,
                      node.GetInts("nodes_missing_value_tracks_true", std::vector<int64_t>{}));
  UH_ASSIGN_OR_RETURN(int64_t n_targets, node.GetInt("n_targets"));
  m.n_targets = n_targets;
  UH_ASSIGN_OR_RETURN(int64_t aggregate, node.GetInt("aggregate_function", 1));
  if (aggregate < 0 || aggregate > 3) {
    return InvalidArgumentError(node.Describe() + ": unknown aggregate_function " +
                                std::to_string(aggregate));
  }
  m.aggregate = static_cast<Aggregate>(aggregate);
  UH_ASSIGN_OR_RETURN(int64_t post_transform, node.GetInt("post_transform", 0));
  if (post_transform != 0) {
    return UnimplementedError(node.Describe() + ": TreeEnsemble (ai.onnx.ml opset " +
                              std::to_string(node.opset) + ") with post_transform " +
                              std::to_string(post_transform) + " is not supported (only 0, NONE)");
  }
  UH_RETURN_IF_ERROR(CheckTreeSizes(node, m));
  std::vector<double> members;
  if (node.HasAttribute("membership_values")) {
    UH_ASSIGN_OR_RETURN(members, RequiredTensorValues(node, "membership_values"));
  }
  UH_RETURN_IF_ERROR(AssignMembers(node, members, m));
  return MakeFunctionKernel(
      [m = std::move(m)](hal::KernelContext& c) { return ComputeTreeEnsemble(c, m); });
}

void RegisterMl(hal::KernelRegistry& registry, const char* op, int min_opset,
                hal::KernelFactory create) {
  hal::KernelDef def = ReferenceKernelDef(op, min_opset, INT_MAX, std::move(create));
  def.domain = kMlDomain;
  registry.Register(std::move(def));
}

}  // namespace

void RegisterMlKernels(hal::KernelRegistry& registry) {
  RegisterMl(registry, "ArrayFeatureExtractor", 1, StatelessKernel(ComputeArrayFeatureExtractor));
  RegisterMl(registry, "Binarizer", 1, CreateBinarizer);
  RegisterMl(registry, "TreeEnsemble", 5, CreateTreeEnsemble);
}

}  // namespace unihal::cpu
