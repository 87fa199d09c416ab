// Depthwise convolution and max / average pooling over 2-D windows of float32 tensors in plain
// NCHW, one image plane at a time. Each worker copies the plane once into its thread buffer,
// padded (0, or -inf for max) and split into its stride phases, so that every tap of the window
// reads one contiguous run of the copy for a whole run of outputs; the outputs then go 64 at a
// time (four 16-float vectors: AVX-512 registers, or AVX2 / SSE pairs) through every tap.
// oneDNN 2.6 runs a depthwise convolution on plain tensors by reordering them to NHWC and back
// around each call, and pools plain tensors only through blocked copies (dnnl_pool.cc).
// ShuffleNet's channel shuffles keep its depthwise convolutions plain; 24- or 1000-channel
// values on nChw16c keep their pools plain.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "drivers/cpu/kernels/thread_buffer.h"
#include "drivers/cpu/kernels/window_geometry.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::cpu {

struct PlainWindowGeometry : Window2d {
  int64_t batch = 1;
  int64_t channels = 1;    // input planes per image
  int64_t multiplier = 1;  // output planes per input plane (a depthwise convolution's M / C)
};

// The geometry of a resolved 2-D window (g.rank() == 2).
PlainWindowGeometry PlainWindow(int64_t batch, int64_t channels, int64_t multiplier,
                                const WindowGeometry& g);

// Whether a Conv is one DepthwiseConvPlain runs: 2-D, one input channel per group, and a whole
// number of output channels per group.
bool IsDepthwise2d(int64_t group, int64_t in_channels, int64_t out_channels, size_t spatial_rank);

// What a geometry needs, worked out once (per primitive, not per run): the copy's shape, where
// each tap reads in it and, for an average, each output's 1 / divisor.
struct PlainWindowPlan {
  PlainWindowGeometry g;
  PoolOp op = PoolOp::kMax;          // pools only
  bool whole_plane = false;          // one output per plane over all of it: a plain reduction
  int64_t rows = 0, cols = 0;        // of each stride phase of the copy
  int64_t positions = 0;             // rows of outputs computed: out_h x cols (cols >= out_w)
  int64_t copy_floats = 0;           // the phases and the slack the last vectors read
  int64_t buffer_floats = 0;         // per worker: the copy and the outputs of one plane
  std::vector<int64_t> tap_offsets;  // per (kh, kw), into the copy
  // The phases some tap reads, and their cells that hold input (the rest is padding).
  struct PhaseSpan {
    int64_t phase = 0;                     // stride_h phase x stride_w + stride_w phase
    int64_t row_shift = 0, col_shift = 0;  // input row of copy row r: r * stride_h + row_shift
    int64_t row_first = 0, row_end = 0, col_first = 0, col_end = 0;
  };
  std::vector<PhaseSpan> phase_spans;
  std::vector<float> inverse_counts;  // averages: per output pixel (out_h x out_w)
};

PlainWindowPlan PlanDepthwiseConv(const PlainWindowGeometry& g);
PlainWindowPlan PlanPool(const PlainWindowGeometry& g, PoolOp op);

// Called with each output plane once it is written: its index in y (image x output channels)
// and its out_h x out_w floats (for a FusedConv's residual sum and activation).
using PlaneEpilogue = std::function<void(int64_t plane, float* data)>;

// y[n, c * M + m] = conv(x[n, c], w[c * M + m]) + bias[c * M + m], then `epilogue` (may be
// empty). `w` is ONNX's (C * M, 1, kh, kw); `bias` may be null. Returns false when a worker got
// no buffer (y is then incomplete).
bool DepthwiseConvPlain(hal::ThreadPool& pool, const PlainWindowPlan& plan, const float* x,
                        const float* w, const float* bias, const PlaneEpilogue& epilogue,
                        ThreadBufferFn thread_buffer, float* y);

// y = the pool of x (batch x channels planes). Returns false as DepthwiseConvPlain does.
bool PoolPlain(hal::ThreadPool& pool, const PlainWindowPlan& plan, const float* x,
               ThreadBufferFn thread_buffer, float* y);

}  // namespace unihal::cpu
