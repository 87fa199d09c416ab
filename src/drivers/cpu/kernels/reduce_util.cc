#include "drivers/cpu/kernels/reduce_util.h"

#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {

Result<ReduceGeometry> ReduceGeometryOf(const hal::KernelContext& context, const Tensor& x,
                                        int axes_input_since) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const int64_t keepdims, node.GetInt("keepdims", 1));
  UH_ASSIGN_OR_RETURN(const int64_t noop_with_empty_axes, node.GetInt("noop_with_empty_axes", 0));
  UH_ASSIGN_OR_RETURN(const OptionalInts axes_given,
                      Int64sFromInputOrAttribute(context, 1, "axes", axes_input_since));
  const int64_t rank = x.rank();
  ReduceGeometry geometry;
  geometry.reduced.assign(static_cast<size_t>(rank), false);
  geometry.input_shape = x.shape();
  const bool no_axes = axes_given.values.empty();
  if (no_axes && noop_with_empty_axes) {
    // Identity: nothing is reduced.
  } else if (no_axes) {
    std::fill(geometry.reduced.begin(), geometry.reduced.end(), true);
  } else {
    UH_ASSIGN_OR_RETURN(std::vector<int64_t> axes, NormalizeAxes(node, axes_given.values, rank));
    for (int64_t a : axes) geometry.reduced[static_cast<size_t>(a)] = true;
  }
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t dim = x.dim(d);
    if (geometry.reduced[static_cast<size_t>(d)]) {
      geometry.count *= dim;
      geometry.kept_shape.push_back(1);
      if (keepdims) geometry.out_shape.push_back(1);
    } else {
      geometry.kept_shape.push_back(dim);
      geometry.out_shape.push_back(dim);
    }
  }
  for (int64_t d = 1; d < rank; ++d) {
    if (geometry.reduced[static_cast<size_t>(d - 1)] && !geometry.reduced[static_cast<size_t>(d)]) {
      geometry.trailing = false;
    }
  }
  return geometry;
}

}  // namespace unihal::cpu
