// Reference Attention (opsets 23 and 24): scaled dot-product attention over 3-D (heads packed
// in the last dim) or 4-D inputs, with grouped-query heads, a KV cache (past/present), boolean
// or additive masks, causal masking, softcap, padding lengths and the optional qk output. Every
// step runs in float64, so float16/bfloat16 inputs get a float32-or-better softmax as the spec
// asks; results are rounded once into the input dtype.
#include <climits>
#include <cmath>
#include <limits>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/attention_util.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Sizes of one Attention call after the 3-D inputs are split into heads.
struct AttentionGeometry {
  bool packed = false;  // 3-D inputs: (batch, seq, heads * head_size)
  int64_t batch = 0;
  int64_t q_heads = 0;
  int64_t kv_heads = 0;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  int64_t past_len = 0;
  int64_t total_len = 0;
  int64_t head_size = 0;
  int64_t v_head_size = 0;
};

// The head count of a packed 3-D input from `attribute`, and the head size it implies.
Result<int64_t> PackedHeadSize(const ir::Node& node, const Tensor& t, const std::string& what,
                               const char* attribute, int64_t* heads) {
  UH_ASSIGN_OR_RETURN(*heads, node.GetInt(attribute, 0));
  if (*heads <= 0) {
    return NodeError(node, std::string("3-D inputs need a positive ") + attribute + " attribute");
  }
  if (t.dim(2) % *heads != 0) {
    return NodeError(node, what + " hidden size " + std::to_string(t.dim(2)) +
                               " is not divisible by " + attribute + " " + std::to_string(*heads));
  }
  return t.dim(2) / *heads;
}

Status ReadQkvGeometry(const ir::Node& node, const Tensor& q, const Tensor& k, const Tensor& v,
                       AttentionGeometry& g) {
  if (q.rank() != k.rank() || q.rank() != v.rank() || (q.rank() != 3 && q.rank() != 4)) {
    return NodeError(node, "Q, K and V must all be 3-D or all 4-D, got " + q.Describe() + ", " +
                               k.Describe() + ", " + v.Describe());
  }
  g.packed = q.rank() == 3;
  g.batch = q.dim(0);
  int64_t v_heads = 0;
  int64_t k_head_size = 0;
  if (g.packed) {
    UH_ASSIGN_OR_RETURN(g.head_size, PackedHeadSize(node, q, "Q", "q_num_heads", &g.q_heads));
    UH_ASSIGN_OR_RETURN(k_head_size, PackedHeadSize(node, k, "K", "kv_num_heads", &g.kv_heads));
    UH_ASSIGN_OR_RETURN(g.v_head_size, PackedHeadSize(node, v, "V", "kv_num_heads", &v_heads));
    g.q_len = q.dim(1);
    g.kv_len = k.dim(1);
  } else {
    g.q_heads = q.dim(1);
    g.kv_heads = k.dim(1);
    v_heads = v.dim(1);
    g.q_len = q.dim(2);
    g.kv_len = k.dim(2);
    g.head_size = q.dim(3);
    k_head_size = k.dim(3);
    g.v_head_size = v.dim(3);
  }
  const int64_t v_len = g.packed ? v.dim(1) : v.dim(2);
  if (k.dim(0) != g.batch || v.dim(0) != g.batch || v_len != g.kv_len || v_heads != g.kv_heads ||
      k_head_size != g.head_size) {
    return NodeError(node, "Q " + q.Describe() + ", K " + k.Describe() + " and V " + v.Describe() +
                               " disagree on batch, heads, length or head size");
  }
  if (g.kv_heads <= 0 || g.q_heads % g.kv_heads != 0) {
    return NodeError(node, "q_num_heads " + std::to_string(g.q_heads) +
                               " is not a multiple of kv_num_heads " + std::to_string(g.kv_heads));
  }
  return Status::Ok();
}

// Checks past_key (batch, kv_heads, past, head_size) and past_value against the geometry.
Status ReadPastGeometry(const ir::Node& node, const Tensor* past_key, const Tensor* past_value,
                        AttentionGeometry& g) {
  g.past_len = 0;
  if ((past_key == nullptr) != (past_value == nullptr)) {
    return NodeError(node, "past_key and past_value must be given together");
  }
  if (past_key) {
    g.past_len = past_key->rank() == 4 ? past_key->dim(2) : -1;
    const Shape want_k = {g.batch, g.kv_heads, g.past_len, g.head_size};
    const Shape want_v = {g.batch, g.kv_heads, g.past_len, g.v_head_size};
    if (past_key->shape() != want_k || past_value->shape() != want_v) {
      return NodeError(node, "past_key " + past_key->Describe() + " / past_value " +
                                 past_value->Describe() + " do not match (batch, kv_num_heads, " +
                                 "past_len, head_size) = " + ShapeToString(want_k) + " / " +
                                 ShapeToString(want_v));
    }
  }
  g.total_len = g.past_len + g.kv_len;
  return Status::Ok();
}

// past ++ new along the sequence, as (batch, kv_heads, total_len, size) doubles.
std::vector<double> ConcatCache(const AttentionGeometry& g, const Tensor* past, const Tensor& fresh,
                                int64_t size) {
  std::vector<double> cache(static_cast<size_t>(g.batch * g.kv_heads * g.total_len * size));
  const std::vector<double> past_values = past ? ToDoubles(*past) : std::vector<double>();
  const std::vector<double> fresh_values = ToDoubles(fresh);
  for (int64_t b = 0; b < g.batch; ++b) {
    for (int64_t h = 0; h < g.kv_heads; ++h) {
      double* dst = cache.data() + (b * g.kv_heads + h) * g.total_len * size;
      for (int64_t s = 0; s < g.past_len; ++s) {
        const double* src = past_values.data() + ((b * g.kv_heads + h) * g.past_len + s) * size;
        std::copy(src, src + size, dst + s * size);
      }
      for (int64_t s = 0; s < g.kv_len; ++s) {
        const double* src =
            fresh_values.data() + HeadOffset(g.packed, b, h, s, g.kv_heads, g.kv_len, size);
        std::copy(src, src + size, dst + (g.past_len + s) * size);
      }
    }
  }
  return cache;
}

// The additive bias of score (b, h, i, j): the mask (padded with -inf past its last dim), the
// causal triangle (offset by the past length) and the per-batch padding lengths.
class AttentionBias {
 public:
  Status Init(const ir::Node& node, const Tensor* mask, const Tensor* nonpad, bool causal,
              const AttentionGeometry& g);
  double At(int64_t b, int64_t h, int64_t i, int64_t j) const {
    double bias = 0.0;
    if (has_mask_) {
      bias =
          j < mask_len_
              ? mask_[static_cast<size_t>(b * strides_[0] + h * strides_[1] + i * strides_[2] + j)]
              : kNegInf;
    }
    if (causal_ && j > past_len_ + i) bias = kNegInf;
    if (!nonpad_.empty() && j >= nonpad_[static_cast<size_t>(b)]) bias = kNegInf;
    return bias;
  }

 private:
  Status InitMask(const ir::Node& node, const Tensor& mask, const AttentionGeometry& g);

  bool has_mask_ = false;
  std::vector<double> mask_;
  int64_t strides_[3] = {0, 0, 0};
  int64_t mask_len_ = 0;
  bool causal_ = false;
  int64_t past_len_ = 0;
  std::vector<int64_t> nonpad_;
};

Status AttentionBias::InitMask(const ir::Node& node, const Tensor& mask,
                               const AttentionGeometry& g) {
  if (mask.rank() < 1 || mask.rank() > 4) {
    return NodeError(node, "attn_mask must have rank 1 to 4, got " + mask.Describe());
  }
  Shape dims(static_cast<size_t>(4 - mask.rank()), 1);
  dims.insert(dims.end(), mask.shape().begin(), mask.shape().end());
  const int64_t target[3] = {g.batch, g.q_heads, g.q_len};
  int64_t stride = dims[3];
  for (int d = 2; d >= 0; --d) {
    if (dims[d] != 1 && dims[d] != target[d]) {
      return NodeError(node, "attn_mask " + mask.Describe() +
                                 " does not broadcast to (batch, q_num_heads, q_len, total_len)");
    }
    strides_[d] = dims[d] == 1 ? 0 : stride;
    stride *= dims[d];
  }
  mask_len_ = dims[3];
  if (mask_len_ > g.total_len) {
    return NodeError(node, "attn_mask " + mask.Describe() + " is longer than the total length " +
                               std::to_string(g.total_len));
  }
  mask_ = ToDoubles(mask);
  if (mask.dtype() == DType::kBool) {
    for (double& m : mask_) m = m != 0.0 ? 0.0 : kNegInf;
  }
  has_mask_ = true;
  return Status::Ok();
}

Status AttentionBias::Init(const ir::Node& node, const Tensor* mask, const Tensor* nonpad,
                           bool causal, const AttentionGeometry& g) {
  if (mask) UH_RETURN_IF_ERROR(InitMask(node, *mask, g));
  causal_ = causal;
  past_len_ = g.past_len;
  if (nonpad) {
    UH_RETURN_IF_ERROR(CheckDType(node, *nonpad, "nonpad_kv_seqlen", {DType::kI64}));
    if (nonpad->shape() != Shape{g.batch}) {
      return NodeError(node, "nonpad_kv_seqlen " + nonpad->Describe() + " must have shape " +
                                 ShapeToString({g.batch}));
    }
    UH_ASSIGN_OR_RETURN(nonpad_, nonpad->ToInt64Vector());
  }
  return Status::Ok();
}

// Attributes that shape the computation.
struct AttentionOptions {
  double scale = 1.0;
  double softcap = 0.0;
  bool causal = false;
  int64_t qk_mode = 0;
};

Result<AttentionOptions> ReadOptions(const ir::Node& node, const AttentionGeometry& g) {
  AttentionOptions options;
  options.scale = 1.0 / std::sqrt(static_cast<double>(g.head_size));
  if (node.HasAttribute("scale")) {
    UH_ASSIGN_OR_RETURN(const float scale, node.GetFloat("scale"));
    options.scale = scale;
  }
  UH_ASSIGN_OR_RETURN(const float softcap, node.GetFloat("softcap", 0.0f));
  options.softcap = softcap;
  UH_ASSIGN_OR_RETURN(const int64_t causal, node.GetInt("is_causal", 0));
  options.causal = causal != 0;
  UH_ASSIGN_OR_RETURN(options.qk_mode, node.GetInt("qk_matmul_output_mode", 0));
  if (options.qk_mode < 0 || options.qk_mode > 3) {
    return NodeError(node, "qk_matmul_output_mode " + std::to_string(options.qk_mode) +
                               " is not one of 0, 1, 2, 3");
  }
  if (node.HasAttribute("softmax_precision")) {
    // Every step already runs in float64, at least as precise as any float type asked for.
    UH_ASSIGN_OR_RETURN(const int64_t precision, node.GetInt("softmax_precision"));
    const std::optional<DType> dtype = onnx_import::DTypeFromOnnx(static_cast<int32_t>(precision));
    if (!dtype || !IsFloatingPoint(*dtype)) {
      return NodeError(
          node, "softmax_precision " + std::to_string(precision) + " is not a floating-point type");
    }
  }
  return options;
}

// Everything one Attention call reads, in float64.
struct AttentionOperands {
  AttentionGeometry g;
  AttentionOptions options;
  AttentionBias bias;
  std::vector<double> q;      // in Q's layout
  std::vector<double> key;    // (batch, kv_heads, total_len, head_size)
  std::vector<double> value;  // (batch, kv_heads, total_len, v_head_size)
};

// Scores of query row (b, h, i) against every key, through softcap, mask and softmax. Stores
// the stage `qk_mode` asks for into `qk_row` when it is not null.
void ScoreRow(const AttentionOperands& op, int64_t b, int64_t h, int64_t i, double* scores,
              double* qk_row) {
  const AttentionGeometry& g = op.g;
  const int64_t kv_h = h / (g.q_heads / g.kv_heads);
  const double* q = op.q.data() + HeadOffset(g.packed, b, h, i, g.q_heads, g.q_len, g.head_size);
  const double* keys = op.key.data() + (b * g.kv_heads + kv_h) * g.total_len * g.head_size;
  const double cap = op.options.softcap;
  for (int64_t j = 0; j < g.total_len; ++j) {
    const double* k = keys + j * g.head_size;
    double dot = 0.0;
    for (int64_t d = 0; d < g.head_size; ++d) dot += q[d] * k[d];
    double s = dot * op.options.scale;
    if (qk_row && op.options.qk_mode == 0) qk_row[j] = s;
    if (cap > 0.0) s = cap * std::tanh(s / cap);
    if (qk_row && op.options.qk_mode == 1) qk_row[j] = s;
    s += op.bias.At(b, h, i, j);
    if (qk_row && op.options.qk_mode == 2) qk_row[j] = s;
    scores[j] = s;
  }
  // A fully masked row gives NaN (exp(-inf - -inf)), as the ONNX reference does.
  double max = kNegInf;
  for (int64_t j = 0; j < g.total_len; ++j) max = std::max(max, scores[j]);
  double sum = 0.0;
  for (int64_t j = 0; j < g.total_len; ++j) {
    scores[j] = std::exp(scores[j] - max);
    sum += scores[j];
  }
  for (int64_t j = 0; j < g.total_len; ++j) scores[j] /= sum;
  if (qk_row && op.options.qk_mode == 3) std::copy(scores, scores + g.total_len, qk_row);
}

// Y (in Y's layout) and, when `qk` is not empty, the qk output (batch, q_heads, q_len, total).
void RunAttention(hal::ThreadPool& pool, const AttentionOperands& op, std::vector<double>& y,
                  std::vector<double>& qk) {
  const AttentionGeometry& g = op.g;
  const int64_t rows = g.batch * g.q_heads * g.q_len;
  const int64_t work = std::max<int64_t>(1, g.total_len * (g.head_size + g.v_head_size));
  pool.ParallelFor(rows, std::max<int64_t>(1, (1 << 14) / work), [&](int64_t begin, int64_t end) {
    std::vector<double> scores(static_cast<size_t>(g.total_len));
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i = row % g.q_len;
      const int64_t h = (row / g.q_len) % g.q_heads;
      const int64_t b = row / (g.q_len * g.q_heads);
      double* qk_row = qk.empty() ? nullptr : qk.data() + row * g.total_len;
      ScoreRow(op, b, h, i, scores.data(), qk_row);
      const int64_t kv_h = h / (g.q_heads / g.kv_heads);
      const double* values =
          op.value.data() + (b * g.kv_heads + kv_h) * g.total_len * g.v_head_size;
      double* out = y.data() + HeadOffset(g.packed, b, h, i, g.q_heads, g.q_len, g.v_head_size);
      std::fill(out, out + g.v_head_size, 0.0);
      for (int64_t j = 0; j < g.total_len; ++j) {
        const double p = scores[static_cast<size_t>(j)];
        const double* v = values + j * g.v_head_size;
        for (int64_t d = 0; d < g.v_head_size; ++d) out[d] += p * v[d];
      }
    }
  });
}

Status CheckAttentionDTypes(const ir::Node& node, const Tensor& q, const Tensor& k, const Tensor& v,
                            const Tensor* past_key, const Tensor* past_value) {
  UH_RETURN_IF_ERROR(CheckDType(node, q, "Q", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, k, "K", {q.dtype()}));
  UH_RETURN_IF_ERROR(CheckDType(node, v, "V", FloatDTypes()));
  if (past_key) UH_RETURN_IF_ERROR(CheckDType(node, *past_key, "past_key", {k.dtype()}));
  if (past_value) UH_RETURN_IF_ERROR(CheckDType(node, *past_value, "past_value", {v.dtype()}));
  return Status::Ok();
}

Status ComputeAttention(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* q, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* k, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* v, NeedInput(context, 2));
  const Tensor* mask = context.input(3);
  const Tensor* past_key = context.input(4);
  const Tensor* past_value = context.input(5);
  const Tensor* nonpad = context.num_inputs() > 6 ? context.input(6) : nullptr;
  UH_RETURN_IF_ERROR(CheckAttentionDTypes(node, *q, *k, *v, past_key, past_value));

  AttentionOperands op;
  UH_RETURN_IF_ERROR(ReadQkvGeometry(node, *q, *k, *v, op.g));
  UH_RETURN_IF_ERROR(ReadPastGeometry(node, past_key, past_value, op.g));
  UH_ASSIGN_OR_RETURN(op.options, ReadOptions(node, op.g));
  UH_RETURN_IF_ERROR(op.bias.Init(node, mask, nonpad, op.options.causal, op.g));
  const AttentionGeometry& g = op.g;
  op.q = ToDoubles(*q);
  op.key = ConcatCache(g, past_key, *k, g.head_size);
  op.value = ConcatCache(g, past_value, *v, g.v_head_size);

  std::vector<double> y(static_cast<size_t>(g.batch * g.q_heads * g.q_len * g.v_head_size));
  std::vector<double> qk;
  if (WantsOutput(context, 3))
    qk.resize(static_cast<size_t>(g.batch * g.q_heads * g.q_len * g.total_len));
  RunAttention(context.thread_pool(), op, y, qk);

  const Shape y_shape = g.packed ? Shape{g.batch, g.q_len, g.q_heads * g.v_head_size}
                                 : Shape{g.batch, g.q_heads, g.q_len, g.v_head_size};
  UH_RETURN_IF_ERROR(WriteDoubles(context, 0, q->dtype(), y_shape, y));
  if (WantsOutput(context, 1)) {
    UH_RETURN_IF_ERROR(WriteDoubles(context, 1, k->dtype(),
                                    {g.batch, g.kv_heads, g.total_len, g.head_size}, op.key));
  }
  if (WantsOutput(context, 2)) {
    UH_RETURN_IF_ERROR(WriteDoubles(context, 2, v->dtype(),
                                    {g.batch, g.kv_heads, g.total_len, g.v_head_size}, op.value));
  }
  if (!qk.empty()) {
    UH_RETURN_IF_ERROR(
        WriteDoubles(context, 3, q->dtype(), {g.batch, g.q_heads, g.q_len, g.total_len}, qk));
  }
  return Status::Ok();
}

}  // namespace

void RegisterAttentionKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("Attention", 23, INT_MAX, StatelessKernel(ComputeAttention),
                                       AcceptInputDTypes({0, 1, 2}, FloatDTypes())));
  RegisterNormRopeKernels(registry);
  RegisterRecurrentAttentionKernels(registry);
}

}  // namespace unihal::cpu
