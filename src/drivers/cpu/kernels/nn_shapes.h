// Shape checks of the NN ops, shared by the reference and oneDNN kernels so both reject bad
// inputs with the same message.
#pragma once

#include <cstdint>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// Conv: X (N, C, spatial...), W (M, C/group, kernel...), optional B (M).
struct ConvShapes {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  Shape input_spatial;
  Shape kernel;
};
Result<ConvShapes> CheckConvShapes(const ir::Node& node, const Shape& x, const Shape& w,
                                   const Shape* bias, int64_t group);
// The kernel: the kernel_shape attribute when given (checked against W), else W's spatial dims.
Result<Shape> ConvKernelShape(const ir::Node& node, const std::vector<int64_t>& kernel_shape,
                              const Shape& w);

// Gemm: op(A) (M, K), op(B) (K, N), optional C unidirectionally broadcastable to (M, N).
struct GemmShapes {
  int64_t m = 0;
  int64_t k = 0;
  int64_t n = 0;
};
Result<GemmShapes> CheckGemmShapes(const ir::Node& node, const Shape& a, const Shape& b,
                                   const Shape* c, bool trans_a, bool trans_b);

// MatMul (numpy.matmul): batch dims broadcast, 1-D operands promoted and their dim dropped.
struct MatMulShapes {
  Shape batch;    // broadcast batch dims
  Shape a_batch;  // A's batch dims right-aligned to `batch` (1 where broadcast)
  Shape b_batch;
  int64_t m = 0;
  int64_t k = 0;
  int64_t n = 0;
  Shape output;
};
Result<MatMulShapes> ResolveMatMulShapes(const ir::Node& node, const Shape& a, const Shape& b);

// Offset of batch index `flat` (over `batch`) in an operand whose batch dims are `operand`
// (same rank, 1 where broadcast), in units of whole matrices.
int64_t BroadcastBatchOffset(const Shape& batch, const Shape& operand, int64_t flat);

}  // namespace unihal::cpu
