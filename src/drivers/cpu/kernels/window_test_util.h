// Test windows shared by the pooling and plain-window kernel tests.
#pragma once

#include <cstdint>

#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {

// A square kernel over in x (in + 1) planes (rows and columns differ, so a swapped index would
// show), with `extra` outputs per dim past the last window that fits (a ceil_mode window).
inline Window2d TestWindow(int64_t in, int64_t kernel, int64_t stride, int64_t pad,
                           int64_t dilation, int64_t extra = 0) {
  Window2d w;
  w.in_h = in;
  w.in_w = in + 1;
  w.kernel_h = w.kernel_w = kernel;
  w.stride_h = w.stride_w = stride;
  w.dilation_h = w.dilation_w = dilation;
  w.pad_top = w.pad_left = w.pad_bottom = w.pad_right = pad;
  const int64_t span = (kernel - 1) * dilation + 1;
  w.out_h = (w.in_h + 2 * pad - span) / stride + 1 + extra;
  w.out_w = (w.in_w + 2 * pad - span) / stride + 1 + extra;
  return w;
}

}  // namespace unihal::cpu
