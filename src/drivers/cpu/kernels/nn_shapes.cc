#include "drivers/cpu/kernels/nn_shapes.h"

#include <algorithm>
#include <string>

namespace unihal::cpu {

Result<ConvShapes> CheckConvShapes(const ir::Node& node, const Shape& x, const Shape& w,
                                   const Shape* bias, int64_t group) {
  if (x.size() < 3) {
    return InvalidArgumentError(node.Describe() + ": input X " + ShapeToString(x) +
                                " must be (N, C, spatial...) with at least one spatial dim");
  }
  if (w.size() != x.size()) {
    return InvalidArgumentError(node.Describe() + ": weight W " + ShapeToString(w) +
                                " must have the rank of X " + ShapeToString(x));
  }
  if (group <= 0) {
    return InvalidArgumentError(node.Describe() + ": group must be positive, got " +
                                std::to_string(group));
  }
  ConvShapes s;
  s.batch = x[0];
  s.in_channels = x[1];
  s.out_channels = w[0];
  s.group = group;
  if (s.in_channels != w[1] * group) {
    return InvalidArgumentError(
        node.Describe() + ": X " + ShapeToString(x) + " has " + std::to_string(s.in_channels) +
        " channels but W " + ShapeToString(w) + " with group " + std::to_string(group) +
        " expects W[1] * group = " + std::to_string(w[1] * group) +
        "; check the weight layout (M, C/group, k...) and the group attribute");
  }
  if (s.out_channels % group != 0) {
    return InvalidArgumentError(node.Describe() + ": W's output channels " +
                                std::to_string(s.out_channels) + " are not divisible by group " +
                                std::to_string(group));
  }
  if (bias && (bias->size() != 1 || (*bias)[0] != s.out_channels)) {
    return InvalidArgumentError(node.Describe() + ": bias B " + ShapeToString(*bias) +
                                " must be 1-D with W's " + std::to_string(s.out_channels) +
                                " output channels");
  }
  s.input_spatial.assign(x.begin() + 2, x.end());
  s.kernel.assign(w.begin() + 2, w.end());
  return s;
}

Result<Shape> ConvKernelShape(const ir::Node& node, const std::vector<int64_t>& kernel_shape,
                              const Shape& w) {
  Shape from_w(w.begin() + 2, w.end());
  if (!kernel_shape.empty() && Shape(kernel_shape) != from_w) {
    return InvalidArgumentError(node.Describe() + ": kernel_shape " + ShapeToString(kernel_shape) +
                                " does not match W's spatial dims " + ShapeToString(from_w));
  }
  return from_w;
}

Result<GemmShapes> CheckGemmShapes(const ir::Node& node, const Shape& a, const Shape& b,
                                   const Shape* c, bool trans_a, bool trans_b) {
  if (a.size() != 2 || b.size() != 2) {
    return InvalidArgumentError(node.Describe() + ": A " + ShapeToString(a) + " and B " +
                                ShapeToString(b) + " must both be 2-D matrices");
  }
  GemmShapes s;
  s.m = trans_a ? a[1] : a[0];
  s.k = trans_a ? a[0] : a[1];
  const int64_t k_of_b = trans_b ? b[1] : b[0];
  s.n = trans_b ? b[0] : b[1];
  if (s.k != k_of_b) {
    return InvalidArgumentError(node.Describe() + ": inner dims differ: A " + ShapeToString(a) +
                                (trans_a ? " (transposed)" : "") +
                                " gives K = " + std::to_string(s.k) + " but B " + ShapeToString(b) +
                                (trans_b ? " (transposed)" : "") +
                                " gives K = " + std::to_string(k_of_b) + "; check transA/transB");
  }
  if (c) {
    const Shape target{s.m, s.n};
    bool ok = c->size() <= 2;
    for (size_t i = 0; ok && i < c->size(); ++i) {
      const int64_t dim = (*c)[c->size() - 1 - i];
      ok = dim == 1 || dim == target[1 - i];
    }
    if (!ok) {
      return InvalidArgumentError(node.Describe() + ": C " + ShapeToString(*c) +
                                  " cannot be broadcast to the output " + ShapeToString(target));
    }
  }
  return s;
}

Result<MatMulShapes> ResolveMatMulShapes(const ir::Node& node, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty()) {
    return InvalidArgumentError(node.Describe() + ": MatMul operands must have rank >= 1, got A " +
                                ShapeToString(a) + " and B " + ShapeToString(b));
  }
  const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  MatMulShapes s;
  s.m = a2[a2.size() - 2];
  s.k = a2.back();
  s.n = b2.back();
  if (b2[b2.size() - 2] != s.k) {
    return InvalidArgumentError(node.Describe() + ": inner dims differ: A " + ShapeToString(a) +
                                " has K = " + std::to_string(s.k) + " but B " + ShapeToString(b) +
                                " has K = " + std::to_string(b2[b2.size() - 2]));
  }
  const size_t a_rank = a2.size() - 2;
  const size_t b_rank = b2.size() - 2;
  const size_t rank = std::max(a_rank, b_rank);
  s.batch.assign(rank, 1);
  s.a_batch.assign(rank, 1);
  s.b_batch.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    if (i < a_rank) s.a_batch[rank - 1 - i] = a2[a_rank - 1 - i];
    if (i < b_rank) s.b_batch[rank - 1 - i] = b2[b_rank - 1 - i];
    const int64_t da = s.a_batch[rank - 1 - i];
    const int64_t db = s.b_batch[rank - 1 - i];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgumentError(node.Describe() + ": batch dims of A " + ShapeToString(a) +
                                  " and B " + ShapeToString(b) + " cannot be broadcast");
    }
    s.batch[rank - 1 - i] = da == 1 ? db : da;
  }
  s.output = s.batch;
  if (a.size() != 1) s.output.push_back(s.m);
  if (b.size() != 1) s.output.push_back(s.n);
  return s;
}

int64_t BroadcastBatchOffset(const Shape& batch, const Shape& operand, int64_t flat) {
  int64_t offset = 0;
  int64_t stride = 1;
  for (size_t i = batch.size(); i-- > 0;) {
    const int64_t index = flat % batch[i];
    flat /= batch[i];
    if (operand[i] != 1) offset += index * stride;
    stride *= operand[i];
  }
  return offset;
}

}  // namespace unihal::cpu
