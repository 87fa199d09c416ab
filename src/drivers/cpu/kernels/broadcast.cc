#include "drivers/cpu/kernels/broadcast.h"

namespace unihal::cpu {

Result<Shape> BroadcastShapes(std::span<const Shape> shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    // Dim d counted from the right, so shapes of different ranks line up at their last dims.
    const size_t from_right = rank - 1 - d;
    for (const Shape& s : shapes) {
      if (from_right >= s.size()) continue;
      const int64_t dim = s[s.size() - 1 - from_right];
      if (dim == out[d] || dim == 1) continue;
      if (out[d] != 1) {
        std::string all;
        for (const Shape& t : shapes) all += (all.empty() ? "" : ", ") + ShapeToString(t);
        return InvalidArgumentError("shapes " + all + " cannot be broadcast together: dim " +
                                    std::to_string(d) + " of the result would be both " +
                                    std::to_string(out[d]) + " and " + std::to_string(dim) +
                                    " (each dim must match or be 1)");
      }
      out[d] = dim;
    }
  }
  return out;
}

std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out_shape) {
  std::vector<int64_t> strides(out_shape.size(), 0);
  const std::vector<int64_t> own = StridesOf(shape);
  const size_t lead = out_shape.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d) {
    strides[lead + d] = shape[d] == 1 ? 0 : own[d];
  }
  return strides;
}

}  // namespace unihal::cpu
