// Reference MaxPool, AveragePool and GlobalAveragePool, with ONNX Runtime's window rules:
// windows start at o * stride - pad_begin; ceil_mode may add windows that end in implicit
// padding, which counts neither for max nor (even with count_include_pad) for the average.
#include <algorithm>
#include <limits>

#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {
namespace {

struct PoolInput {
  int64_t batch = 0;
  int64_t channels = 0;
  Shape spatial;
};

Result<PoolInput> CheckPoolInput(const ir::Node& node, const Tensor& x) {
  if (x.rank() < 3 || x.rank() > 5) {
    return InvalidArgumentError(node.Describe() + ": input X " + x.Describe() +
                                " must be (N, C, spatial...) with 1 to 3 spatial dims");
  }
  PoolInput p{x.dim(0), x.dim(1), Shape(x.shape().begin() + 2, x.shape().end())};
  return p;
}

// ONNX Runtime rejects pads that are not smaller than the kernel; so do we.
Status CheckPadsSmallerThanKernel(const ir::Node& node, const WindowAttributes& window) {
  const size_t rank = window.kernel_shape.size();
  if (window.auto_pad != AutoPad::kNotSet || window.pads.size() != 2 * rank) return Status::Ok();
  for (size_t i = 0; i < rank; ++i) {
    if (window.pads[i] >= window.kernel_shape[i] ||
        window.pads[rank + i] >= window.kernel_shape[i]) {
      return InvalidArgumentError(node.Describe() + ": pads must be smaller than kernel_shape " +
                                  ShapeToString(window.kernel_shape));
    }
  }
  return Status::Ok();
}

Shape PoolOutputShape(const PoolInput& p, const WindowGeometry& g) {
  Shape shape{p.batch, p.channels};
  shape.insert(shape.end(), g.output.begin(), g.output.end());
  return shape;
}

int64_t Product(const std::vector<int64_t>& v) {
  int64_t product = 1;
  for (int64_t d : v) product *= d;
  return product;
}

template <typename T>
void MaxPool(const T* x, T* y, int64_t* indices, bool column_major, int64_t planes,
             const WindowGeometry& g, hal::ThreadPool& pool) {
  const int64_t in_plane = Product(g.input);
  const int64_t out_plane = Product(g.output);
  pool.ParallelFor(planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* in = x + plane * in_plane;
      int64_t o = plane * out_plane;
      for (int64_t od = 0; od < g.output[0]; ++od) {
        for (int64_t oh = 0; oh < g.output[1]; ++oh) {
          for (int64_t ow = 0; ow < g.output[2]; ++ow, ++o) {
            T best = std::numeric_limits<T>::lowest();
            int64_t best_index = -1;
            for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
              const int64_t id = od * g.strides[0] - g.pad_begin[0] + kd * g.dilations[0];
              if (id < 0 || id >= g.input[0]) continue;
              for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                const int64_t ih = oh * g.strides[1] - g.pad_begin[1] + kh * g.dilations[1];
                if (ih < 0 || ih >= g.input[1]) continue;
                for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                  const int64_t iw = ow * g.strides[2] - g.pad_begin[2] + kw * g.dilations[2];
                  if (iw < 0 || iw >= g.input[2]) continue;
                  const int64_t offset = (id * g.input[1] + ih) * g.input[2] + iw;
                  const int64_t index =
                      column_major ? id + ih * g.input[0] + iw * g.input[0] * g.input[1] : offset;
                  // As ONNX Runtime: NaN never wins, the first tap is the index of a tie.
                  if (best_index < 0) best_index = index;
                  if (in[offset] > best) {
                    best = in[offset];
                    best_index = index;
                  }
                }
              }
            }
            y[o] = best;
            if (indices) indices[o] = best_index < 0 ? -1 : plane * in_plane + best_index;
          }
        }
      }
    }
  });
}

// Per spatial dim and output index: how many window taps fall inside the input and how many
// inside the explicitly padded input.
struct TapCounts {
  std::vector<int64_t> valid;
  std::vector<int64_t> padded;
};

TapCounts CountTaps(const WindowGeometry& g, size_t dim) {
  TapCounts counts;
  for (int64_t o = 0; o < g.output[dim]; ++o) {
    int64_t valid = 0;
    int64_t padded = 0;
    for (int64_t k = 0; k < g.kernel[dim]; ++k) {
      const int64_t i = o * g.strides[dim] - g.pad_begin[dim] + k * g.dilations[dim];
      if (i >= 0 && i < g.input[dim]) ++valid;
      if (i < g.input[dim] + g.pad_end[dim]) ++padded;
    }
    counts.valid.push_back(valid);
    counts.padded.push_back(padded);
  }
  return counts;
}

template <typename T>
void AveragePool(const T* x, T* y, bool count_include_pad, int64_t planes, const WindowGeometry& g,
                 hal::ThreadPool& pool) {
  const int64_t in_plane = Product(g.input);
  const int64_t out_plane = Product(g.output);
  const TapCounts taps[3] = {CountTaps(g, 0), CountTaps(g, 1), CountTaps(g, 2)};
  pool.ParallelFor(planes, 1, [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      const T* in = x + plane * in_plane;
      int64_t o = plane * out_plane;
      for (int64_t od = 0; od < g.output[0]; ++od) {
        for (int64_t oh = 0; oh < g.output[1]; ++oh) {
          for (int64_t ow = 0; ow < g.output[2]; ++ow, ++o) {
            T sum = 0;
            for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
              const int64_t id = od * g.strides[0] - g.pad_begin[0] + kd * g.dilations[0];
              if (id < 0 || id >= g.input[0]) continue;
              for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
                const int64_t ih = oh * g.strides[1] - g.pad_begin[1] + kh * g.dilations[1];
                if (ih < 0 || ih >= g.input[1]) continue;
                for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                  const int64_t iw = ow * g.strides[2] - g.pad_begin[2] + kw * g.dilations[2];
                  if (iw < 0 || iw >= g.input[2]) continue;
                  sum += in[(id * g.input[1] + ih) * g.input[2] + iw];
                }
              }
            }
            const int64_t count = count_include_pad
                                      ? taps[0].padded[od] * taps[1].padded[oh] * taps[2].padded[ow]
                                      : taps[0].valid[od] * taps[1].valid[oh] * taps[2].valid[ow];
            y[o] = count > 0 ? sum / static_cast<T>(count) : T(0);
          }
        }
      }
    }
  });
}

class ReferenceMaxPool final : public hal::Kernel {
 public:
  ReferenceMaxPool(WindowAttributes window, bool column_major)
      : window_(std::move(window)), column_major_(column_major) {}

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    UH_ASSIGN_OR_RETURN(PoolInput p, CheckPoolInput(node, *x));
    UH_ASSIGN_OR_RETURN(WindowGeometry geometry,
                        ResolveWindow(node, window_, p.spatial, window_.kernel_shape));
    const Shape out_shape = PoolOutputShape(p, geometry);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, x->dtype(), out_shape));
    int64_t* indices = nullptr;
    if (node.outputs.size() > 1 && !node.outputs[1].empty()) {
      UH_ASSIGN_OR_RETURN(Tensor * indices_tensor,
                          context.AllocateOutput(1, DType::kI64, out_shape));
      indices = indices_tensor->data_as<int64_t>();
    }
    const WindowGeometry g3 = geometry.As3d();
    const int64_t planes = p.batch * p.channels;
    bool handled = true;
    switch (x->dtype()) {
      case DType::kF32:
        MaxPool(x->data_as<float>(), y->data_as<float>(), indices, column_major_, planes, g3,
                context.thread_pool());
        break;
      case DType::kF64:
        MaxPool(x->data_as<double>(), y->data_as<double>(), indices, column_major_, planes, g3,
                context.thread_pool());
        break;
      case DType::kI8:
        MaxPool(x->data_as<int8_t>(), y->data_as<int8_t>(), indices, column_major_, planes, g3,
                context.thread_pool());
        break;
      case DType::kU8:
        MaxPool(x->data_as<uint8_t>(), y->data_as<uint8_t>(), indices, column_major_, planes, g3,
                context.thread_pool());
        break;
      default:
        handled = false;
    }
    if (!handled) {
      return UnimplementedError(node.Describe() + ": MaxPool input X is " +
                                std::string(DTypeName(x->dtype())) +
                                "; the cpu kernel takes float32, float64, int8 or uint8");
    }
    return Status::Ok();
  }

 private:
  const WindowAttributes window_;
  const bool column_major_;
};

class ReferenceAveragePool final : public hal::Kernel {
 public:
  ReferenceAveragePool(WindowAttributes window, bool count_include_pad, bool global)
      : window_(std::move(window)), count_include_pad_(count_include_pad), global_(global) {}

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    UH_RETURN_IF_ERROR(CheckFloatInput(node, *x, "X"));
    UH_ASSIGN_OR_RETURN(PoolInput p, CheckPoolInput(node, *x));
    // GlobalAveragePool is an AveragePool whose kernel is the whole input.
    UH_ASSIGN_OR_RETURN(
        WindowGeometry geometry,
        ResolveWindow(node, window_, p.spatial, global_ ? p.spatial : window_.kernel_shape));
    UH_ASSIGN_OR_RETURN(Tensor * y,
                        context.AllocateOutput(0, x->dtype(), PoolOutputShape(p, geometry)));
    const WindowGeometry g3 = geometry.As3d();
    const int64_t planes = p.batch * p.channels;
    if (x->dtype() == DType::kF32) {
      AveragePool(x->data_as<float>(), y->data_as<float>(), count_include_pad_, planes, g3,
                  context.thread_pool());
    } else {
      AveragePool(x->data_as<double>(), y->data_as<double>(), count_include_pad_, planes, g3,
                  context.thread_pool());
    }
    return Status::Ok();
  }

 private:
  const WindowAttributes window_;
  const bool count_include_pad_;
  const bool global_;
};

}  // namespace

Result<std::unique_ptr<hal::Kernel>> CreateReferenceMaxPool(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(WindowAttributes window, ParseWindowAttributes(info.node, true));
  UH_RETURN_IF_ERROR(CheckPadsSmallerThanKernel(info.node, window));
  UH_ASSIGN_OR_RETURN(int64_t storage_order, info.node.GetInt("storage_order", 0));
  if (storage_order != 0 && storage_order != 1) {
    return InvalidArgumentError(info.node.Describe() + ": storage_order must be 0 (row major) " +
                                "or 1 (column major), got " + std::to_string(storage_order));
  }
  return std::unique_ptr<hal::Kernel>(
      std::make_unique<ReferenceMaxPool>(std::move(window), storage_order == 1));
}

Result<std::unique_ptr<hal::Kernel>> CreateReferenceAveragePool(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(WindowAttributes window, ParseWindowAttributes(info.node, true));
  UH_RETURN_IF_ERROR(CheckPadsSmallerThanKernel(info.node, window));
  UH_ASSIGN_OR_RETURN(int64_t count_include_pad, info.node.GetInt("count_include_pad", 0));
  return std::unique_ptr<hal::Kernel>(std::make_unique<ReferenceAveragePool>(
      std::move(window), count_include_pad != 0, /*global=*/false));
}

Result<std::unique_ptr<hal::Kernel>> CreateReferenceGlobalAveragePool(
    const hal::KernelCreateInfo&) {
  return std::unique_ptr<hal::Kernel>(
      std::make_unique<ReferenceAveragePool>(WindowAttributes{}, false, /*global=*/true));
}

}  // namespace unihal::cpu
