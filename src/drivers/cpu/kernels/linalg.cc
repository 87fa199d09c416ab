// Reference linear-algebra kernels: Einsum (any equation: implicit or explicit output,
// ellipsis broadcasting, repeated labels for diagonals and traces) and Det.
#include <algorithm>
#include <cmath>
#include <string>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/reduction_kernels.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// ---- Einsum ----

// Labels: the letters a-z, A-Z as 0..51; the dims an ellipsis stands for come after, one label
// per dim counted from the right-aligned start of the widest ellipsis.
constexpr int kLetterLabels = 52;
constexpr int kEllipsis = -1;  // a term's ellipsis before it is expanded

int LetterLabel(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
  return -2;
}

// One term ("bij", "...ii") as letter labels with kEllipsis where "..." stood.
Result<std::vector<int>> ParseTerm(const ir::Node& node, const std::string& term) {
  std::vector<int> labels;
  bool seen_ellipsis = false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term.compare(i, 3, "...") == 0 && !seen_ellipsis) {
      seen_ellipsis = true;
      labels.push_back(kEllipsis);
      i += 2;
      continue;
    }
    const int label = LetterLabel(term[i]);
    if (label < 0) {
      return InvalidArgumentError(node.Describe() + ": einsum term '" + term + "' has '" +
                                  term.substr(i, 1) +
                                  "'; terms hold letters and at most one '...'");
    }
    labels.push_back(label);
  }
  return labels;
}

struct EinsumEquation {
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
  bool explicit_output = false;
};

Result<EinsumEquation> ParseEquation(const ir::Node& node, std::string equation) {
  equation.erase(std::remove(equation.begin(), equation.end(), ' '), equation.end());
  EinsumEquation parsed;
  const size_t arrow = equation.find("->");
  const std::string lhs = equation.substr(0, arrow);
  if (arrow != std::string::npos) {
    parsed.explicit_output = true;
    UH_ASSIGN_OR_RETURN(parsed.output, ParseTerm(node, equation.substr(arrow + 2)));
  }
  size_t start = 0;
  while (true) {
    const size_t comma = lhs.find(',', start);
    UH_ASSIGN_OR_RETURN(std::vector<int> term, ParseTerm(node, lhs.substr(start, comma - start)));
    parsed.inputs.push_back(std::move(term));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parsed;
}

// An equation bound to its operands: every term's dims as labels, and each label's size.
struct EinsumPlan {
  std::vector<std::vector<int>> input_dims;  // per input, per dim: its label
  std::vector<int> output_dims;
  std::vector<int64_t> size;  // per label; 1 for labels that do not occur
  int num_labels = kLetterLabels;
};

// Replaces each term's kEllipsis by the labels of its dims (right-aligned in `ellipsis_rank`).
std::vector<int> ExpandEllipsis(const std::vector<int>& term, int64_t dims, int64_t ellipsis_rank) {
  std::vector<int> out;
  for (int label : term) {
    if (label != kEllipsis) {
      out.push_back(label);
      continue;
    }
    for (int64_t e = ellipsis_rank - dims; e < ellipsis_rank; ++e) {
      out.push_back(kLetterLabels + static_cast<int>(e));
    }
  }
  return out;
}

// The implicit output: the ellipsis dims, then the letters that occur once, in letter order.
std::vector<int> ImplicitOutput(const EinsumEquation& eq, int64_t ellipsis_rank) {
  std::vector<int> count(kLetterLabels, 0);
  for (const auto& term : eq.inputs) {
    for (int label : term) {
      if (label != kEllipsis) ++count[static_cast<size_t>(label)];
    }
  }
  std::vector<int> out;
  for (int64_t e = 0; e < ellipsis_rank; ++e) out.push_back(kLetterLabels + static_cast<int>(e));
  // Upper case sorts before lower case, as in ASCII.
  for (int label = 26; label < kLetterLabels; ++label) {
    if (count[static_cast<size_t>(label)] == 1) out.push_back(label);
  }
  for (int label = 0; label < 26; ++label) {
    if (count[static_cast<size_t>(label)] == 1) out.push_back(label);
  }
  return out;
}

// Gives each label its size. Sizes must agree, except that size 1 stretches (broadcasts), as in
// NumPy.
Status BindSizes(const ir::Node& node, const std::vector<const Tensor*>& operands,
                 EinsumPlan& plan) {
  plan.size.assign(static_cast<size_t>(plan.num_labels), -1);
  for (size_t k = 0; k < operands.size(); ++k) {
    for (size_t d = 0; d < plan.input_dims[k].size(); ++d) {
      const int label = plan.input_dims[k][d];
      const int64_t dim = operands[k]->dim(static_cast<int64_t>(d));
      int64_t& size = plan.size[static_cast<size_t>(label)];
      const bool broadcasts = dim == 1 || size == 1;
      if (size == -1 || (broadcasts && size == 1)) {
        size = dim;
      } else if (size != dim && !broadcasts) {
        return InvalidArgumentError(node.Describe() + ": einsum operand " + std::to_string(k) +
                                    " " + operands[k]->Describe() + " has size " +
                                    std::to_string(dim) + " for an index that has size " +
                                    std::to_string(size) + " elsewhere in the equation");
      }
    }
  }
  for (int64_t& size : plan.size) {
    if (size == -1) size = 1;  // a label no operand has
  }
  return Status::Ok();
}

Result<EinsumPlan> PlanEinsum(const ir::Node& node, const EinsumEquation& eq,
                              const std::vector<const Tensor*>& operands) {
  if (eq.inputs.size() != operands.size()) {
    return InvalidArgumentError(
        node.Describe() + ": the equation has " + std::to_string(eq.inputs.size()) +
        " input terms but the node has " + std::to_string(operands.size()) + " inputs");
  }
  std::vector<int64_t> ellipsis_dims(operands.size(), 0);
  int64_t ellipsis_rank = 0;
  for (size_t k = 0; k < operands.size(); ++k) {
    const auto& term = eq.inputs[k];
    const bool has_ellipsis = std::count(term.begin(), term.end(), kEllipsis) > 0;
    const int64_t letters = static_cast<int64_t>(term.size()) - (has_ellipsis ? 1 : 0);
    ellipsis_dims[k] = operands[k]->rank() - letters;
    if (ellipsis_dims[k] < 0 || (!has_ellipsis && ellipsis_dims[k] != 0)) {
      return InvalidArgumentError(node.Describe() + ": einsum term " + std::to_string(k) + " has " +
                                  std::to_string(letters) + " indices but operand " +
                                  operands[k]->Describe() + " has rank " +
                                  std::to_string(operands[k]->rank()));
    }
    ellipsis_rank = std::max(ellipsis_rank, ellipsis_dims[k]);
  }
  EinsumPlan plan;
  plan.num_labels = kLetterLabels + static_cast<int>(ellipsis_rank);
  for (size_t k = 0; k < operands.size(); ++k) {
    plan.input_dims.push_back(ExpandEllipsis(eq.inputs[k], ellipsis_dims[k], ellipsis_rank));
  }
  plan.output_dims = eq.explicit_output ? ExpandEllipsis(eq.output, ellipsis_rank, ellipsis_rank)
                                        : ImplicitOutput(eq, ellipsis_rank);
  std::vector<bool> in_inputs(static_cast<size_t>(plan.num_labels), false);
  for (const auto& dims : plan.input_dims) {
    for (int label : dims) in_inputs[static_cast<size_t>(label)] = true;
  }
  std::vector<bool> in_output(static_cast<size_t>(plan.num_labels), false);
  for (int label : plan.output_dims) {
    if (!in_inputs[static_cast<size_t>(label)] || in_output[static_cast<size_t>(label)]) {
      return InvalidArgumentError(node.Describe() + ": the einsum output repeats an index or " +
                                  "names one that no input has");
    }
    in_output[static_cast<size_t>(label)] = true;
  }
  UH_RETURN_IF_ERROR(BindSizes(node, operands, plan));
  return plan;
}

// Integers multiply and add in uint64 (wrapping as the element type would); floats in float64.
template <typename T>
using EinsumAccumulator = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;

// The odometer over every combination of label values: the output labels (outermost first),
// then the summed ones. stride[k][l] is how far operand k (k == number of operands: the
// output) moves per step of loop dim l.
struct EinsumLoop {
  std::vector<int64_t> extent;
  std::vector<std::vector<int64_t>> stride;
};

EinsumLoop MakeEinsumLoop(const EinsumPlan& plan, const std::vector<const Tensor*>& operands,
                          const Shape& out_shape) {
  std::vector<int> labels = plan.output_dims;
  for (const auto& dims : plan.input_dims) {
    for (int label : dims) {
      if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
    }
  }
  EinsumLoop loop;
  const size_t num_operands = operands.size();
  loop.stride.assign(num_operands + 1, std::vector<int64_t>(labels.size(), 0));
  auto add_strides = [&](size_t k, const std::vector<int>& dims, const Shape& shape) {
    const std::vector<int64_t> strides = StridesOf(shape);
    for (size_t d = 0; d < dims.size(); ++d) {
      if (shape[d] == 1) continue;  // a broadcast (or trivial) dim stays put
      const auto at = std::find(labels.begin(), labels.end(), dims[d]) - labels.begin();
      loop.stride[k][static_cast<size_t>(at)] += strides[d];  // repeated labels add up
    }
  };
  for (size_t k = 0; k < num_operands; ++k) {
    add_strides(k, plan.input_dims[k], operands[k]->shape());
  }
  add_strides(num_operands, plan.output_dims, out_shape);
  for (int label : labels) loop.extent.push_back(plan.size[static_cast<size_t>(label)]);
  return loop;
}

// Steps the odometer over loop dims [first, end) (the last dim fastest) and the offsets with
// it; false once every combination has been visited.
bool AdvanceEinsumLoop(const EinsumLoop& loop, size_t first, std::vector<int64_t>& index,
                       std::vector<int64_t>& offset) {
  for (size_t l = loop.extent.size(); l-- > first;) {
    for (size_t k = 0; k < offset.size(); ++k) offset[k] += loop.stride[k][l];
    if (++index[l] < loop.extent[l]) return true;
    for (size_t k = 0; k < offset.size(); ++k) offset[k] -= loop.stride[k][l] * loop.extent[l];
    index[l] = 0;
  }
  return false;
}

template <typename T>
EinsumAccumulator<T> ToEinsumAccumulator(T value) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<uint64_t>(value);
  } else {
    return AsDouble(value);
  }
}

// out[output labels] = sum over the other labels of the product of the operands. When the
// outermost loop dim is an output dim, its values go to different threads: they write disjoint
// outputs.
template <typename T>
void EvaluateEinsum(hal::ThreadPool& pool, const EinsumPlan& plan,
                    const std::vector<const Tensor*>& operands, Tensor& out) {
  using Acc = EinsumAccumulator<T>;
  const EinsumLoop loop = MakeEinsumLoop(plan, operands, out.shape());
  const size_t num_operands = operands.size();
  std::vector<Acc> acc(static_cast<size_t>(out.num_elements()), Acc{0});
  std::vector<const T*> data(num_operands);
  for (size_t k = 0; k < num_operands; ++k) data[k] = operands[k]->data_as<T>();
  const bool empty = std::find(loop.extent.begin(), loop.extent.end(), 0) != loop.extent.end();
  const size_t split = plan.output_dims.empty() ? 0 : 1;  // loop dims handed out to threads
  int64_t per_task = 1;
  for (size_t l = split; l < loop.extent.size(); ++l) per_task *= loop.extent[l];
  const int64_t tasks = split ? loop.extent[0] : 1;
  auto run = [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      std::vector<int64_t> index(loop.extent.size(), 0), offset(num_operands + 1, 0);
      if (split) {
        index[0] = task;
        for (size_t k = 0; k <= num_operands; ++k) offset[k] = task * loop.stride[k][0];
      }
      do {
        Acc product{1};
        for (size_t k = 0; k < num_operands; ++k)
          product *= ToEinsumAccumulator(data[k][offset[k]]);
        acc[static_cast<size_t>(offset[num_operands])] += product;
      } while (AdvanceEinsumLoop(loop, split, index, offset));
    }
  };
  if (!empty) pool.ParallelFor(tasks, std::max<int64_t>(1, (1 << 16) / per_task), run);
  T* dst = out.data_as<T>();
  for (size_t i = 0; i < acc.size(); ++i) {
    if constexpr (std::is_integral_v<T>) {
      dst[i] = static_cast<T>(acc[i]);
    } else {
      dst[i] = FromDouble<T>(acc[i]);
    }
  }
}

Status ComputeEinsum(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const std::string equation, node.GetString("equation"));
  UH_ASSIGN_OR_RETURN(const EinsumEquation parsed, ParseEquation(node, equation));
  std::vector<const Tensor*> operands;
  for (size_t i = 0; i < context.num_inputs(); ++i) {
    UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, i));
    UH_RETURN_IF_ERROR(CheckDType(node, *x, "input " + std::to_string(i), NumericDTypes()));
    operands.push_back(x);
  }
  if (operands.empty()) {
    return InvalidArgumentError(node.Describe() + ": Einsum needs at least one input");
  }
  for (size_t i = 1; i < operands.size(); ++i) {
    UH_RETURN_IF_ERROR(
        CheckDType(node, *operands[i], "input " + std::to_string(i), {operands[0]->dtype()}));
  }
  UH_ASSIGN_OR_RETURN(const EinsumPlan plan, PlanEinsum(node, parsed, operands));
  Shape out_shape;
  for (int label : plan.output_dims) out_shape.push_back(plan.size[static_cast<size_t>(label)]);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, operands[0]->dtype(), out_shape));
  VisitNumericDType(out->dtype(), [&](auto tag) {
    EvaluateEinsum<decltype(tag)>(context.thread_pool(), plan, operands, *out);
  });
  return Status::Ok();
}

// ---- Det ----

// The determinant of the m x m row-major matrix `a` (overwritten), by LU with partial pivoting.
double Determinant(std::vector<double>& a, int64_t m) {
  double det = 1.0;
  for (int64_t col = 0; col < m; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < m; ++r) {
      if (std::fabs(a[r * m + col]) > std::fabs(a[pivot * m + col])) pivot = r;
    }
    if (a[pivot * m + col] == 0.0) return 0.0;
    if (pivot != col) {
      for (int64_t c = 0; c < m; ++c) std::swap(a[col * m + c], a[pivot * m + c]);
      det = -det;
    }
    const double diagonal = a[col * m + col];
    det *= diagonal;
    for (int64_t r = col + 1; r < m; ++r) {
      const double factor = a[r * m + col] / diagonal;
      for (int64_t c = col + 1; c < m; ++c) a[r * m + c] -= factor * a[col * m + c];
    }
  }
  return det;
}

Status ComputeDet(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input 0", FloatDTypes()));
  const int64_t rank = x->rank();
  if (rank < 2 || x->dim(rank - 1) != x->dim(rank - 2)) {
    return InvalidArgumentError(node.Describe() + ": Det needs square matrices [*, M, M], got " +
                                x->Describe());
  }
  const int64_t m = x->dim(rank - 1);
  const Shape out_shape(x->shape().begin(), x->shape().end() - 2);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, x->dtype(), out_shape));
  VisitFloatDType(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = x->data_as<T>();
    std::vector<double> matrix(static_cast<size_t>(m * m));
    for (int64_t b = 0; b < out->num_elements(); ++b) {
      for (int64_t i = 0; i < m * m; ++i)
        matrix[static_cast<size_t>(i)] = AsDouble(src[b * m * m + i]);
      out->data_as<T>()[b] = FromDouble<T>(Determinant(matrix, m));
    }
  });
  return Status::Ok();
}

}  // namespace

void RegisterLinalgKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("Einsum", 12, INT_MAX, StatelessKernel(ComputeEinsum),
                                       AcceptInputDTypes({0}, NumericDTypes())));
  registry.Register(ReferenceKernelDef("Det", 11, INT_MAX, StatelessKernel(ComputeDet),
                                       AcceptInputDTypes({0}, FloatDTypes())));
}

}  // namespace unihal::cpu
