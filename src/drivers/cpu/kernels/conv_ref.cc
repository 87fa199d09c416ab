// Reference Conv: a direct loop over a 3-D view of the window (1-D/2-D convs get unit dims),
// parallel over (batch, output channel), with the innermost loop over a contiguous output row.
// float16 and bfloat16 are widened to float32, computed there and rounded once.
#include <algorithm>
#include <vector>

#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/nn_shapes.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {
namespace {

// First and one-past-last output index o with 0 <= o * stride + offset < size.
void ValidOutputRange(int64_t offset, int64_t stride, int64_t size, int64_t outputs, int64_t* begin,
                      int64_t* end) {
  // o >= ceil(-offset / stride), o <= floor((size - 1 - offset) / stride)
  const int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  const int64_t hi_numerator = size - 1 - offset;
  const int64_t hi = hi_numerator < 0 ? -1 : hi_numerator / stride;
  *begin = std::min(lo, outputs);
  *end = std::max(*begin, std::min(hi + 1, outputs));
}

template <typename T>
void Convolve(const T* x, const T* w, const T* bias, T* y, const ConvShapes& s,
              const WindowGeometry& g3, hal::ThreadPool& pool) {
  const int64_t in_per_group = s.in_channels / s.group;
  const int64_t out_per_group = s.out_channels / s.group;
  const int64_t in_plane = g3.input[0] * g3.input[1] * g3.input[2];
  const int64_t out_plane = g3.output[0] * g3.output[1] * g3.output[2];
  const int64_t kernel_size = g3.kernel[0] * g3.kernel[1] * g3.kernel[2];
  const int64_t work_per_item = in_per_group * kernel_size * out_plane;
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, work_per_item));
  pool.ParallelFor(s.batch * s.out_channels, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / s.out_channels;
      const int64_t m = item % s.out_channels;
      const int64_t g = m / out_per_group;
      T* out = y + item * out_plane;
      std::fill(out, out + out_plane, bias ? bias[m] : T(0));
      for (int64_t ic = 0; ic < in_per_group; ++ic) {
        const T* in = x + (n * s.in_channels + g * in_per_group + ic) * in_plane;
        const T* weights = w + (m * in_per_group + ic) * kernel_size;
        for (int64_t kd = 0; kd < g3.kernel[0]; ++kd) {
          for (int64_t kh = 0; kh < g3.kernel[1]; ++kh) {
            for (int64_t kw = 0; kw < g3.kernel[2]; ++kw) {
              const T wv = weights[(kd * g3.kernel[1] + kh) * g3.kernel[2] + kw];
              const int64_t w_offset = kw * g3.dilations[2] - g3.pad_begin[2];
              int64_t ow_begin = 0;
              int64_t ow_end = 0;
              ValidOutputRange(w_offset, g3.strides[2], g3.input[2], g3.output[2], &ow_begin,
                               &ow_end);
              for (int64_t od = 0; od < g3.output[0]; ++od) {
                const int64_t id = od * g3.strides[0] + kd * g3.dilations[0] - g3.pad_begin[0];
                if (id < 0 || id >= g3.input[0]) continue;
                for (int64_t oh = 0; oh < g3.output[1]; ++oh) {
                  const int64_t ih = oh * g3.strides[1] + kh * g3.dilations[1] - g3.pad_begin[1];
                  if (ih < 0 || ih >= g3.input[1]) continue;
                  const T* in_row = in + (id * g3.input[1] + ih) * g3.input[2] + w_offset;
                  T* out_row = out + (od * g3.output[1] + oh) * g3.output[2];
                  const int64_t stride = g3.strides[2];
                  for (int64_t ow = ow_begin; ow < ow_end; ++ow) {
                    out_row[ow] += wv * in_row[ow * stride];
                  }
                }
              }
            }
          }
        }
      }
    }
  });
}

class ReferenceConv final : public hal::Kernel {
 public:
  ReferenceConv(WindowAttributes window, int64_t group)
      : window_(std::move(window)), group_(group) {}

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    UH_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(context, 1, "W"));
    const Tensor* bias = context.input(2);
    if (!IsHalfFloat(x->dtype())) UH_RETURN_IF_ERROR(CheckFloatInput(node, *x, "X"));
    UH_RETURN_IF_ERROR(CheckSameDType(node, *w, "W", x->dtype()));
    if (bias) UH_RETURN_IF_ERROR(CheckSameDType(node, *bias, "B", x->dtype()));
    UH_ASSIGN_OR_RETURN(
        ConvShapes shapes,
        CheckConvShapes(node, x->shape(), w->shape(), bias ? &bias->shape() : nullptr, group_));
    UH_ASSIGN_OR_RETURN(Shape kernel, ConvKernelShape(node, window_.kernel_shape, w->shape()));
    UH_ASSIGN_OR_RETURN(WindowGeometry geometry,
                        ResolveWindow(node, window_, shapes.input_spatial, kernel));
    if (geometry.rank() > 3) {
      return UnimplementedError(node.Describe() + ": Conv with " + std::to_string(geometry.rank()) +
                                " spatial dims is not supported (at most 3)");
    }
    Shape out_shape{shapes.batch, shapes.out_channels};
    out_shape.insert(out_shape.end(), geometry.output.begin(), geometry.output.end());
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), out_shape));
    const WindowGeometry g3 = geometry.As3d();
    if (IsHalfFloat(x->dtype())) {
      const std::vector<float> x32 = WidenToFloat(*x);
      const std::vector<float> w32 = WidenToFloat(*w);
      const std::vector<float> bias32 = bias ? WidenToFloat(*bias) : std::vector<float>();
      std::vector<float> y32(static_cast<size_t>(y->num_elements()));
      Convolve<float>(x32.data(), w32.data(), bias ? bias32.data() : nullptr, y32.data(), shapes,
                      g3, context.thread_pool());
      NarrowFromFloat(y32, *y);
    } else if (x->dtype() == DType::kF32) {
      Convolve<float>(x->data_as<float>(), w->data_as<float>(),
                      bias ? bias->data_as<float>() : nullptr, y->data_as<float>(), shapes, g3,
                      context.thread_pool());
    } else {
      Convolve<double>(x->data_as<double>(), w->data_as<double>(),
                       bias ? bias->data_as<double>() : nullptr, y->data_as<double>(), shapes, g3,
                       context.thread_pool());
    }
    return Status::Ok();
  }

 private:
  const WindowAttributes window_;
  const int64_t group_;
};

}  // namespace

Result<std::unique_ptr<hal::Kernel>> CreateReferenceConv(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(WindowAttributes window, ParseWindowAttributes(info.node, false));
  window.ceil_mode = false;  // Conv has no ceil_mode
  UH_ASSIGN_OR_RETURN(int64_t group, info.node.GetInt("group", 1));
  return std::unique_ptr<hal::Kernel>(std::make_unique<ReferenceConv>(std::move(window), group));
}

}  // namespace unihal::cpu
