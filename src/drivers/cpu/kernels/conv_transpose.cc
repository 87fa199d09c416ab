// Reference ConvTranspose (any number of spatial dims, groups, dilations, output_padding,
// output_shape, auto_pad) and Col2Im (opset 18), computed in float64 by scattering each input
// element into the output windows it contributes to.
#include <algorithm>

#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/nn_more.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// Calls fn(offset) for each multi-index over `dims` with the flat row-major offset, passing the
// index too.
template <typename Fn>
void ForEachIndex(const std::vector<int64_t>& dims, Fn&& fn) {
  const int64_t total = NumElements(dims);
  std::vector<int64_t> index(dims.size(), 0);
  for (int64_t flat = 0; flat < total; ++flat) {
    fn(flat, index);
    for (size_t d = dims.size(); d-- > 0;) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

// Per spatial dim: the geometry of a transposed convolution (or of Col2Im's windows).
struct Transposed {
  std::vector<int64_t> input;  // spatial dims of X (or the window grid of Col2Im)
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pad_begin;
  std::vector<int64_t> output;
};

Result<std::vector<int64_t>> IntsOrDefault(const ir::Node& node, const std::string& name,
                                           size_t rank, int64_t fallback) {
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> values,
                      node.GetInts(name, std::vector<int64_t>(rank, fallback)));
  if (values.size() != rank) {
    return Invalid(node, name + " must have " + std::to_string(rank) + " values");
  }
  return values;
}

Result<Transposed> ResolveConvTranspose(const ir::Node& node, const Shape& x, const Shape& w) {
  const size_t rank = x.size() - 2;
  Transposed t;
  t.input.assign(x.begin() + 2, x.end());
  t.kernel.assign(w.begin() + 2, w.end());
  UH_ASSIGN_OR_RETURN(t.strides, IntsOrDefault(node, "strides", rank, 1));
  UH_ASSIGN_OR_RETURN(t.dilations, IntsOrDefault(node, "dilations", rank, 1));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> output_padding,
                      IntsOrDefault(node, "output_padding", rank, 0));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> pads,
                      node.GetInts("pads", std::vector<int64_t>(2 * rank, 0)));
  if (pads.size() != 2 * rank)
    return Invalid(node, "pads must have " + std::to_string(2 * rank) + " values");
  UH_ASSIGN_OR_RETURN(const std::string auto_pad, node.GetString("auto_pad", "NOTSET"));
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" &&
      auto_pad != "SAME_LOWER") {
    return Invalid(node, "unknown auto_pad '" + auto_pad + "'");
  }
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> output_shape,
                      node.GetInts("output_shape", std::vector<int64_t>{}));
  if (output_shape.size() == rank + 2)
    output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != rank) {
    return Invalid(node, "output_shape must have " + std::to_string(rank) + " values");
  }
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  for (size_t i = 0; i < rank; ++i) {
    const int64_t full = t.strides[i] * (t.input[i] - 1) + output_padding[i] +
                         (t.kernel[i] - 1) * t.dilations[i] + 1;
    if (!output_shape.empty() || same) {
      // The output size decides the padding, split as the spec says.
      const int64_t out = output_shape.empty() ? t.input[i] * t.strides[i] : output_shape[i];
      // An output larger than the full one (total < 0) is extended at the end, as
      // output_padding would (ONNX Runtime clamps the padding at 0 too).
      const int64_t total = std::max<int64_t>(full - out, 0);
      t.pad_begin.push_back(auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2);
      t.output.push_back(out);
    } else {
      if (auto_pad == "VALID") pads.assign(2 * rank, 0);
      t.pad_begin.push_back(pads[i]);
      t.output.push_back(full - pads[i] - pads[rank + i]);
    }
    if (t.output.back() < 0) return Invalid(node, "the output would have a negative size");
  }
  return t;
}

// out[o] += in[i] * weight for o = i * stride - pad + k * dilation, for one (input plane,
// kernel) pair scattered into one output plane.
void ScatterPlane(const Transposed& t, const double* in, const double* kernel, double* out) {
  const size_t rank = t.input.size();
  const int64_t kernel_size = NumElements(t.kernel);
  std::vector<int64_t> k_index(rank);
  ForEachIndex(t.input, [&](int64_t i_flat, const std::vector<int64_t>& i_index) {
    const double value = in[i_flat];
    std::fill(k_index.begin(), k_index.end(), 0);
    for (int64_t k = 0; k < kernel_size; ++k) {
      int64_t offset = 0;
      bool inside = true;
      for (size_t d = 0; d < rank && inside; ++d) {
        const int64_t o = i_index[d] * t.strides[d] - t.pad_begin[d] + k_index[d] * t.dilations[d];
        inside = o >= 0 && o < t.output[d];
        offset = offset * t.output[d] + o;
      }
      if (inside) out[offset] += value * kernel[k];
      for (size_t d = rank; d-- > 0;) {
        if (++k_index[d] < t.kernel[d]) break;
        k_index[d] = 0;
      }
    }
  });
}

Status ComputeConvTranspose(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_ASSIGN_OR_RETURN(const Tensor* w, NeedInput(context, 1));
  const Tensor* b = context.input(2);
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input X", FloatDTypes()));
  UH_RETURN_IF_ERROR(CheckDType(node, *w, "input W", {x->dtype()}));
  UH_ASSIGN_OR_RETURN(const int64_t group, node.GetInt("group", 1));
  if (x->rank() < 3 || w->rank() != x->rank()) {
    return Invalid(node, "X " + x->Describe() + " and W " + w->Describe() +
                             " must be (N, C, spatial...) and (C, M/group, kernel...)");
  }
  const int64_t channels = x->dim(1);
  if (group < 1 || channels % group != 0 || w->dim(0) != channels) {
    return Invalid(node, "W " + w->Describe() + " does not fit X " + x->Describe() +
                             " with group " + std::to_string(group));
  }
  const int64_t out_per_group = w->dim(1);
  const int64_t out_channels = out_per_group * group;
  if (b && (b->rank() != 1 || b->dim(0) != out_channels)) {
    return Invalid(node, "B " + b->Describe() + " must be (" + std::to_string(out_channels) + ")");
  }
  UH_ASSIGN_OR_RETURN(const Transposed t, ResolveConvTranspose(node, x->shape(), w->shape()));
  Shape out_shape{x->dim(0), out_channels};
  out_shape.insert(out_shape.end(), t.output.begin(), t.output.end());
  UH_RETURN_IF_ERROR(CheckOutputSize(node, out_shape));
  const int64_t in_plane = NumElements(t.input);
  const int64_t out_plane = NumElements(t.output);
  const int64_t kernel_size = NumElements(t.kernel);
  const std::vector<double> xs = TensorToDoubles(*x);
  const std::vector<double> ws = TensorToDoubles(*w);
  const std::vector<double> bs =
      b ? TensorToDoubles(*b) : std::vector<double>(static_cast<size_t>(out_channels), 0.0);
  const int64_t batch = x->dim(0);
  std::vector<double> ys(static_cast<size_t>(batch * out_channels * out_plane));
  const int64_t in_per_group = channels / group;
  // Each (image, output channel) plane is written by one task.
  context.thread_pool().ParallelFor(batch * out_channels, 1, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / out_channels, oc = item % out_channels;
      double* out = ys.data() + item * out_plane;
      std::fill(out, out + out_plane, bs[static_cast<size_t>(oc)]);
      const int64_t g = oc / out_per_group;
      const int64_t m = oc % out_per_group;
      for (int64_t c = 0; c < in_per_group; ++c) {
        const int64_t ic = g * in_per_group + c;
        ScatterPlane(t, xs.data() + (n * channels + ic) * in_plane,
                     ws.data() + (ic * out_per_group + m) * kernel_size, out);
      }
    }
  });
  return WriteOutput(context, 0, x->dtype(), out_shape, ys);
}

// Col2Im: input (N, C * prod(block), L) with L the number of sliding windows over the padded
// image; each column is scattered back into the image and overlaps add up.
Status ComputeCol2Im(KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "input", FloatDTypes()));
  UH_ASSIGN_OR_RETURN(const OptionalInts image, OptionalInt64Input(context, 1));
  UH_ASSIGN_OR_RETURN(const OptionalInts block, OptionalInt64Input(context, 2));
  const size_t rank = image.values.size();
  if (rank == 0 || block.values.size() != rank || x->rank() != 3) {
    return Invalid(node, "input " + x->Describe() +
                             " must be (N, C*prod(block), L) and image_shape and block_shape " +
                             "must have the same nonzero length");
  }
  Transposed t;
  t.kernel = block.values;
  t.output = image.values;
  UH_ASSIGN_OR_RETURN(t.strides, IntsOrDefault(node, "strides", rank, 1));
  UH_ASSIGN_OR_RETURN(t.dilations, IntsOrDefault(node, "dilations", rank, 1));
  UH_ASSIGN_OR_RETURN(const std::vector<int64_t> pads, IntsOrDefault(node, "pads", 2 * rank, 0));
  int64_t windows = 1;
  for (size_t i = 0; i < rank; ++i) {
    const int64_t span =
        t.output[i] + pads[i] + pads[rank + i] - ((t.kernel[i] - 1) * t.dilations[i] + 1);
    if (span < 0 || t.strides[i] <= 0 || t.dilations[i] <= 0 || t.kernel[i] <= 0) {
      return Invalid(node, "the block does not fit the padded image");
    }
    t.input.push_back(span / t.strides[i] + 1);
    t.pad_begin.push_back(pads[i]);
    windows *= t.input.back();
  }
  const int64_t kernel_size = NumElements(t.kernel);
  if (x->dim(1) % kernel_size != 0 || x->dim(2) != windows) {
    return Invalid(node, "input " + x->Describe() + " does not match block_shape and image_shape");
  }
  const int64_t channels = x->dim(1) / kernel_size;
  Shape out_shape{x->dim(0), channels};
  out_shape.insert(out_shape.end(), t.output.begin(), t.output.end());
  UH_RETURN_IF_ERROR(CheckOutputSize(node, out_shape));
  const int64_t out_plane = NumElements(t.output);
  const std::vector<double> xs = TensorToDoubles(*x);
  std::vector<double> ys(static_cast<size_t>(x->dim(0) * channels * out_plane), 0.0);
  std::vector<double> one_hot(static_cast<size_t>(kernel_size), 0.0);
  // Each block offset k is a one-hot kernel scattering its row of windows.
  for (int64_t n = 0; n < x->dim(0); ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t k = 0; k < kernel_size; ++k) {
        one_hot[static_cast<size_t>(k)] = 1.0;
        ScatterPlane(t, xs.data() + ((n * channels + c) * kernel_size + k) * windows,
                     one_hot.data(), ys.data() + (n * channels + c) * out_plane);
        one_hot[static_cast<size_t>(k)] = 0.0;
      }
    }
  }
  return WriteOutput(context, 0, x->dtype(), out_shape, ys);
}

}  // namespace

void RegisterConvTransposeKernels(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("ConvTranspose", 1, INT_MAX,
                                       StatelessKernel(ComputeConvTranspose),
                                       AcceptInputDTypes({0, 1}, FloatDTypes())));
  registry.Register(ReferenceKernelDef("Col2Im", 18, INT_MAX, StatelessKernel(ComputeCol2Im),
                                       AcceptInputDTypes({0}, FloatDTypes())));
}

}  // namespace unihal::cpu
