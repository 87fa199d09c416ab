// Helpers shared by the indexing kernels (indexing*.cc): index validation, strided copies and
// the registration hooks of the family's files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "drivers/cpu/kernels/broadcast.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// Gather/scatter kernels (indexing_gather_scatter.cc).
void RegisterGatherScatterKernels(hal::KernelRegistry& registry);
// Pad, CenterCropPad and Unique (indexing_pad_unique.cc).
void RegisterPadUniqueKernels(hal::KernelRegistry& registry);

// Registers `create` for `op` from `min_opset` on.
inline void RegisterIndexingOp(hal::KernelRegistry& registry, const char* op, int min_opset,
                               hal::KernelFactory create) {
  registry.Register(ReferenceKernelDef(op, min_opset, INT_MAX, std::move(create)));
}

// Maps `index` in [-dim, dim) to [0, dim); otherwise an InvalidArgument error naming the node,
// `what` (e.g. "indices") and the valid range.
inline Result<int64_t> ResolveIndex(const ir::Node& node, int64_t index, int64_t dim,
                                    const std::string& what) {
  if (index < -dim || index >= dim) {
    return InvalidArgumentError(node.Describe() + ": " + what + " value " + std::to_string(index) +
                                " is out of range for a dim of size " + std::to_string(dim) +
                                " (valid: " + std::to_string(-dim) + ".." +
                                std::to_string(dim - 1) + ")");
  }
  return index < 0 ? index + dim : index;
}

// The values of an integer index tensor (int32 or int64) as int64; errors name the node.
inline Result<std::vector<int64_t>> IndexValues(const ir::Node& node, const Tensor& indices,
                                                const std::string& what) {
  UH_RETURN_IF_ERROR(CheckDType(node, indices, what, {DType::kI32, DType::kI64}));
  return indices.ToInt64Vector();
}

// The product of dims [begin, end) of `shape`.
inline int64_t DimProduct(const Shape& shape, size_t begin, size_t end) {
  int64_t product = 1;
  for (size_t d = begin; d < end && d < shape.size(); ++d) product *= shape[d];
  return product;
}

// Copies `src` read through `plan` (element strides, one operand) into contiguous `dst`.
inline void CopyStrided(const IterationPlan<1>& plan, const Tensor& src, Tensor& dst) {
  VisitElementSize(DTypeSize(src.dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* from = static_cast<const U*>(src.data());
    U* to = static_cast<U*>(dst.data());
    ForEachRun(plan, 0, plan.num_elements,
               [&](int64_t o, const std::array<int64_t, 1>& at, int64_t n,
                   const std::array<int64_t, 1>& step) {
                 for (int64_t i = 0; i < n; ++i) to[o + i] = from[at[0] + i * step[0]];
               });
  });
}

// A row-major odometer over `shape`: Next() advances the index and returns false at the end.
class IndexOdometer {
 public:
  explicit IndexOdometer(const Shape& shape) : shape_(shape), index_(shape.size(), 0) {}
  const std::vector<int64_t>& index() const { return index_; }
  bool Next() {
    for (size_t d = shape_.size(); d-- > 0;) {
      if (++index_[d] < shape_[d]) return true;
      index_[d] = 0;
    }
    return false;
  }

 private:
  Shape shape_;
  std::vector<int64_t> index_;
};

}  // namespace unihal::cpu
