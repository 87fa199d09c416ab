// Reference RMSNormalization and RotaryEmbedding (opset 23), computed in float64.
#include <climits>
#include <cmath>

#include "drivers/cpu/kernels/attention_util.h"
#include "drivers/cpu/kernels/broadcast.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "onnx/tensor_proto.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// ---- RMSNormalization ----

// `scale` read as if broadcast to the normalised dims `norm_shape`.
Result<std::vector<double>> BroadcastScale(const ir::Node& node, const Tensor& scale,
                                           const Shape& norm_shape) {
  const Shape shapes[] = {scale.shape(), norm_shape};
  Result<Shape> joint = BroadcastShapes(shapes);
  if (!joint.ok() || *joint != norm_shape) {
    return NodeError(node, "scale " + scale.Describe() +
                               " does not broadcast to the normalised dims " +
                               ShapeToString(norm_shape));
  }
  const std::vector<double> values = ToDoubles(scale);
  std::vector<double> out(static_cast<size_t>(NumElements(norm_shape)));
  const IterationPlan<1> plan =
      MakeIterationPlan<1>(norm_shape, {BroadcastStrides(scale.shape(), norm_shape)});
  ForEachRun(plan, 0, plan.num_elements,
             [&](int64_t o, const std::array<int64_t, 1>& at, int64_t n,
                 const std::array<int64_t, 1>& step) {
               for (int64_t i = 0; i < n; ++i) out[o + i] = values[at[0] + i * step[0]];
             });
  return out;
}

Status ComputeRmsNormalization(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* scale, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *scale, "scale", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(int64_t axis, node.GetInt("axis", -1));
  UH_ASSIGN_OR_RETURN(const float epsilon, node.GetFloat("epsilon", 1e-5f));
  UH_ASSIGN_OR_RETURN(const int64_t stash_type, node.GetInt("stash_type", 1));
  const std::optional<DType> stash = onnx_import::DTypeFromOnnx(static_cast<int32_t>(stash_type));
  if (!stash || !IsFloatingPoint(*stash)) {
    return NodeError(node, "stash_type " + std::to_string(stash_type) +
                               " is not a floating-point type; use 1 (float)");
  }
  UH_ASSIGN_OR_RETURN(axis, NormalizeAxis(node, axis, x->rank()));
  const Shape& shape = x->shape();
  const Shape norm_shape(shape.begin() + axis, shape.end());
  UH_ASSIGN_OR_RETURN(const std::vector<double> gamma, BroadcastScale(node, *scale, norm_shape));
  const int64_t cols = NumElements(norm_shape);
  const int64_t rows = cols == 0 ? 0 : x->num_elements() / cols;
  std::vector<double> y = ToDoubles(*x);
  // Float64 statistics are at least as precise as any stash_type.
  for (int64_t r = 0; r < rows; ++r) {
    double* row = y.data() + r * cols;
    double sum_sq = 0.0;
    for (int64_t c = 0; c < cols; ++c) sum_sq += row[c] * row[c];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / static_cast<double>(cols) + epsilon);
    for (int64_t c = 0; c < cols; ++c) row[c] = row[c] * inv_rms * gamma[c];
  }
  return WriteDoubles(context, 0, scale->dtype(), shape, y);
}

// ---- RotaryEmbedding ----

struct RopeGeometry {
  bool packed = false;  // 3-D input (batch, seq, heads * head_size)
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t seq = 0;
  int64_t head_size = 0;
  int64_t rotary_dim = 0;
};

Result<RopeGeometry> ReadRopeGeometry(const ir::Node& node, const Tensor& x) {
  RopeGeometry g;
  if (x.rank() != 3 && x.rank() != 4) {
    return NodeError(node, "input must be 3-D or 4-D, got " + x.Describe());
  }
  g.packed = x.rank() == 3;
  g.batch = x.dim(0);
  if (g.packed) {
    UH_ASSIGN_OR_RETURN(g.heads, node.GetInt("num_heads", 0));
    if (g.heads <= 0 || x.dim(2) % g.heads != 0) {
      return NodeError(node, "3-D input " + x.Describe() +
                                 " needs a num_heads attribute that divides its hidden size");
    }
    g.seq = x.dim(1);
    g.head_size = x.dim(2) / g.heads;
  } else {
    g.heads = x.dim(1);
    g.seq = x.dim(2);
    g.head_size = x.dim(3);
  }
  UH_ASSIGN_OR_RETURN(g.rotary_dim, node.GetInt("rotary_embedding_dim", 0));
  if (g.rotary_dim == 0) g.rotary_dim = g.head_size;
  if (g.rotary_dim < 0 || g.rotary_dim > g.head_size || g.rotary_dim % 2 != 0) {
    return NodeError(node, "rotary_embedding_dim " + std::to_string(g.rotary_dim) +
                               " must be even and at most the head size " +
                               std::to_string(g.head_size));
  }
  return g;
}

// Row index into the caches for each (batch, position): position_ids when given, else the
// caches are (batch, seq, rotary_dim / 2) and row b * seq + s is used.
Result<std::vector<int64_t>> CacheRows(const ir::Node& node, const RopeGeometry& g,
                                       const Tensor& cos, const Tensor& sin,
                                       const Tensor* position_ids) {
  const int64_t half = g.rotary_dim / 2;
  std::vector<int64_t> rows(static_cast<size_t>(g.batch * g.seq));
  if (cos.shape() != sin.shape() || cos.rank() < 1 || cos.shape().back() != half) {
    return NodeError(
        node, "cos_cache " + cos.Describe() + " and sin_cache " + sin.Describe() +
                  " must match and end in rotary_embedding_dim / 2 = " + std::to_string(half));
  }
  if (!position_ids) {
    if (cos.shape() != Shape{g.batch, g.seq, half}) {
      return NodeError(node, "without position_ids the caches must be (batch, seq, " +
                                 std::to_string(half) + "), got " + cos.Describe());
    }
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
    return rows;
  }
  UH_RETURN_IF_ERROR(CheckDType(node, *position_ids, "position_ids", {DType::kI64}));
  if (cos.rank() != 2 || position_ids->shape() != Shape{g.batch, g.seq}) {
    return NodeError(node, "with position_ids " + position_ids->Describe() +
                               " (batch, seq) the caches must be (max_position, " +
                               std::to_string(half) + "), got " + cos.Describe());
  }
  UH_ASSIGN_OR_RETURN(rows, position_ids->ToInt64Vector());
  for (int64_t row : rows) {
    if (row < 0 || row >= cos.dim(0)) {
      return NodeError(node, "position id " + std::to_string(row) + " is outside the caches' " +
                                 std::to_string(cos.dim(0)) + " rows");
    }
  }
  return rows;
}

// Rotates the first rotary_dim values of one head in place: pairs are (k, k + half), or
// (2k, 2k + 1) when interleaved.
void RotateHead(double* x, const double* cos, const double* sin, int64_t rotary_dim,
                bool interleaved) {
  const int64_t half = rotary_dim / 2;
  for (int64_t k = 0; k < half; ++k) {
    const int64_t i1 = interleaved ? 2 * k : k;
    const int64_t i2 = interleaved ? 2 * k + 1 : k + half;
    const double x1 = x[i1];
    const double x2 = x[i2];
    x[i1] = cos[k] * x1 - sin[k] * x2;
    x[i2] = sin[k] * x1 + cos[k] * x2;
  }
}

Status ComputeRotaryEmbedding(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* cos, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* sin, NeedInput(context, 2));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input", {DType::kF32, DType::kF16, DType::kBF16}));
  UH_RETURN_IF_ERROR(CheckDType(node, *cos, "cos_cache", {x->dtype()}));
  UH_RETURN_IF_ERROR(CheckDType(node, *sin, "sin_cache", {x->dtype()}));
  UH_ASSIGN_OR_RETURN(const int64_t interleaved, node.GetInt("interleaved", 0));
  UH_ASSIGN_OR_RETURN(const RopeGeometry g, ReadRopeGeometry(node, *x));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> rows,
                      CacheRows(node, g, *cos, *sin, context.input(3)));
  const std::vector<double> cos_values = ToDoubles(*cos);
  const std::vector<double> sin_values = ToDoubles(*sin);
  std::vector<double> y = ToDoubles(*x);
  const int64_t half = g.rotary_dim / 2;
  for (int64_t b = 0; b < g.batch; ++b) {
    for (int64_t s = 0; s < g.seq; ++s) {
      const int64_t row = rows[static_cast<size_t>(b * g.seq + s)];
      for (int64_t h = 0; h < g.heads; ++h) {
        double* head = y.data() + HeadOffset(g.packed, b, h, s, g.heads, g.seq, g.head_size);
        RotateHead(head, cos_values.data() + row * half, sin_values.data() + row * half,
                   g.rotary_dim, interleaved != 0);
      }
    }
  }
  return WriteDoubles(context, 0, x->dtype(), x->shape(), y);
}

}  // namespace

void RegisterNormRopeKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("RMSNormalization", 23, INT_MAX,
                                       StatelessKernel(ComputeRmsNormalization),
                                       AcceptInputDTypes({0, 1}, FloatDTypes())));
  registry.Register(
      ReferenceKernelDef("RotaryEmbedding", 23, INT_MAX, StatelessKernel(ComputeRotaryEmbedding),
                         AcceptInputDTypes({0, 1, 2}, {DType::kF32, DType::kF16, DType::kBF16})));
}

}  // namespace unihal::cpu
