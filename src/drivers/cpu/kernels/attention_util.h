// Helpers shared by the reference attention-family kernels (Attention, RMSNormalization,
// RotaryEmbedding, LinearAttention, CausalConvWithState): these ops are small and
// precision-sensitive, so they read their operands into float64, compute there, and round once
// on the way out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/cpu/kernels/kernel_util.h"
#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// The elements of a host tensor of any numeric dtype (bool as 0/1) as doubles.
inline std::vector<double> ToDoubles(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.num_elements()));
  VisitDType(tensor.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = tensor.data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = AsDouble(src[i]);
  });
  return values;
}

// Allocates output `index` as `dtype[shape]` and fills it from `values` (rounded once).
inline Status WriteDoubles(hal::KernelContext& context, size_t index, DType dtype, Shape shape,
                           const std::vector<double>& values) {
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(index, dtype, std::move(shape)));
  VisitDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* dst = out->data_as<T>();
    for (size_t i = 0; i < values.size(); ++i) dst[i] = FromDouble<T>(values[i]);
  });
  return Status::Ok();
}

// Element offset of (b, h, s, 0) in a packed 3-D (batch, len, heads * size) or a 4-D
// (batch, heads, len, size) tensor.
inline int64_t HeadOffset(bool packed, int64_t b, int64_t h, int64_t s, int64_t heads, int64_t len,
                          int64_t size) {
  if (packed) return ((b * len + s) * heads + h) * size;
  return ((b * heads + h) * len + s) * size;
}

// True when the node names output `index` (absent optional outputs are "" or missing).
inline bool WantsOutput(const hal::KernelContext& context, size_t index) {
  const ir::Node& node = context.node();
  return index < context.num_outputs() && index < node.outputs.size() &&
         !node.outputs[index].empty();
}

// An InvalidArgumentError "<node>: <message>".
inline Status NodeError(const ir::Node& node, const std::string& message) {
  return InvalidArgumentError(node.Describe() + ": " + message);
}

// Registration of each file of the family; RegisterAttentionKernels calls them all.
void RegisterNormRopeKernels(hal::KernelRegistry& registry);
void RegisterRecurrentAttentionKernels(hal::KernelRegistry& registry);

}  // namespace unihal::cpu
