// Reference recurrent kernels: RNN, GRU and LSTM with every direction, activation list, clip,
// sequence_lens, initial states, peepholes, GRU's linear_before_reset, LSTM's input_forget and
// (opset 14+) the batch-major layout. Computes in float64 one batch row at a time.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/recurrent_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// Inputs converted to float64, time-major ([seq, batch, ...] / [dirs, batch, hidden]).
struct RecurrentInputs {
  int64_t seq = 0, batch = 0, input = 0, dirs = 0, hidden = 0;
  std::vector<double> x, w, r, bias, initial_h, initial_c, peepholes;
  std::vector<int64_t> lengths;
};

// Swaps the first two dims of a rank-3 row-major array (layout 1 <-> layout 0).
std::vector<double> SwapLeadingDims(const std::vector<double>& v, int64_t d0, int64_t d1,
                                    int64_t inner) {
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < d0; ++i) {
    for (int64_t j = 0; j < d1; ++j) {
      std::copy_n(v.begin() + (i * d1 + j) * inner, inner, out.begin() + (j * d0 + i) * inner);
    }
  }
  return out;
}

Status CheckShape(const ir::Node& node, const Tensor& t, const std::string& what,
                  const Shape& expected) {
  if (t.shape() == expected) return Status::Ok();
  return InvalidArgumentError(node.Describe() + ": " + what + " must have shape " +
                              ShapeToString(expected) + ", got " + t.Describe());
}

// Optional input i of `expected` shape as doubles, or `fill` when absent.
Result<std::vector<double>> OptionalFloats(const KernelContext& context, size_t i,
                                           const std::string& what, const Shape& expected,
                                           DType dtype, double fill) {
  const Tensor* t = context.input(i);
  if (!t) return std::vector<double>(static_cast<size_t>(NumElements(expected)), fill);
  UH_RETURN_IF_ERROR(CheckDType(context.node(), *t, what, {dtype}));
  UH_RETURN_IF_ERROR(CheckShape(context.node(), *t, what, expected));
  return FloatsOf(*t);
}

Result<std::vector<int64_t>> SequenceLengths(const KernelContext& context, int64_t seq,
                                             int64_t batch) {
  const Tensor* t = context.input(4);
  if (!t) return std::vector<int64_t>(static_cast<size_t>(batch), seq);
  UH_RETURN_IF_ERROR(CheckDType(context.node(), *t, "sequence_lens", {DType::kI32}));
  UH_RETURN_IF_ERROR(CheckShape(context.node(), *t, "sequence_lens", {batch}));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> lengths, t->ToInt64Vector());
  for (int64_t len : lengths) {
    if (len < 0 || len > seq) {
      return InvalidArgumentError(context.node().Describe() + ": sequence_lens value " +
                                  std::to_string(len) + " is outside [0, " + std::to_string(seq) +
                                  "]");
    }
  }
  return lengths;
}

Result<RecurrentInputs> ReadInputs(const KernelContext& context, const RecurrentSpec& spec) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* w, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* r, NeedInput(context, 2));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", FloatDTypes()));
  if (x->rank() != 3) {
    return InvalidArgumentError(node.Describe() + ": X must be rank 3, got " + x->Describe());
  }
  RecurrentInputs in;
  in.seq = x->dim(spec.batch_major ? 1 : 0);
  in.batch = x->dim(spec.batch_major ? 0 : 1);
  in.input = x->dim(2);
  in.dirs = spec.directions;
  in.hidden = spec.hidden > 0 ? spec.hidden : (r->rank() == 3 ? r->dim(2) : 0);
  const int64_t gh = spec.gates * in.hidden;
  const Shape state_shape =
      spec.batch_major ? Shape{in.batch, in.dirs, in.hidden} : Shape{in.dirs, in.batch, in.hidden};
  const DType dtype = x->dtype();
  for (const auto& [t, name, shape] : {std::tuple{w, "W", Shape{in.dirs, gh, in.input}},
                                       std::tuple{r, "R", Shape{in.dirs, gh, in.hidden}}}) {
    UH_RETURN_IF_ERROR(CheckDType(node, *t, name, {dtype}));
    UH_RETURN_IF_ERROR(CheckShape(node, *t, name, shape));
  }
  in.x = FloatsOf(*x);
  in.w = FloatsOf(*w);
  in.r = FloatsOf(*r);
  UH_ASSIGN_OR_RETURN(in.bias, OptionalFloats(context, 3, "B", {in.dirs, 2 * gh}, dtype, 0.0));
  UH_ASSIGN_OR_RETURN(in.lengths, SequenceLengths(context, in.seq, in.batch));
  UH_ASSIGN_OR_RETURN(in.initial_h,
                      OptionalFloats(context, 5, "initial_h", state_shape, dtype, 0.0));
  if (spec.cell == CellKind::kLstm) {
    UH_ASSIGN_OR_RETURN(in.initial_c,
                        OptionalFloats(context, 6, "initial_c", state_shape, dtype, 0.0));
    UH_ASSIGN_OR_RETURN(in.peepholes,
                        OptionalFloats(context, 7, "P", {in.dirs, 3 * in.hidden}, dtype, 0.0));
  }
  if (spec.batch_major) {
    in.x = SwapLeadingDims(in.x, in.batch, in.seq, in.input);
    in.initial_h = SwapLeadingDims(in.initial_h, in.batch, in.dirs, in.hidden);
    if (!in.initial_c.empty())
      in.initial_c = SwapLeadingDims(in.initial_c, in.batch, in.dirs, in.hidden);
  }
  return in;
}

// Time-major results: y [seq, dirs, batch, hidden], y_h and y_c [dirs, batch, hidden].
struct RecurrentOutputs {
  std::vector<double> y, y_h, y_c;
};

void RunDirection(const RecurrentSpec& spec, const RecurrentInputs& in, int64_t d,
                  RecurrentOutputs& out) {
  const int64_t h_size = in.hidden;
  const int64_t gh = spec.gates * h_size;
  CellWeights weights;
  weights.w = in.w.data() + d * gh * in.input;
  weights.r = in.r.data() + d * gh * h_size;
  weights.wb = in.bias.data() + d * 2 * gh;
  weights.rb = weights.wb + gh;
  weights.p = in.peepholes.empty() ? nullptr : in.peepholes.data() + d * 3 * h_size;
  weights.input = in.input;
  weights.hidden = h_size;
  const bool reverse = spec.reverse_only || d == 1;
  const Activation* activations = spec.activations.data() + d * spec.ActivationsPerDirection();
  std::vector<double> h(static_cast<size_t>(h_size)), c(static_cast<size_t>(h_size));
  for (int64_t b = 0; b < in.batch; ++b) {
    const int64_t state_at = (d * in.batch + b) * h_size;
    std::copy_n(in.initial_h.begin() + state_at, h_size, h.begin());
    if (spec.cell == CellKind::kLstm)
      std::copy_n(in.initial_c.begin() + state_at, h_size, c.begin());
    const int64_t len = in.lengths[static_cast<size_t>(b)];
    for (int64_t s = 0; s < len; ++s) {
      const int64_t t = reverse ? len - 1 - s : s;
      const double* x = in.x.data() + (t * in.batch + b) * in.input;
      StepCell(spec, activations, weights, x, h.data(), c.data());
      std::copy(h.begin(), h.end(), out.y.begin() + ((t * in.dirs + d) * in.batch + b) * h_size);
    }
    std::copy(h.begin(), h.end(), out.y_h.begin() + state_at);
    if (spec.cell == CellKind::kLstm) std::copy(c.begin(), c.end(), out.y_c.begin() + state_at);
  }
}

// Writes time-major `values` to output i in the node's layout.
Status WriteOutput(KernelContext& context, size_t i, DType dtype, Shape time_major,
                   std::vector<double> values, bool batch_major) {
  if (i >= context.num_outputs()) return Status::Ok();
  Shape shape = time_major;
  if (batch_major && time_major.size() == 4) {
    // [seq, dirs, batch, hidden] -> [batch, seq, dirs, hidden]
    values = SwapLeadingDims(values, time_major[0] * time_major[1], time_major[2], time_major[3]);
    shape = {time_major[2], time_major[0], time_major[1], time_major[3]};
  } else if (batch_major) {
    values = SwapLeadingDims(values, time_major[0], time_major[1], time_major[2]);
    shape = {time_major[1], time_major[0], time_major[2]};
  }
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(i, dtype, shape));
  VisitFloatDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* data = out->data_as<T>();
    for (size_t k = 0; k < values.size(); ++k) data[k] = FromDouble<T>(values[k]);
  });
  return Status::Ok();
}

Status ComputeRecurrent(KernelContext& context, const RecurrentSpec& spec) {
  UH_ASSIGN_OR_RETURN(const RecurrentInputs in, ReadInputs(context, spec));
  const DType dtype = context.input(0)->dtype();
  RecurrentOutputs out;
  out.y.assign(static_cast<size_t>(in.seq * in.dirs * in.batch * in.hidden), 0.0);
  out.y_h.assign(static_cast<size_t>(in.dirs * in.batch * in.hidden), 0.0);
  if (spec.cell == CellKind::kLstm) out.y_c = out.y_h;
  for (int64_t d = 0; d < in.dirs; ++d) RunDirection(spec, in, d, out);
  const Shape state{in.dirs, in.batch, in.hidden};
  UH_RETURN_IF_ERROR(WriteOutput(context, 0, dtype, {in.seq, in.dirs, in.batch, in.hidden},
                                 std::move(out.y), spec.batch_major));
  UH_RETURN_IF_ERROR(WriteOutput(context, 1, dtype, state, std::move(out.y_h), spec.batch_major));
  if (spec.cell == CellKind::kLstm) {
    UH_RETURN_IF_ERROR(WriteOutput(context, 2, dtype, state, std::move(out.y_c), spec.batch_major));
  }
  return Status::Ok();
}

hal::KernelFactory RecurrentFactory(CellKind cell) {
  return [cell](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
    UH_ASSIGN_OR_RETURN(RecurrentSpec spec, ParseRecurrentSpec(info.node, cell));
    return MakeFunctionKernel([spec = std::move(spec)](KernelContext& context) {
      return ComputeRecurrent(context, spec);
    });
  };
}

}  // namespace

void RegisterRecurrentKernels(hal::KernelRegistry& registry) {
  auto floats = AcceptInputDTypes({0, 1, 2}, FloatDTypes());
  registry.Register(
      ReferenceKernelDef("RNN", 7, INT_MAX, RecurrentFactory(CellKind::kRnn), floats));
  registry.Register(
      ReferenceKernelDef("GRU", 7, INT_MAX, RecurrentFactory(CellKind::kGru), floats));
  registry.Register(
      ReferenceKernelDef("LSTM", 7, INT_MAX, RecurrentFactory(CellKind::kLstm), floats));
}

}  // namespace unihal::cpu
