// Reference Gemm and MatMul over one row-panel routine. Floats accumulate in their own type,
// integers in int64 (wrapping on the final store like ONNX Runtime). float16 and bfloat16
// operands are widened to float32, computed there and rounded once on the final store.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/nn_shapes.h"

namespace unihal::cpu {
namespace {

// A strided matrix view: element (r, c) is data[r * row_stride + c * col_stride].
template <typename T>
struct MatrixView {
  const T* data;
  int64_t row_stride;
  int64_t col_stride;
  T at(int64_t r, int64_t c) const { return data[r * row_stride + c * col_stride]; }
};

template <typename T>
using Accumulator = std::conditional_t<std::is_integral_v<T>, int64_t, T>;

// y[r, :] = (a b)[r, :] for rows [row_begin, row_end).
template <typename T>
void MultiplyRows(MatrixView<T> a, MatrixView<T> b, T* y, int64_t k, int64_t n, int64_t row_begin,
                  int64_t row_end) {
  using Acc = Accumulator<T>;
  std::vector<Acc> row(static_cast<size_t>(n));
  for (int64_t r = row_begin; r < row_end; ++r) {
    if (b.col_stride == 1) {
      // Row of B contiguous: broadcast a(r, kk) over it.
      std::fill(row.begin(), row.end(), Acc(0));
      for (int64_t kk = 0; kk < k; ++kk) {
        const Acc av = static_cast<Acc>(a.at(r, kk));
        const T* b_row = b.data + kk * b.row_stride;
        for (int64_t j = 0; j < n; ++j) row[j] += av * static_cast<Acc>(b_row[j]);
      }
    } else {
      for (int64_t j = 0; j < n; ++j) {
        Acc sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          sum += static_cast<Acc>(a.at(r, kk)) * static_cast<Acc>(b.at(kk, j));
        }
        row[j] = sum;
      }
    }
    for (int64_t j = 0; j < n; ++j) y[r * n + j] = static_cast<T>(row[j]);
  }
}

int64_t RowGrain(int64_t k, int64_t n) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, k * n));
}

template <typename Fn>
bool VisitMatMulDType(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kF32:
      fn(float{});
      return true;
    case DType::kF64:
      fn(double{});
      return true;
    case DType::kI32:
      fn(int32_t{});
      return true;
    case DType::kI64:
      fn(int64_t{});
      return true;
    default:
      return false;
  }
}

Status UnsupportedDType(const ir::Node& node, DType dtype) {
  return UnimplementedError(node.Describe() + ": input A is " + std::string(DTypeName(dtype)) +
                            "; the cpu kernel takes float32, float64, float16, bfloat16, int32 or "
                            "int64");
}

// Gemm's C: its data and strides in the (M, N) output (0 along broadcast dims).
template <typename T>
struct GemmBias {
  const T* data = nullptr;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
};

template <typename T>
GemmBias<T> MakeGemmBias(const Tensor* c, const T* data) {
  GemmBias<T> bias;
  if (!c) return bias;
  bias.data = data;
  if (c->rank() >= 1 && c->shape().back() != 1) bias.col_stride = 1;
  if (c->rank() == 2 && c->dim(0) != 1) bias.row_stride = c->dim(1);
  return bias;
}

// out = alpha * op(A) op(B) + beta * C over the typed buffers.
template <typename T>
void ComputeGemm(const T* a, const T* b, GemmBias<T> c, T* out, const GemmShapes& s, bool trans_a,
                 bool trans_b, float alpha, float beta, hal::ThreadPool& pool) {
  const MatrixView<T> av{a, trans_a ? 1 : s.k, trans_a ? s.m : 1};
  const MatrixView<T> bv{b, trans_b ? 1 : s.n, trans_b ? s.k : 1};
  pool.ParallelFor(s.m, RowGrain(s.k, s.n), [&](int64_t begin, int64_t end) {
    MultiplyRows(av, bv, out, s.k, s.n, begin, end);
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t j = 0; j < s.n; ++j) {
        using Acc = Accumulator<T>;
        double value = static_cast<double>(alpha) * static_cast<double>(out[r * s.n + j]);
        if (c.data) {
          value += static_cast<double>(beta) *
                   static_cast<double>(c.data[r * c.row_stride + j * c.col_stride]);
        }
        out[r * s.n + j] = static_cast<T>(static_cast<Acc>(value));
      }
    }
  });
}

class ReferenceGemm final : public hal::Kernel {
 public:
  ReferenceGemm(bool trans_a, bool trans_b, float alpha, float beta)
      : trans_a_(trans_a), trans_b_(trans_b), alpha_(alpha), beta_(beta) {}

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(context, 0, "A"));
    UH_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(context, 1, "B"));
    const Tensor* c = context.input(2);
    UH_RETURN_IF_ERROR(CheckSameDType(node, *b, "B", a->dtype()));
    if (c) UH_RETURN_IF_ERROR(CheckSameDType(node, *c, "C", a->dtype()));
    UH_ASSIGN_OR_RETURN(GemmShapes s,
                        CheckGemmShapes(node, a->shape(), b->shape(), c ? &c->shape() : nullptr,
                                        trans_a_, trans_b_));
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, a->dtype(), Shape{s.m, s.n}));
    if (IsHalfFloat(a->dtype())) {
      const std::vector<float> a32 = WidenToFloat(*a);
      const std::vector<float> b32 = WidenToFloat(*b);
      const std::vector<float> c32 = c ? WidenToFloat(*c) : std::vector<float>();
      std::vector<float> y32(static_cast<size_t>(s.m * s.n));
      ComputeGemm<float>(a32.data(), b32.data(), MakeGemmBias<float>(c, c32.data()), y32.data(), s,
                         trans_a_, trans_b_, alpha_, beta_, context.thread_pool());
      NarrowFromFloat(y32, *y);
      return Status::Ok();
    }
    const bool handled = VisitMatMulDType(a->dtype(), [&](auto tag) {
      using T = decltype(tag);
      ComputeGemm<T>(a->data_as<T>(), b->data_as<T>(),
                     MakeGemmBias<T>(c, c ? c->data_as<T>() : nullptr), y->data_as<T>(), s,
                     trans_a_, trans_b_, alpha_, beta_, context.thread_pool());
    });
    if (!handled) return UnsupportedDType(node, a->dtype());
    return Status::Ok();
  }

 private:
  const bool trans_a_;
  const bool trans_b_;
  const float alpha_;
  const float beta_;
};

// Batched (broadcast) out = a b over the typed buffers.
template <typename T>
void ComputeMatMul(const T* a_data, const T* b_data, T* out, const MatMulShapes& s,
                   hal::ThreadPool& pool) {
  // Work items are (batch, row) pairs so small-batch large-M and many-batch cases both
  // spread over the threads.
  const int64_t items = NumElements(s.batch) * s.m;
  pool.ParallelFor(items, RowGrain(s.k, s.n), [&](int64_t begin, int64_t end) {
    while (begin < end) {
      const int64_t batch = begin / s.m;
      const int64_t row_begin = begin % s.m;
      const int64_t row_end = std::min(s.m, row_begin + (end - begin));
      const MatrixView<T> av{a_data + BroadcastBatchOffset(s.batch, s.a_batch, batch) * s.m * s.k,
                             s.k, 1};
      const MatrixView<T> bv{b_data + BroadcastBatchOffset(s.batch, s.b_batch, batch) * s.k * s.n,
                             s.n, 1};
      MultiplyRows(av, bv, out + batch * s.m * s.n, s.k, s.n, row_begin, row_end);
      begin += row_end - row_begin;
    }
  });
}

class ReferenceMatMul final : public hal::Kernel {
 public:
  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(context, 0, "A"));
    UH_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(context, 1, "B"));
    UH_RETURN_IF_ERROR(CheckSameDType(node, *b, "B", a->dtype()));
    UH_ASSIGN_OR_RETURN(MatMulShapes s, ResolveMatMulShapes(node, a->shape(), b->shape()));
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, a->dtype(), s.output));
    if (IsHalfFloat(a->dtype())) {
      const std::vector<float> a32 = WidenToFloat(*a);
      const std::vector<float> b32 = WidenToFloat(*b);
      std::vector<float> y32(static_cast<size_t>(y->num_elements()));
      ComputeMatMul<float>(a32.data(), b32.data(), y32.data(), s, context.thread_pool());
      NarrowFromFloat(y32, *y);
      return Status::Ok();
    }
    const bool handled = VisitMatMulDType(a->dtype(), [&](auto tag) {
      using T = decltype(tag);
      ComputeMatMul<T>(a->data_as<T>(), b->data_as<T>(), y->data_as<T>(), s, context.thread_pool());
    });
    if (!handled) return UnsupportedDType(node, a->dtype());
    return Status::Ok();
  }
};

}  // namespace

Result<std::unique_ptr<hal::Kernel>> CreateReferenceGemm(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(int64_t trans_a, info.node.GetInt("transA", 0));
  UH_ASSIGN_OR_RETURN(int64_t trans_b, info.node.GetInt("transB", 0));
  UH_ASSIGN_OR_RETURN(float alpha, info.node.GetFloat("alpha", 1.0f));
  UH_ASSIGN_OR_RETURN(float beta, info.node.GetFloat("beta", 1.0f));
  return std::unique_ptr<hal::Kernel>(
      std::make_unique<ReferenceGemm>(trans_a != 0, trans_b != 0, alpha, beta));
}

Result<std::unique_ptr<hal::Kernel>> CreateReferenceMatMul(const hal::KernelCreateInfo&) {
  return std::unique_ptr<hal::Kernel>(std::make_unique<ReferenceMatMul>());
}

}  // namespace unihal::cpu
