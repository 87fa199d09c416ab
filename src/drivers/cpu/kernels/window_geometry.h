// Sliding-window geometry shared by Conv and the pools (reference and oneDNN): parses
// kernel_shape / strides / dilations / pads / auto_pad / ceil_mode and resolves them against a
// concrete input shape the way ONNX Runtime does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"

namespace unihal::cpu {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The window attributes as written on the node; empty vectors mean "the default".
struct WindowAttributes {
  AutoPad auto_pad = AutoPad::kNotSet;
  std::vector<int64_t> kernel_shape;  // empty: Conv infers it from W
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;  // [x1_begin, x2_begin, ..., x1_end, x2_end, ...]
  bool ceil_mode = false;
};

// Reads the attributes; `kernel_shape_required` for the pools. Errors name the node.
Result<WindowAttributes> ParseWindowAttributes(const ir::Node& node, bool kernel_shape_required);

// A resolved 2-D window as the flat fields the kernels loop over.
struct Window2d {
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;  // 1 = no gaps (ONNX convention)
  int64_t pad_top = 0, pad_left = 0;
  // The explicit end padding: an include-pad average's divisor counts the window's positions
  // inside [-pad_begin, in + pad_end), never the extra that ceil_mode adds.
  int64_t pad_bottom = 0, pad_right = 0;
};

// Everything resolved for one input: per spatial dim.
struct WindowGeometry {
  std::vector<int64_t> input;
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pad_begin;
  std::vector<int64_t> pad_end;  // as given or derived from auto_pad (not ceil_mode's extra)
  std::vector<int64_t> output;

  size_t rank() const { return input.size(); }
  int64_t EffectiveKernel(size_t i) const { return (kernel[i] - 1) * dilations[i] + 1; }
  // Padding at the end that oneDNN needs so its window count equals `output` (ceil_mode can
  // make it larger than pad_end).
  int64_t PaddingForOutput(size_t i) const {
    return (output[i] - 1) * strides[i] + EffectiveKernel(i) - input[i] - pad_begin[i];
  }
  // The same geometry with leading unit dims so it has exactly 3 spatial dims (for loops).
  WindowGeometry As3d() const;
  // The 2-D fields (rank() == 2).
  Window2d As2d() const;
};

// What a pool computes over its window. A window with no element inside the input gives -inf
// (max) or 0 (average).
enum class PoolOp { kMax, kAverageExcludePad, kAverageIncludePad };

// The taps of one window dim that lie inside the input: the first k in [0, kernel) with
// start + k * dilation >= 0, and one past the last one < size.
inline void ValidWindowTaps(int64_t start, int64_t kernel, int64_t dilation, int64_t size,
                            int64_t& first, int64_t& last) {
  first = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
  if (start + (kernel - 1) * dilation < size) {
    last = kernel;
  } else {
    last = start < size ? (size - 1 - start) / dilation + 1 : 0;
  }
  if (last < first) last = first;
}

// An include-pad average's divisor along one dim: how many of the kernel's taps from `start`
// lie before size + pad_end (ceil_mode's extra padding does not count).
inline int64_t PaddedWindowTaps(int64_t start, int64_t kernel, int64_t dilation, int64_t size,
                                int64_t pad_end) {
  const int64_t room = size - 1 + pad_end - start;
  return room < 0 ? 0 : std::min(kernel, room / dilation + 1);
}

// The taps along one dim that an average's divisor counts: those inside the input (exclude
// pad), or those before size + pad_end (include pad).
inline int64_t AverageWindowTaps(PoolOp op, int64_t start, int64_t kernel, int64_t dilation,
                                 int64_t size, int64_t pad_end) {
  if (op == PoolOp::kAverageIncludePad) {
    return PaddedWindowTaps(start, kernel, dilation, size, pad_end);
  }
  int64_t first, last;
  ValidWindowTaps(start, kernel, dilation, size, first, last);
  return last - first;
}

// Resolves `attributes` for `input_spatial` with `kernel` (from kernel_shape or W).
Result<WindowGeometry> ResolveWindow(const ir::Node& node, const WindowAttributes& attributes,
                                     std::span<const int64_t> input_spatial,
                                     std::span<const int64_t> kernel);

}  // namespace unihal::cpu
