// Reference recurrent attention-family ops of opset 27: LinearAttention (linear, gated, delta
// and gated-delta state updates with grouped-query heads) and CausalConvWithState (depthwise
// causal conv1d with a carried state and optional SiLU). Computed in float64.
#include <climits>
#include <cmath>

#include "drivers/cpu/kernels/attention_util.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// ---- LinearAttention ----

struct LinearAttentionGeometry {
  int64_t batch = 0;
  int64_t len = 0;
  int64_t q_heads = 0;
  int64_t kv_heads = 0;
  int64_t key_size = 0;
  int64_t value_size = 0;
  int64_t decay_width = 0;  // 1 (per head) or key_size (per key dim); 0 without decay
  int64_t beta_heads = 0;   // kv_heads or 1; 0 without beta
};

// The rule's gate and delta inputs: decay (input 4) and beta (input 5) must be present
// exactly when the rule uses them.
Status CheckRuleInputs(const ir::Node& node, const std::string& rule, const Tensor* decay,
                       const Tensor* beta) {
  const bool gating = rule == "gated" || rule == "gated_delta";
  const bool delta = rule == "delta" || rule == "gated_delta";
  if (!gating && !delta && rule != "linear") {
    return NodeError(node,
                     "update_rule '" + rule + "' is not one of linear, gated, delta, gated_delta");
  }
  if (gating != (decay != nullptr)) {
    return NodeError(
        node, "update_rule '" + rule + (gating ? "' needs" : "' forbids") + " the decay input");
  }
  if (delta != (beta != nullptr)) {
    return NodeError(
        node, "update_rule '" + rule + (delta ? "' needs" : "' forbids") + " the beta input");
  }
  return Status::Ok();
}

Result<LinearAttentionGeometry> ReadLinearGeometry(const ir::Node& node, const Tensor& q,
                                                   const Tensor& k, const Tensor& v,
                                                   const Tensor* decay, const Tensor* beta) {
  LinearAttentionGeometry g;
  UH_ASSIGN_OR_RETURN(g.q_heads, node.GetInt("q_num_heads", 0));
  UH_ASSIGN_OR_RETURN(g.kv_heads, node.GetInt("kv_num_heads", 0));
  if (g.q_heads <= 0 || g.kv_heads <= 0 || g.q_heads % g.kv_heads != 0) {
    return NodeError(node,
                     "q_num_heads and kv_num_heads must be positive with q_num_heads a "
                     "multiple of kv_num_heads");
  }
  if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3) {
    return NodeError(node, "query, key and value must be 3-D (batch, seq, heads * size)");
  }
  g.batch = q.dim(0);
  g.len = q.dim(1);
  g.key_size = q.dim(2) / g.q_heads;
  g.value_size = v.dim(2) / g.kv_heads;
  if (q.dim(2) % g.q_heads != 0 || k.shape() != Shape{g.batch, g.len, g.kv_heads * g.key_size} ||
      v.dim(0) != g.batch || v.dim(1) != g.len || v.dim(2) % g.kv_heads != 0) {
    return NodeError(node, "query " + q.Describe() + ", key " + k.Describe() + " and value " +
                               v.Describe() + " disagree with the head counts");
  }
  if (decay) {
    const int64_t last = decay->rank() == 3 ? decay->dim(2) : -1;
    g.decay_width = last == g.kv_heads ? 1 : g.key_size;
    if (decay->rank() != 3 || decay->dim(0) != g.batch || decay->dim(1) != g.len ||
        (last != g.kv_heads && last != g.kv_heads * g.key_size)) {
      return NodeError(node, "decay " + decay->Describe() +
                                 " must be (batch, seq, kv_num_heads or kv_num_heads * d_k)");
    }
  }
  if (beta) {
    g.beta_heads = beta->rank() == 3 ? beta->dim(2) : -1;
    if (beta->rank() != 3 || beta->dim(0) != g.batch || beta->dim(1) != g.len ||
        (g.beta_heads != g.kv_heads && g.beta_heads != 1)) {
      return NodeError(node,
                       "beta " + beta->Describe() + " must be (batch, seq, kv_num_heads or 1)");
    }
  }
  return g;
}

struct LinearAttentionOperands {
  LinearAttentionGeometry g;
  double scale = 1.0;
  std::vector<double> q, k, v, decay, beta;
  std::vector<double> state;  // (batch, kv_heads, key_size, value_size), updated in place
};

// One step of head (b, kv_h) at time t: gate, delta-correct and write the state, then read it
// with each query head of the group into `out` (batch, len, q_heads * value_size).
void LinearAttentionStep(LinearAttentionOperands& op, int64_t b, int64_t kv_h, int64_t t,
                         std::vector<double>& out) {
  const LinearAttentionGeometry& g = op.g;
  const int64_t dk = g.key_size;
  const int64_t dv = g.value_size;
  double* state = op.state.data() + (b * g.kv_heads + kv_h) * dk * dv;
  const double* k = op.k.data() + ((b * g.len + t) * g.kv_heads + kv_h) * dk;
  std::vector<double> v(op.v.begin() + ((b * g.len + t) * g.kv_heads + kv_h) * dv,
                        op.v.begin() + ((b * g.len + t) * g.kv_heads + kv_h + 1) * dv);
  if (g.decay_width > 0) {
    const double* gate = op.decay.data() + ((b * g.len + t) * g.kv_heads + kv_h) * g.decay_width;
    for (int64_t d = 0; d < dk; ++d) {
      const double factor = std::exp(gate[g.decay_width == 1 ? 0 : d]);
      for (int64_t m = 0; m < dv; ++m) state[d * dv + m] *= factor;
    }
  }
  if (g.beta_heads > 0) {
    const double beta =
        op.beta[static_cast<size_t>((b * g.len + t) * g.beta_heads + kv_h % g.beta_heads)];
    for (int64_t m = 0; m < dv; ++m) {
      double retrieved = 0.0;
      for (int64_t d = 0; d < dk; ++d) retrieved += state[d * dv + m] * k[d];
      v[m] = beta * (v[m] - retrieved);
    }
  }
  for (int64_t d = 0; d < dk; ++d) {
    for (int64_t m = 0; m < dv; ++m) state[d * dv + m] += k[d] * v[m];
  }
  const int64_t group = g.q_heads / g.kv_heads;
  for (int64_t h = kv_h * group; h < (kv_h + 1) * group; ++h) {
    const double* q = op.q.data() + ((b * g.len + t) * g.q_heads + h) * dk;
    double* o = out.data() + ((b * g.len + t) * g.q_heads + h) * dv;
    for (int64_t m = 0; m < dv; ++m) {
      double acc = 0.0;
      for (int64_t d = 0; d < dk; ++d) acc += q[d] * state[d * dv + m];
      o[m] = op.scale * acc;
    }
  }
}

Status ReadLinearOperands(const ir::Node& node, const Tensor& q, const Tensor& k, const Tensor& v,
                          const Tensor* past, const Tensor* decay, const Tensor* beta,
                          LinearAttentionOperands& op) {
  UH_ASSIGN_OR_RETURN(op.g, ReadLinearGeometry(node, q, k, v, decay, beta));
  const LinearAttentionGeometry& g = op.g;
  const Shape state_shape = {g.batch, g.kv_heads, g.key_size, g.value_size};
  if (past && past->shape() != state_shape) {
    return NodeError(
        node, "past_state " + past->Describe() + " must have shape " + ShapeToString(state_shape));
  }
  UH_ASSIGN_OR_RETURN(const float scale, node.GetFloat("scale", 0.0f));
  op.scale = scale == 0.0f ? 1.0 / std::sqrt(static_cast<double>(g.key_size)) : scale;
  op.q = ToDoubles(q);
  op.k = ToDoubles(k);
  op.v = ToDoubles(v);
  if (decay) op.decay = ToDoubles(*decay);
  if (beta) op.beta = ToDoubles(*beta);
  op.state = past ? ToDoubles(*past) : std::vector<double>(NumElements(state_shape), 0.0);
  return Status::Ok();
}

Status ComputeLinearAttention(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* q, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* k, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* v, NeedInput(context, 2));
  const Tensor* past = context.input(3);
  const Tensor* decay = context.input(4);
  const Tensor* beta = context.input(5);
  const std::vector<DType> floats = {DType::kF32, DType::kF16, DType::kBF16};
  UH_RETURN_IF_ERROR(CheckDType(node, *q, "query", floats));
  UH_RETURN_IF_ERROR(CheckDType(node, *k, "key", {q->dtype()}));
  UH_RETURN_IF_ERROR(CheckDType(node, *v, "value", {q->dtype()}));
  if (past) UH_RETURN_IF_ERROR(CheckDType(node, *past, "past_state", floats));
  if (decay) UH_RETURN_IF_ERROR(CheckDType(node, *decay, "decay", {q->dtype()}));
  if (beta) UH_RETURN_IF_ERROR(CheckDType(node, *beta, "beta", {q->dtype()}));
  UH_ASSIGN_OR_RETURN(const std::string rule, node.GetString("update_rule", "gated_delta"));
  UH_RETURN_IF_ERROR(CheckRuleInputs(node, rule, decay, beta));
  LinearAttentionOperands op;
  UH_RETURN_IF_ERROR(ReadLinearOperands(node, *q, *k, *v, past, decay, beta, op));
  const LinearAttentionGeometry& g = op.g;
  std::vector<double> out(static_cast<size_t>(g.batch * g.len * g.q_heads * g.value_size));
  for (int64_t b = 0; b < g.batch; ++b) {
    for (int64_t kv_h = 0; kv_h < g.kv_heads; ++kv_h) {
      for (int64_t t = 0; t < g.len; ++t) LinearAttentionStep(op, b, kv_h, t, out);
    }
  }
  UH_RETURN_IF_ERROR(
      WriteDoubles(context, 0, q->dtype(), {g.batch, g.len, g.q_heads * g.value_size}, out));
  return WriteDoubles(context, 1, past ? past->dtype() : q->dtype(),
                      {g.batch, g.kv_heads, g.key_size, g.value_size}, op.state);
}

// ---- CausalConvWithState ----

// `value` rounded to `dtype`, as the reference rounds the conv result before the activation.
double RoundTo(DType dtype, double value) {
  double rounded = value;
  VisitFloatDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    rounded = AsDouble(FromDouble<T>(value));
  });
  return rounded;
}

Status CheckCausalConvShapes(const ir::Node& node, const Tensor& x, const Tensor& w,
                             const Tensor* bias, const Tensor* past) {
  if (x.rank() != 3 || w.rank() != 3 || w.dim(0) != x.dim(1) || w.dim(1) != 1 || w.dim(2) < 1) {
    return NodeError(node, "input " + x.Describe() + " must be (batch, channels, length) and " +
                               "weight " + w.Describe() + " (channels, 1, kernel_size)");
  }
  if (bias && bias->shape() != Shape{x.dim(1)}) {
    return NodeError(node, "bias " + bias->Describe() + " must be (channels)");
  }
  const Shape state_shape = {x.dim(0), x.dim(1), w.dim(2) - 1};
  if (past && past->shape() != state_shape) {
    return NodeError(
        node, "past_state " + past->Describe() + " must have shape " + ShapeToString(state_shape));
  }
  return Status::Ok();
}

Status ComputeCausalConvWithState(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* w, NeedInput(context, 1));
  const Tensor* bias = context.input(2);
  const Tensor* past = context.input(3);
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input", {DType::kF32, DType::kF16, DType::kBF16}));
  UH_RETURN_IF_ERROR(CheckDType(node, *w, "weight", {x->dtype()}));
  if (bias) UH_RETURN_IF_ERROR(CheckDType(node, *bias, "bias", {x->dtype()}));
  if (past) UH_RETURN_IF_ERROR(CheckDType(node, *past, "past_state", {x->dtype()}));
  UH_ASSIGN_OR_RETURN(const std::string activation, node.GetString("activation", "none"));
  const bool silu = activation == "silu" || activation == "swish";
  if (!silu && activation != "none") {
    return NodeError(node, "activation '" + activation + "' is not one of none, silu, swish");
  }
  UH_RETURN_IF_ERROR(CheckCausalConvShapes(node, *x, *w, bias, past));
  const int64_t batch = x->dim(0), channels = x->dim(1), len = x->dim(2), ksize = w->dim(2);
  const int64_t padded_len = len + ksize - 1;
  const std::vector<double> xs = ToDoubles(*x), ws = ToDoubles(*w);
  const std::vector<double> bs = bias ? ToDoubles(*bias) : std::vector<double>(channels, 0.0);
  const std::vector<double> ps = past ? ToDoubles(*past) : std::vector<double>();
  std::vector<double> y(static_cast<size_t>(batch * channels * len));
  std::vector<double> state(static_cast<size_t>(batch * channels * (ksize - 1)));
  std::vector<double> padded(static_cast<size_t>(padded_len));
  for (int64_t bc = 0; bc < batch * channels; ++bc) {
    const int64_t c = bc % channels;
    std::fill(padded.begin(), padded.end(), 0.0);
    if (past) std::copy_n(ps.begin() + bc * (ksize - 1), ksize - 1, padded.begin());
    std::copy_n(xs.begin() + bc * len, len, padded.begin() + (ksize - 1));
    for (int64_t l = 0; l < len; ++l) {
      double acc = bs[static_cast<size_t>(c)];
      for (int64_t i = 0; i < ksize; ++i) acc += ws[c * ksize + i] * padded[l + i];
      acc = RoundTo(x->dtype(), acc);
      y[bc * len + l] = silu ? acc / (1.0 + std::exp(-acc)) : acc;
    }
    std::copy_n(padded.begin() + len, ksize - 1, state.begin() + bc * (ksize - 1));
  }
  UH_RETURN_IF_ERROR(WriteDoubles(context, 0, x->dtype(), x->shape(), y));
  return WriteDoubles(context, 1, x->dtype(), {batch, channels, ksize - 1}, state);
}

}  // namespace

void RegisterRecurrentAttentionKernels(hal::KernelRegistry& registry) {
  const std::vector<DType> floats = {DType::kF32, DType::kF16, DType::kBF16};
  registry.Register(ReferenceKernelDef("LinearAttention", 27, INT_MAX,
                                       StatelessKernel(ComputeLinearAttention),
                                       AcceptInputDTypes({0, 1, 2}, floats)));
  registry.Register(ReferenceKernelDef("CausalConvWithState", 27, INT_MAX,
                                       StatelessKernel(ComputeCausalConvWithState),
                                       AcceptInputDTypes({0, 1}, floats)));
}

}  // namespace unihal::cpu
