// Reference DeformConv (opset 19) for 2-D inputs: each kernel tap samples X bilinearly (zero
// outside) at its regular position plus a learned offset, optionally scaled by a mask.
#include <cmath>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

struct DeformGeometry {
  int64_t batch, in_channels, in_h, in_w;
  int64_t out_channels, kernel_h, kernel_w, out_h, out_w;
  int64_t group, offset_group;
  int64_t stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
};

// Bilinear sample of an h x w plane at (y, x); taps outside the plane count as 0.
double SampleBilinear(const double* plane, int64_t h, int64_t w, double y, double x) {
  const double y0 = std::floor(y), x0 = std::floor(x);
  const double ly = y - y0, lx = x - x0;
  double sum = 0.0;
  for (int dy = 0; dy < 2; ++dy) {
    const int64_t yi = SafeIndex(y0) + dy;
    if (yi < 0 || yi >= h) continue;
    for (int dx = 0; dx < 2; ++dx) {
      const int64_t xi = SafeIndex(x0) + dx;
      if (xi < 0 || xi >= w) continue;
      sum += (dy ? ly : 1 - ly) * (dx ? lx : 1 - lx) * plane[yi * w + xi];
    }
  }
  return sum;
}

Result<DeformGeometry> ResolveDeform(const ir::Node& node, const Tensor& x, const Tensor& w,
                                     const Tensor& offset) {
  if (x.rank() != 4) {
    return Unimplemented(node, "DeformConv takes only 2-D images here, got X " + x.Describe());
  }
  DeformGeometry g{};
  g.batch = x.dim(0);
  g.in_channels = x.dim(1);
  g.in_h = x.dim(2);
  g.in_w = x.dim(3);
  UH_ASSIGN_OR_RETURN(g.group, node.GetInt("group", 1));
  UH_ASSIGN_OR_RETURN(g.offset_group, node.GetInt("offset_group", 1));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> strides,
                      node.GetInts("strides", std::vector<int64_t>{1, 1}));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> dilations,
                      node.GetInts("dilations", std::vector<int64_t>{1, 1}));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> pads,
                      node.GetInts("pads", std::vector<int64_t>{0, 0, 0, 0}));
  if (w.rank() != 4 || offset.rank() != 4 || strides.size() != 2 || dilations.size() != 2 ||
      pads.size() != 4 || g.group < 1 || g.offset_group < 1 ||
      w.dim(1) * g.group != g.in_channels || w.dim(0) % g.group != 0 ||
      g.in_channels % g.offset_group != 0 || strides[0] <= 0 || strides[1] <= 0 ||
      dilations[0] <= 0 || dilations[1] <= 0) {
    return Invalid(node, "W " + w.Describe() + " and offset " + offset.Describe() +
                             " do not fit X " + x.Describe() + " with the attributes");
  }
  g.out_channels = w.dim(0);
  g.kernel_h = w.dim(2);
  g.kernel_w = w.dim(3);
  g.out_h = offset.dim(2);
  g.out_w = offset.dim(3);
  g.stride_h = strides[0];
  g.stride_w = strides[1];
  g.dilation_h = dilations[0];
  g.dilation_w = dilations[1];
  g.pad_top = pads[0];
  g.pad_left = pads[1];
  const int64_t expect_h =
      (g.in_h + pads[0] + pads[2] - ((g.kernel_h - 1) * g.dilation_h + 1)) / g.stride_h + 1;
  const int64_t expect_w =
      (g.in_w + pads[1] + pads[3] - ((g.kernel_w - 1) * g.dilation_w + 1)) / g.stride_w + 1;
  if (offset.dim(0) != g.batch || offset.dim(1) != g.offset_group * g.kernel_h * g.kernel_w * 2 ||
      g.out_h != expect_h || g.out_w != expect_w) {
    return Invalid(node, "offset " + offset.Describe() + " must be (N, offset_group*kH*kW*2, " +
                             std::to_string(expect_h) + ", " + std::to_string(expect_w) + ")");
  }
  return g;
}

// One output value: sum over the group's input channels and kernel taps.
double DeformValue(const DeformGeometry& g, const std::vector<double>& x,
                   const std::vector<double>& w, const std::vector<double>& offset,
                   const std::vector<double>& mask, int64_t n, int64_t oc, int64_t i, int64_t j) {
  const int64_t per_group = g.in_channels / g.group;
  const int64_t per_offset_group = g.in_channels / g.offset_group;
  const int64_t taps = g.kernel_h * g.kernel_w;
  const int64_t plane = g.out_h * g.out_w;
  double sum = 0.0;
  for (int64_t c = 0; c < per_group; ++c) {
    const int64_t ic = (oc / (g.out_channels / g.group)) * per_group + c;
    const int64_t og = ic / per_offset_group;
    const double* image = x.data() + (n * g.in_channels + ic) * g.in_h * g.in_w;
    for (int64_t a = 0; a < g.kernel_h; ++a) {
      for (int64_t b = 0; b < g.kernel_w; ++b) {
        const int64_t tap = (og * taps + a * g.kernel_w + b);
        const int64_t at = i * g.out_w + j;
        const double dy =
            offset[static_cast<size_t>(((n * g.offset_group * taps * 2) + tap * 2) * plane + at)];
        const double dx = offset[static_cast<size_t>(
            ((n * g.offset_group * taps * 2) + tap * 2 + 1) * plane + at)];
        const double m =
            mask.empty()
                ? 1.0
                : mask[static_cast<size_t>((n * g.offset_group * taps + tap) * plane + at)];
        const double y = static_cast<double>(i * g.stride_h - g.pad_top + a * g.dilation_h) + dy;
        const double xx = static_cast<double>(j * g.stride_w - g.pad_left + b * g.dilation_w) + dx;
        sum += w[static_cast<size_t>(((oc * per_group + c) * g.kernel_h + a) * g.kernel_w + b)] *
               m * SampleBilinear(image, g.in_h, g.in_w, y, xx);
      }
    }
  }
  return sum;
}

Status ComputeDeformConv(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* w, NeedInput(context, 1));
  UH_ASSIGN_OR_RETURN(const Tensor* offset, NeedInput(context, 2));
  const Tensor* b = context.input(3);
  const Tensor* mask = context.input(4);
  for (const Tensor* t : {x, w, offset, b, mask}) {
    if (t) {
      UH_RETURN_IF_ERROR(CheckDType(node, *t, "every input", FloatDTypes()));
    }
  }
  UH_ASSIGN_OR_RETURN(const DeformGeometry g, ResolveDeform(node, *x, *w, *offset));
  const int64_t taps = g.kernel_h * g.kernel_w;
  if (b && b->num_elements() != g.out_channels)
    return Invalid(node, "B must have one value per output channel");
  if (mask && mask->num_elements() != g.batch * g.offset_group * taps * g.out_h * g.out_w) {
    return Invalid(node, "mask " + mask->Describe() + " must be (N, offset_group*kH*kW, oH, oW)");
  }
  const std::vector<double> xs = TensorToDoubles(*x), ws = TensorToDoubles(*w);
  const std::vector<double> offsets = TensorToDoubles(*offset);
  const std::vector<double> masks = mask ? TensorToDoubles(*mask) : std::vector<double>{};
  const std::vector<double> bias = b ? TensorToDoubles(*b) : std::vector<double>{};
  UH_RETURN_IF_ERROR(CheckOutputSize(node, {g.batch, g.out_channels, g.out_h, g.out_w}));
  std::vector<double> ys(static_cast<size_t>(g.batch * g.out_channels * g.out_h * g.out_w));
  context.thread_pool().ParallelFor(g.batch * g.out_channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / g.out_channels, oc = item % g.out_channels;
      double* out = ys.data() + item * g.out_h * g.out_w;
      for (int64_t i = 0; i < g.out_h; ++i) {
        for (int64_t j = 0; j < g.out_w; ++j) {
          out[i * g.out_w + j] = (bias.empty() ? 0.0 : bias[static_cast<size_t>(oc)]) +
                                 DeformValue(g, xs, ws, offsets, masks, n, oc, i, j);
        }
      }
    }
  });
  return WriteOutput(context, 0, x->dtype(), Shape{g.batch, g.out_channels, g.out_h, g.out_w}, ys);
}

}  // namespace

void RegisterDeformConvKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("DeformConv", 19, INT_MAX,
                                       StatelessKernel(ComputeDeformConv),
                                       AcceptInputDTypes({0, 1, 2}, FloatDTypes())));
}

}  // namespace unihal::cpu
