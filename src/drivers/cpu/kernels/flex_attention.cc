// FlexAttention (ai.onnx.preview opset 1): Y = Softmax(score_mod((Q K^T) * scale)) V with GQA.
// Follows the ONNX reference's precision: Q and K are pre-scaled by sqrt(scale) in their own
// type, scores are accumulated in the input's compute type, the softmax and Probs V run in the
// softmax precision (float32, or float64 for double inputs) and Y is rounded once to V's type.
// The score_mod / prob_mod subgraph attributes need subgraph execution, which the cpu kernels
// do not have yet: nodes that carry them are rejected with a message saying so.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

struct FlexDims {
  int64_t batch = 0;
  int64_t q_heads = 0;
  int64_t kv_heads = 0;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  int64_t head_size = 0;
  int64_t v_head_size = 0;
};

Result<FlexDims> CheckFlexShapes(const ir::Node& node, const Tensor& q, const Tensor& k,
                                 const Tensor& v) {
  if (q.rank() != 4 || k.rank() != 4 || v.rank() != 4) {
    return InvalidArgumentError(node.Describe() + ": Q, K and V must be rank 4, got " +
                                q.Describe() + ", " + k.Describe() + ", " + v.Describe());
  }
  FlexDims d{q.dim(0), q.dim(1), k.dim(1), q.dim(2), k.dim(2), q.dim(3), v.dim(3)};
  const bool consistent = k.dim(0) == d.batch && v.dim(0) == d.batch && v.dim(1) == d.kv_heads &&
                          v.dim(2) == d.kv_len && k.dim(3) == d.head_size;
  if (!consistent) {
    return InvalidArgumentError(node.Describe() + ": Q " + q.Describe() + ", K " + k.Describe() +
                                " and V " + v.Describe() +
                                " must share batch, K/V heads and length, and Q/K head size");
  }
  if (d.kv_heads <= 0 || d.q_heads % d.kv_heads != 0) {
    return InvalidArgumentError(node.Describe() + ": Q's " + std::to_string(d.q_heads) +
                                " heads must be a multiple of K/V's " + std::to_string(d.kv_heads));
  }
  return d;
}

// One (batch, query head) slice: scores, softmax, then Probs V into y.
template <typename T, typename C>
void AttendHead(const T* q, const T* k, const T* v, T* y, const FlexDims& d, T sqrt_scale) {
  using Acc = ComputeType<T>;
  const Acc s = ToCompute(sqrt_scale);
  std::vector<C> probs(static_cast<size_t>(d.kv_len));
  std::vector<Acc> q_row(static_cast<size_t>(d.head_size));
  std::vector<C> out(static_cast<size_t>(d.v_head_size));
  for (int64_t l = 0; l < d.q_len; ++l) {
    // The reference rounds Q * sqrt(scale) and K * sqrt(scale) to T before the matmul.
    for (int64_t e = 0; e < d.head_size; ++e) {
      q_row[e] = ToCompute(FromCompute<T>(ToCompute(q[l * d.head_size + e]) * s));
    }
    C max_score = -std::numeric_limits<C>::infinity();
    for (int64_t j = 0; j < d.kv_len; ++j) {
      Acc dot = 0;
      for (int64_t e = 0; e < d.head_size; ++e) {
        dot += q_row[e] * ToCompute(FromCompute<T>(ToCompute(k[j * d.head_size + e]) * s));
      }
      probs[j] = static_cast<C>(ToCompute(FromCompute<T>(dot)));
      max_score = std::max(max_score, probs[j]);
    }
    C sum = 0;
    for (C& p : probs) {
      p = std::exp(p - max_score);
      sum += p;
    }
    std::fill(out.begin(), out.end(), C(0));
    for (int64_t j = 0; j < d.kv_len; ++j) {
      const C p = probs[j] / sum;
      for (int64_t e = 0; e < d.v_head_size; ++e) {
        out[e] += p * static_cast<C>(ToCompute(v[j * d.v_head_size + e]));
      }
    }
    for (int64_t e = 0; e < d.v_head_size; ++e) y[l * d.v_head_size + e] = FromCompute<T>(out[e]);
  }
}

template <typename T, typename C>
void FlexAttend(const Tensor& q, const Tensor& k, const Tensor& v, Tensor& y, const FlexDims& d,
                double scale, hal::ThreadPool& pool) {
  const T sqrt_scale = FromCompute<T>(std::sqrt(static_cast<float>(scale)));
  const int64_t group = d.q_heads / d.kv_heads;
  pool.ParallelFor(d.batch * d.q_heads, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / d.q_heads;
      const int64_t kv = b * d.kv_heads + (item % d.q_heads) / group;
      AttendHead<T, C>(q.data_as<T>() + item * d.q_len * d.head_size,
                       k.data_as<T>() + kv * d.kv_len * d.head_size,
                       v.data_as<T>() + kv * d.kv_len * d.v_head_size,
                       y.data_as<T>() + item * d.q_len * d.v_head_size, d, sqrt_scale);
    }
  });
}

struct FlexAttributes {
  bool has_scale = false;
  double scale = 0;
  bool double_softmax = false;  // softmax in float64 (double inputs or softmax_precision)
  bool explicit_precision = false;
};

Status ComputeFlexAttention(hal::KernelContext& context, const FlexAttributes& a) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* q, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* k, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* v, NeedInput(context, 2));
  UH_RETURN_IF_ERROR(CheckDType(node, *q, "Q", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *k, "K", {q->dtype()}));
  UH_RETURN_IF_ERROR(CheckDType(node, *v, "V", {q->dtype()}));
  UH_ASSIGN_OR_RETURN(FlexDims d, CheckFlexShapes(node, *q, *k, *v));
  const double scale = a.has_scale ? a.scale : 1.0 / std::sqrt(static_cast<double>(d.head_size));
  const bool double_softmax = a.explicit_precision ? a.double_softmax : q->dtype() == DType::kF64;
  UH_ASSIGN_OR_RETURN(
      Tensor * y,
      context.AllocateOutput(0, q->dtype(), Shape{d.batch, d.q_heads, d.q_len, d.v_head_size}));
  VisitFloatDType(q->dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (double_softmax) {
      FlexAttend<T, double>(*q, *k, *v, *y, d, scale, context.thread_pool());
    } else {
      FlexAttend<T, float>(*q, *k, *v, *y, d, scale, context.thread_pool());
    }
  });
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateFlexAttention(const hal::KernelCreateInfo& info) {
  const ir::Node& node = info.node;
  for (const char* graph : {"score_mod", "prob_mod"}) {
    if (node.HasAttribute(graph)) {
      return UnimplementedError(node.Describe() + ": FlexAttention (ai.onnx.preview opset " +
                                std::to_string(node.opset) + ") with a " + graph +
                                " subgraph is not supported yet (the cpu kernels cannot run "
                                "subgraph attributes)");
    }
  }
  FlexAttributes a;
  if (node.HasAttribute("scale")) {
    UH_ASSIGN_OR_RETURN(float scale, node.GetFloat("scale"));
    a.has_scale = true;
    a.scale = scale;
  }
  if (node.HasAttribute("softmax_precision")) {
    UH_ASSIGN_OR_RETURN(int64_t precision, node.GetInt("softmax_precision"));
    // TensorProto FLOAT = 1, DOUBLE = 11.
    if (precision != 1 && precision != 11) {
      return UnimplementedError(node.Describe() + ": FlexAttention softmax_precision " +
                                std::to_string(precision) +
                                " is not supported (float32 = 1 or float64 = 11)");
    }
    a.explicit_precision = true;
    a.double_softmax = precision == 11;
  }
  return MakeFunctionKernel([a](hal::KernelContext& c) { return ComputeFlexAttention(c, a); });
}

}  // namespace

void RegisterFlexAttentionKernels(hal::KernelRegistry& registry) {
  hal::KernelDef def = ReferenceKernelDef("FlexAttention", 1, INT_MAX, CreateFlexAttention);
  def.domain = "ai.onnx.preview";
  registry.Register(std::move(def));
}

}  // namespace unihal::cpu
