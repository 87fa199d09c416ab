// Reference LpPool, GlobalMaxPool, GlobalLpPool and MaxUnpool, computed in float64. LpPool
// uses the shared window geometry (kernel/strides/dilations/pads/auto_pad/ceil_mode); padded
// taps contribute nothing to the sum.
#include <algorithm>
#include <cmath>
#include <limits>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

Status CheckPoolInput(const ir::Node& node, const Tensor& x, int64_t max_rank) {
  UH_RETURN_IF_ERROR(CheckDType(node, x, "input X", FloatDTypes()));
  if (x.rank() < 3 || x.rank() > max_rank) {
    return Invalid(node, "input X " + x.Describe() + " must be (N, C, spatial...) with 1 to " +
                             std::to_string(max_rank - 2) + " spatial dims");
  }
  return Status::Ok();
}

// p: a float attribute at opset 1, an int from opset 2.
Result<double> ReadP(const ir::Node& node) {
  double p;
  if (node.opset < 2) {
    UH_ASSIGN_OR_RETURN(const float value, node.GetFloat("p", 2.0f));
    p = value;
  } else {
    UH_ASSIGN_OR_RETURN(const int64_t value, node.GetInt("p", 2));
    p = static_cast<double>(value);
  }
  if (!(p > 0)) return Invalid(node, "p must be positive");
  return p;
}

// (sum of |x|^p)^(1/p) over each window.
std::vector<double> LpPoolPlanes(const std::vector<double>& x, int64_t planes,
                                 const WindowGeometry& g, double p) {
  const int64_t in_plane = g.input[0] * g.input[1] * g.input[2];
  const int64_t out_plane = g.output[0] * g.output[1] * g.output[2];
  std::vector<double> y(static_cast<size_t>(planes * out_plane));
  size_t o = 0;
  for (int64_t plane = 0; plane < planes; ++plane) {
    const double* in = x.data() + plane * in_plane;
    for (int64_t od = 0; od < g.output[0]; ++od) {
      for (int64_t oh = 0; oh < g.output[1]; ++oh) {
        for (int64_t ow = 0; ow < g.output[2]; ++ow) {
          double sum = 0.0;
          for (int64_t kd = 0; kd < g.kernel[0]; ++kd) {
            const int64_t id = od * g.strides[0] - g.pad_begin[0] + kd * g.dilations[0];
            if (id < 0 || id >= g.input[0]) continue;
            for (int64_t kh = 0; kh < g.kernel[1]; ++kh) {
              const int64_t ih = oh * g.strides[1] - g.pad_begin[1] + kh * g.dilations[1];
              if (ih < 0 || ih >= g.input[1]) continue;
              for (int64_t kw = 0; kw < g.kernel[2]; ++kw) {
                const int64_t iw = ow * g.strides[2] - g.pad_begin[2] + kw * g.dilations[2];
                if (iw < 0 || iw >= g.input[2]) continue;
                sum += std::pow(std::abs(in[(id * g.input[1] + ih) * g.input[2] + iw]), p);
              }
            }
          }
          y[o++] = std::pow(sum, 1.0 / p);
        }
      }
    }
  }
  return y;
}

Status ComputeLpPool(KernelContext& context, const WindowAttributes& window, double p) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckPoolInput(node, *x, 5));
  const Shape spatial(x->shape().begin() + 2, x->shape().end());
  UH_ASSIGN_OR_RETURN(const WindowGeometry g,
                      ResolveWindow(node, window, spatial, window.kernel_shape));
  Shape out_shape{x->dim(0), x->dim(1)};
  out_shape.insert(out_shape.end(), g.output.begin(), g.output.end());
  return WriteOutput(context, 0, x->dtype(), out_shape,
                     LpPoolPlanes(TensorToDoubles(*x), x->dim(0) * x->dim(1), g.As3d(), p));
}

Result<std::unique_ptr<hal::Kernel>> CreateLpPool(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(const WindowAttributes window, ParseWindowAttributes(info.node, true));
  UH_ASSIGN_OR_RETURN(const double p, ReadP(info.node));
  return MakeFunctionKernel(
      [window, p](KernelContext& context) { return ComputeLpPool(context, window, p); });
}

// GlobalMaxPool (p = 0) and GlobalLpPool over all spatial dims of each plane.
Status ComputeGlobalPool(KernelContext& context, bool max) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckPoolInput(node, *x, std::numeric_limits<int64_t>::max()));
  double p = 0.0;
  if (!max) {
    UH_ASSIGN_OR_RETURN(p, ReadP(node));
  }
  const int64_t planes = x->dim(0) * x->dim(1);
  const int64_t size = x->num_elements() / std::max<int64_t>(planes, 1);
  const std::vector<double> xs = TensorToDoubles(*x);
  std::vector<double> ys(static_cast<size_t>(planes));
  for (int64_t plane = 0; plane < planes; ++plane) {
    const double* in = xs.data() + plane * size;
    double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
    for (int64_t i = 0; i < size; ++i) {
      if (max) {
        acc = (in[i] > acc || std::isnan(in[i])) ? in[i] : acc;
      } else {
        acc += std::pow(std::abs(in[i]), p);
      }
    }
    ys[static_cast<size_t>(plane)] = max ? acc : std::pow(acc, 1.0 / p);
  }
  Shape out_shape(static_cast<size_t>(x->rank()), 1);
  out_shape[0] = x->dim(0);
  out_shape[1] = x->dim(1);
  return WriteOutput(context, 0, x->dtype(), out_shape, ys);
}

// `values` of `shape` placed at the origin of a zero tensor of `target` (cropped where smaller).
std::vector<double> Embed(const std::vector<double>& values, const Shape& shape,
                          const Shape& target) {
  std::vector<double> out(static_cast<size_t>(NumElements(target)), 0.0);
  for (size_t flat = 0; flat < values.size(); ++flat) {
    int64_t rest = static_cast<int64_t>(flat), offset = 0, stride = 1;
    bool inside = true;
    for (size_t d = shape.size(); d-- > 0;) {
      const int64_t i = rest % shape[d];
      rest /= shape[d];
      inside = inside && i < target[d];
      offset += i * stride;
      stride *= target[d];
    }
    if (inside) out[static_cast<size_t>(offset)] = values[flat];
  }
  return out;
}

// MaxUnpool: X values are scattered to the flat positions `I` (over the whole output tensor)
// of a zero tensor of the shape inferred from the window; as in ONNX's reference, an
// output_shape (input 2) then pads that tensor at the end.
Status ComputeMaxUnpool(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* indices, NeedInput(context, 1));
  UH_RETURN_IF_ERROR(CheckPoolInput(node, *x, std::numeric_limits<int64_t>::max()));
  UH_RETURN_IF_ERROR(CheckDType(node, *indices, "input I", {DType::kI64}));
  if (indices->shape() != x->shape()) {
    return Invalid(node, "I " + indices->Describe() + " must have the shape of X " + x->Describe());
  }
  const size_t rank = static_cast<size_t>(x->rank()) - 2;
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> kernel, node.GetInts("kernel_shape"));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> strides,
                      node.GetInts("strides", std::vector<int64_t>(rank, 1)));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> pads,
                      node.GetInts("pads", std::vector<int64_t>(2 * rank, 0)));
  if (kernel.size() != rank || strides.size() != rank || pads.size() != 2 * rank) {
    return Invalid(node, "kernel_shape, strides and pads must match X's spatial rank");
  }
  Shape out_shape{x->dim(0), x->dim(1)};
  for (size_t i = 0; i < rank; ++i) {
    out_shape.push_back((x->dim(static_cast<int64_t>(i) + 2) - 1) * strides[i] -
                        (pads[i] + pads[rank + i]) + kernel[i]);
  }
  UH_RETURN_IF_ERROR(CheckOutputSize(node, out_shape));
  const std::vector<double> xs = TensorToDoubles(*x);
  std::vector<double> ys(static_cast<size_t>(NumElements(out_shape)), 0.0);
  const int64_t* at = indices->data_as<int64_t>();
  for (size_t i = 0; i < xs.size(); ++i) {
    if (at[i] < 0 || at[i] >= static_cast<int64_t>(ys.size())) {
      return Invalid(node, "index " + std::to_string(at[i]) + " is outside the output");
    }
    ys[static_cast<size_t>(at[i])] = xs[i];
  }
  UH_ASSIGN_OR_RETURN(const OptionalInts output_shape, OptionalInt64Input(context, 2));
  if (output_shape.given) {
    if (output_shape.values.size() != out_shape.size()) {
      return Invalid(node,
                     "output_shape must have " + std::to_string(out_shape.size()) + " values");
    }
    UH_RETURN_IF_ERROR(CheckOutputSize(node, output_shape.values));
    return WriteOutput(context, 0, x->dtype(), output_shape.values,
                       Embed(ys, out_shape, output_shape.values));
  }
  return WriteOutput(context, 0, x->dtype(), out_shape, ys);
}

}  // namespace

void RegisterMorePoolKernels(hal::KernelRegistry& registry) {
  const SupportsFn floats = AcceptInputDTypes({0}, FloatDTypes());
  registry.Register(ReferenceKernelDef("LpPool", 1, INT_MAX, CreateLpPool, floats));
  registry.Register(ReferenceKernelDef(
      "GlobalMaxPool", 1, INT_MAX,
      StatelessKernel([](KernelContext& c) { return ComputeGlobalPool(c, /*max=*/true); }),
      floats));
  registry.Register(ReferenceKernelDef(
      "GlobalLpPool", 1, INT_MAX,
      StatelessKernel([](KernelContext& c) { return ComputeGlobalPool(c, /*max=*/false); }),
      floats));
  registry.Register(
      ReferenceKernelDef("MaxUnpool", 9, INT_MAX, StatelessKernel(ComputeMaxUnpool), floats));
}

}  // namespace unihal::cpu
