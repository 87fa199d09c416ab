#include "drivers/cpu/kernels/window_geometry.h"

#include <algorithm>
#include <string>

namespace unihal::cpu {
namespace {

std::string JoinDims(std::span<const int64_t> dims) {
  return ShapeToString(Shape(dims.begin(), dims.end()));
}

Status CheckLength(const ir::Node& node, const char* name, const std::vector<int64_t>& values,
                   size_t expected) {
  if (values.empty() || values.size() == expected) return Status::Ok();
  return InvalidArgumentError(node.Describe() + ": attribute '" + name + "' " + JoinDims(values) +
                              " has " + std::to_string(values.size()) +
                              " values but the input has " +
                              std::to_string(expected / (std::string(name) == "pads" ? 2 : 1)) +
                              " spatial dims; give " + std::to_string(expected) + " values");
}

}  // namespace

Result<WindowAttributes> ParseWindowAttributes(const ir::Node& node, bool kernel_shape_required) {
  WindowAttributes attributes;
  UH_ASSIGN_OR_RETURN(std::string auto_pad, node.GetString("auto_pad", std::string("NOTSET")));
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    attributes.auto_pad = AutoPad::kNotSet;
  } else if (auto_pad == "SAME_UPPER") {
    attributes.auto_pad = AutoPad::kSameUpper;
  } else if (auto_pad == "SAME_LOWER") {
    attributes.auto_pad = AutoPad::kSameLower;
  } else if (auto_pad == "VALID") {
    attributes.auto_pad = AutoPad::kValid;
  } else {
    return InvalidArgumentError(node.Describe() + ": auto_pad '" + auto_pad +
                                "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  }
  UH_ASSIGN_OR_RETURN(attributes.kernel_shape,
                      node.GetInts("kernel_shape", std::vector<int64_t>{}));
  if (kernel_shape_required && attributes.kernel_shape.empty()) {
    return InvalidArgumentError(node.Describe() +
                                ": the required attribute 'kernel_shape' is missing");
  }
  UH_ASSIGN_OR_RETURN(attributes.strides, node.GetInts("strides", std::vector<int64_t>{}));
  UH_ASSIGN_OR_RETURN(attributes.dilations, node.GetInts("dilations", std::vector<int64_t>{}));
  UH_ASSIGN_OR_RETURN(attributes.pads, node.GetInts("pads", std::vector<int64_t>{}));
  UH_ASSIGN_OR_RETURN(int64_t ceil_mode, node.GetInt("ceil_mode", 0));
  attributes.ceil_mode = ceil_mode != 0;
  for (int64_t v : attributes.kernel_shape) {
    if (v <= 0) return InvalidArgumentError(node.Describe() + ": kernel_shape must be positive");
  }
  for (int64_t v : attributes.strides) {
    if (v <= 0) return InvalidArgumentError(node.Describe() + ": strides must be positive");
  }
  for (int64_t v : attributes.dilations) {
    if (v <= 0) return InvalidArgumentError(node.Describe() + ": dilations must be positive");
  }
  for (int64_t v : attributes.pads) {
    if (v < 0) return InvalidArgumentError(node.Describe() + ": pads must not be negative");
  }
  return attributes;
}

Window2d WindowGeometry::As2d() const {
  Window2d w;
  w.in_h = input[0];
  w.in_w = input[1];
  w.out_h = output[0];
  w.out_w = output[1];
  w.kernel_h = kernel[0];
  w.kernel_w = kernel[1];
  w.stride_h = strides[0];
  w.stride_w = strides[1];
  w.dilation_h = dilations[0];
  w.dilation_w = dilations[1];
  w.pad_top = pad_begin[0];
  w.pad_left = pad_begin[1];
  w.pad_bottom = pad_end[0];
  w.pad_right = pad_end[1];
  return w;
}

WindowGeometry WindowGeometry::As3d() const {
  WindowGeometry g;
  const size_t missing = 3 - rank();
  auto extend = [&](const std::vector<int64_t>& v, int64_t fill) {
    std::vector<int64_t> out(missing, fill);
    out.insert(out.end(), v.begin(), v.end());
    return out;
  };
  g.input = extend(input, 1);
  g.kernel = extend(kernel, 1);
  g.strides = extend(strides, 1);
  g.dilations = extend(dilations, 1);
  g.pad_begin = extend(pad_begin, 0);
  g.pad_end = extend(pad_end, 0);
  g.output = extend(output, 1);
  return g;
}

Result<WindowGeometry> ResolveWindow(const ir::Node& node, const WindowAttributes& attributes,
                                     std::span<const int64_t> input_spatial,
                                     std::span<const int64_t> kernel) {
  const size_t rank = input_spatial.size();
  if (rank == 0) {
    return InvalidArgumentError(node.Describe() +
                                ": the input needs at least one spatial dim (rank >= 3)");
  }
  if (kernel.size() != rank) {
    return InvalidArgumentError(node.Describe() + ": kernel " + JoinDims(kernel) + " has " +
                                std::to_string(kernel.size()) + " dims but the input has " +
                                std::to_string(rank) + " spatial dims " + JoinDims(input_spatial));
  }
  UH_RETURN_IF_ERROR(CheckLength(node, "strides", attributes.strides, rank));
  UH_RETURN_IF_ERROR(CheckLength(node, "dilations", attributes.dilations, rank));
  UH_RETURN_IF_ERROR(CheckLength(node, "pads", attributes.pads, 2 * rank));

  WindowGeometry g;
  g.input.assign(input_spatial.begin(), input_spatial.end());
  g.kernel.assign(kernel.begin(), kernel.end());
  g.strides = attributes.strides.empty() ? std::vector<int64_t>(rank, 1) : attributes.strides;
  g.dilations = attributes.dilations.empty() ? std::vector<int64_t>(rank, 1) : attributes.dilations;
  g.pad_begin.assign(rank, 0);
  g.pad_end.assign(rank, 0);
  g.output.assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = g.input[i];
    const int64_t stride = g.strides[i];
    const int64_t effective = g.EffectiveKernel(i);
    switch (attributes.auto_pad) {
      case AutoPad::kNotSet: {
        if (!attributes.pads.empty()) {
          g.pad_begin[i] = attributes.pads[i];
          g.pad_end[i] = attributes.pads[rank + i];
        }
        const int64_t span = in + g.pad_begin[i] + g.pad_end[i] - effective;
        if (span < 0) break;  // reported below
        int64_t out = span / stride + 1;
        if (attributes.ceil_mode) {
          out = (span + stride - 1) / stride + 1;
          // The last window must start inside the input or its begin padding.
          if ((out - 1) * stride >= in + g.pad_begin[i]) --out;
        }
        g.output[i] = out;
        break;
      }
      case AutoPad::kValid:
        g.output[i] = in >= effective ? (in - effective) / stride + 1 : 0;
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        const int64_t out = (in + stride - 1) / stride;
        const int64_t total = std::max<int64_t>(0, (out - 1) * stride + effective - in);
        const int64_t small_half = total / 2;
        g.pad_begin[i] =
            attributes.auto_pad == AutoPad::kSameUpper ? small_half : total - small_half;
        g.pad_end[i] = total - g.pad_begin[i];
        g.output[i] = out;
        break;
      }
    }
    if (g.output[i] <= 0) {
      return InvalidArgumentError(node.Describe() + ": the window (kernel " + JoinDims(g.kernel) +
                                  ", dilations " + JoinDims(g.dilations) +
                                  ") is larger than the padded input " + JoinDims(g.input) +
                                  "; use a smaller kernel or more padding");
    }
  }
  return g;
}

}  // namespace unihal::cpu
