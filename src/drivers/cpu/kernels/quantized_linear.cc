// Reference quantized linear algebra: MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv.
// Products accumulate exactly in int64 with plain loops (these are correctness references, not
// fast paths); the requantisation follows ONNX's reference (int accumulator times a float64
// ratio, rounded half to even, saturated).
#include <algorithm>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_shapes.h"
#include "drivers/cpu/kernels/quant_util.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {

void RegisterQuantizedLinearKernels(hal::KernelRegistry& registry);

namespace {

using hal::KernelContext;

const std::vector<DType>& Int8DTypes() {
  static const std::vector<DType> kInt8 = {DType::kI8, DType::kU8};
  return kInt8;
}

std::string OpsetText(const ir::Node& node) {
  return node.Describe() + " opset " + std::to_string(node.opset);
}

// Zero points of an optional input: one value (per tensor) or `count` values (per row, column
// or output channel). Absent means 0.
Result<std::vector<int64_t>> ZeroPoints(const ir::Node& node, const Tensor* zero_point,
                                        int64_t count, const std::string& what) {
  if (!zero_point) return std::vector<int64_t>{0};
  UH_RETURN_IF_ERROR(CheckDType(node, *zero_point, what, Int8DTypes()));
  const int64_t n = zero_point->num_elements();
  if (n != 1 && !(n == count && zero_point->rank() <= 2)) {
    return UnimplementedError(OpsetText(node) + ": " + what + " of shape " +
                              ShapeToString(zero_point->shape()) +
                              " is not supported (one value or " + std::to_string(count) + ")");
  }
  return zero_point->ToInt64Vector();
}

inline int64_t At(const std::vector<int64_t>& values, int64_t i) {
  return values.size() == 1 ? values[0] : values[static_cast<size_t>(i)];
}

// (A - a_zero_point) x (B - b_zero_point) with numpy.matmul broadcasting, exact.
Result<std::vector<int64_t>> IntegerMatMul(const ir::Node& node, const MatMulShapes& s,
                                           const Tensor& a, const Tensor& b, const Tensor* a_zp,
                                           const Tensor* b_zp, hal::ThreadPool& pool) {
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> a_zero,
                      ZeroPoints(node, a_zp, s.m, "a_zero_point"));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> b_zero,
                      ZeroPoints(node, b_zp, s.n, "b_zero_point"));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> av, a.ToInt64Vector());
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> bv, b.ToInt64Vector());
  const int64_t batches = NumElements(s.batch);
  std::vector<int64_t> out(static_cast<size_t>(batches * s.m * s.n), 0);
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, s.k * s.n));
  pool.ParallelFor(batches * s.m, grain, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t batch = row / s.m;
      const int64_t m = row % s.m;
      const int64_t* am =
          av.data() + (BroadcastBatchOffset(s.batch, s.a_batch, batch) * s.m + m) * s.k;
      const int64_t* bm = bv.data() + BroadcastBatchOffset(s.batch, s.b_batch, batch) * s.k * s.n;
      int64_t* om = out.data() + row * s.n;
      for (int64_t k = 0; k < s.k; ++k) {
        const int64_t a_mk = am[k] - At(a_zero, m);
        for (int64_t n = 0; n < s.n; ++n) om[n] += a_mk * (bm[k * s.n + n] - At(b_zero, n));
      }
    }
  });
  return out;
}

Status ComputeMatMulInteger(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* a, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* b, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *a, "A", Int8DTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *b, "B", Int8DTypes()));
  UH_ASSIGN_OR_RETURN(const MatMulShapes s, ResolveMatMulShapes(node, a->shape(), b->shape()));
  UH_ASSIGN_OR_RETURN(
      const std::vector<int64_t> acc,
      IntegerMatMul(node, s, *a, *b, context.input(2), context.input(3), context.thread_pool()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kI32, s.output));
  int32_t* out = y->data_as<int32_t>();
  for (size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<int32_t>(acc[i]);
  return Status::Ok();
}

// The requantisation multipliers x_scale * w_scale[c] / y_scale (one, or one per channel),
// computed in the scales' dtype as NumPy does.
Result<std::vector<double>> RequantizeRatios(const ir::Node& node, const Tensor& in_scale,
                                             const Tensor& weight_scale, const Tensor& out_scale,
                                             int64_t channels) {
  for (const Tensor* scale : {&in_scale, &weight_scale, &out_scale}) {
    UH_RETURN_IF_ERROR(CheckDType(node, *scale, "scale " + scale->Describe(), {in_scale.dtype()}));
  }
  if (in_scale.num_elements() != 1 || out_scale.num_elements() != 1 ||
      (weight_scale.num_elements() != 1 && weight_scale.num_elements() != channels)) {
    return UnimplementedError(OpsetText(node) + ": scales " + in_scale.Describe() + ", " +
                              weight_scale.Describe() + ", " + out_scale.Describe() +
                              " are not supported (per-tensor, or per-channel for the weights)");
  }
  std::vector<double> ratios(static_cast<size_t>(weight_scale.num_elements()));
  const bool visited = VisitFloatDType(in_scale.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* w = weight_scale.data_as<T>();
    for (size_t c = 0; c < ratios.size(); ++c) {
      ratios[c] = ScaleRatio<T>(in_scale.data_as<T>()[0], w[c], out_scale.data_as<T>()[0]);
    }
  });
  if (!visited) {
    return InvalidArgumentError(node.Describe() + ": scales must be float, got " +
                                in_scale.Describe());
  }
  return ratios;
}

// Writes acc * ratio(channel) + zero point, saturated to `zero_point`'s dtype.
Status StoreRequantized(KernelContext& context, const std::vector<int64_t>& acc,
                        const std::vector<double>& ratios, const Tensor& zero_point,
                        const Shape& shape, int64_t channel_stride, int64_t channels) {
  const ir::Node& node = context.node();
  UH_RETURN_IF_ERROR(CheckDType(node, zero_point, "y_zero_point", Int8DTypes()));
  if (zero_point.num_elements() != 1) {
    return UnimplementedError(OpsetText(node) + ": y_zero_point " + zero_point.Describe() +
                              " is not supported (per-tensor only)");
  }
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> zero, zero_point.ToInt64Vector());
  std::vector<double> values(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    const int64_t channel = (static_cast<int64_t>(i) / channel_stride) % channels;
    values[i] = static_cast<double>(acc[i]) * ratios[ratios.size() == 1 ? 0 : channel] +
                static_cast<double>(zero[0]);
  }
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, zero_point.dtype(), shape));
  StoreSaturated(values, y);
  return Status::Ok();
}

Status ComputeQLinearMatMul(KernelContext& context) {
  const ir::Node& node = context.node();
  std::vector<const Tensor*> in(8);
  for (size_t i = 0; i < in.size(); ++i) {
    if (i == 2 || i == 5) continue;  // the input zero points are optional
    UH_ASSIGN_OR_RETURN(in[i], NeedInput(context, i));
  }
  UH_RETURN_IF_ERROR(CheckDType(node, *in[0], "a", Int8DTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *in[3], "b", Int8DTypes()));
  UH_ASSIGN_OR_RETURN(const MatMulShapes s,
                      ResolveMatMulShapes(node, in[0]->shape(), in[3]->shape()));
  if (in[1]->num_elements() != 1 || in[4]->num_elements() != 1) {
    return UnimplementedError(OpsetText(node) +
                              ": only per-tensor a_scale and b_scale are supported");
  }
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> acc,
                      IntegerMatMul(node, s, *in[0], *in[3], context.input(2), context.input(5),
                                    context.thread_pool()));
  UH_ASSIGN_OR_RETURN(const std::vector<double> ratios,
                      RequantizeRatios(node, *in[1], *in[4], *in[6], 1));
  return StoreRequantized(context, acc, ratios, *in[7], s.output, 1, 1);
}

// ---- ConvInteger / QLinearConv ----

struct ConvSetup {
  ConvShapes shapes;
  WindowGeometry g3;  // padded to 3 spatial dims
  Shape output;
};

Result<ConvSetup> PrepareConv(const ir::Node& node, const Tensor& x, const Tensor& w,
                              const Shape* bias) {
  UH_ASSIGN_OR_RETURN(WindowAttributes window, ParseWindowAttributes(node, false));
  window.ceil_mode = false;
  UH_ASSIGN_OR_RETURN(const int64_t group, node.GetInt("group", 1));
  ConvSetup setup;
  UH_ASSIGN_OR_RETURN(setup.shapes, CheckConvShapes(node, x.shape(), w.shape(), bias, group));
  UH_ASSIGN_OR_RETURN(const Shape kernel, ConvKernelShape(node, window.kernel_shape, w.shape()));
  UH_ASSIGN_OR_RETURN(const WindowGeometry geometry,
                      ResolveWindow(node, window, setup.shapes.input_spatial, kernel));
  if (geometry.rank() > 3) {
    return UnimplementedError(OpsetText(node) + ": " + std::to_string(geometry.rank()) +
                              " spatial dims are not supported (at most 3)");
  }
  setup.output = {setup.shapes.batch, setup.shapes.out_channels};
  setup.output.insert(setup.output.end(), geometry.output.begin(), geometry.output.end());
  setup.g3 = geometry.As3d();
  return setup;
}

// Sum over one output element's window of x * w (both already zero-point shifted).
int64_t WindowSum(const std::vector<int64_t>& x, const int64_t* w, const WindowGeometry& g,
                  int64_t x_channel_base, int64_t channels, const int64_t out_index[3]) {
  const int64_t plane = g.input[0] * g.input[1] * g.input[2];
  int64_t sum = 0;
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t* xc = x.data() + (x_channel_base + c) * plane;
    for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
      const int64_t id = out_index[0] * g.strides[0] + kd * g.dilations[0] - g.pad_begin[0];
      if (id < 0 || id >= g.input[0]) continue;
      for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
        const int64_t ih = out_index[1] * g.strides[1] + kh * g.dilations[1] - g.pad_begin[1];
        if (ih < 0 || ih >= g.input[1]) continue;
        for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
          const int64_t iw = out_index[2] * g.strides[2] + kw * g.dilations[2] - g.pad_begin[2];
          if (iw < 0 || iw >= g.input[2]) continue;
          const int64_t wv = w[((c * g.kernel[0] + kd) * g.kernel[1] + kh) * g.kernel[2] + kw];
          sum += wv * xc[(id * g.input[1] + ih) * g.input[2] + iw];
        }
      }
    }
  }
  return sum;
}

// conv(x - x_zero_point, w - w_zero_point[m]) + bias[m], exact.
Result<std::vector<int64_t>> IntegerConv(const ir::Node& node, const ConvSetup& setup,
                                         const Tensor& x, const Tensor& w, const Tensor* x_zp,
                                         const Tensor* w_zp, const Tensor* bias,
                                         hal::ThreadPool& pool) {
  const ConvShapes& s = setup.shapes;
  const WindowGeometry& g = setup.g3;
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> x_zero, ZeroPoints(node, x_zp, 1, "x_zero_point"));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> w_zero,
                      ZeroPoints(node, w_zp, s.out_channels, "w_zero_point"));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> xv, x.ToInt64Vector());
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> wv, w.ToInt64Vector());
  std::vector<int64_t> bv;
  if (bias) {
    UH_ASSIGN_OR_RETURN(bv, bias->ToInt64Vector());
  }
  for (int64_t& v : xv) v -= x_zero[0];
  const int64_t in_per_group = s.in_channels / s.group;
  const int64_t out_per_group = s.out_channels / s.group;
  const int64_t kernel_size = in_per_group * g.kernel[0] * g.kernel[1] * g.kernel[2];
  for (size_t i = 0; i < wv.size(); ++i) wv[i] -= At(w_zero, static_cast<int64_t>(i) / kernel_size);
  const int64_t out_plane = g.output[0] * g.output[1] * g.output[2];
  std::vector<int64_t> out(static_cast<size_t>(s.batch * s.out_channels * out_plane));
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, kernel_size * out_plane));
  // Each (image, output channel) plane is independent.
  pool.ParallelFor(s.batch * s.out_channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / s.out_channels;
      const int64_t m = item % s.out_channels;
      const int64_t x_base = n * s.in_channels + (m / out_per_group) * in_per_group;
      int64_t* o = out.data() + item * out_plane;
      for (int64_t p = 0; p < out_plane; ++p) {
        const int64_t index[3] = {p / (g.output[1] * g.output[2]), (p / g.output[2]) % g.output[1],
                                  p % g.output[2]};
        o[p] = WindowSum(xv, wv.data() + m * kernel_size, g, x_base, in_per_group, index) +
               (bias ? bv[static_cast<size_t>(m)] : 0);
      }
    }
  });
  return out;
}

Status ComputeConvInteger(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* w, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "x", Int8DTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *w, "w", Int8DTypes()));
  UH_ASSIGN_OR_RETURN(const ConvSetup setup, PrepareConv(node, *x, *w, nullptr));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> acc,
                      IntegerConv(node, setup, *x, *w, context.input(2), context.input(3), nullptr,
                                  context.thread_pool()));
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kI32, setup.output));
  int32_t* out = y->data_as<int32_t>();
  for (size_t i = 0; i < acc.size(); ++i) out[i] = static_cast<int32_t>(acc[i]);
  return Status::Ok();
}

Status ComputeQLinearConv(KernelContext& context) {
  const ir::Node& node = context.node();
  std::vector<const Tensor*> in(8);
  for (size_t i = 0; i < in.size(); ++i) {
    UH_ASSIGN_OR_RETURN(in[i], NeedInput(context, i));
  }
  const Tensor* bias = context.input(8);
  UH_RETURN_IF_ERROR(CheckDType(node, *in[0], "x", Int8DTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *in[3], "w", Int8DTypes()));
  if (bias) UH_RETURN_IF_ERROR(CheckDType(node, *bias, "B", {DType::kI32}));
  UH_ASSIGN_OR_RETURN(const ConvSetup setup,
                      PrepareConv(node, *in[0], *in[3], bias ? &bias->shape() : nullptr));
  const int64_t channels = setup.shapes.out_channels;
  UH_ASSIGN_OR_RETURN(
      const std::vector<int64_t> acc,
      IntegerConv(node, setup, *in[0], *in[3], in[2], in[5], bias, context.thread_pool()));
  UH_ASSIGN_OR_RETURN(const std::vector<double> ratios,
                      RequantizeRatios(node, *in[1], *in[4], *in[6], channels));
  const int64_t plane =
      NumElements(setup.output) / std::max<int64_t>(1, setup.shapes.batch * channels);
  return StoreRequantized(context, acc, ratios, *in[7], setup.output, plane, channels);
}

}  // namespace

void RegisterQuantizedLinearKernels(hal::KernelRegistry& registry) {
  registry.Register(
      ReferenceKernelDef("MatMulInteger", 10, INT_MAX, StatelessKernel(ComputeMatMulInteger)));
  registry.Register(
      ReferenceKernelDef("QLinearMatMul", 10, INT_MAX, StatelessKernel(ComputeQLinearMatMul)));
  registry.Register(
      ReferenceKernelDef("ConvInteger", 10, INT_MAX, StatelessKernel(ComputeConvInteger)));
  registry.Register(
      ReferenceKernelDef("QLinearConv", 10, INT_MAX, StatelessKernel(ComputeQLinearConv)));
}

}  // namespace unihal::cpu
