// Host allocations left uninitialised, for memory the caller fills in full at once (a copy of
// loaded weights, folded weights): zero-filling first would touch every page twice, and on a
// 100 MB model page faults and zero-filling were a quarter of the load time.
#pragma once

#include <cstddef>
#include <memory>

#include "unihal/hal/buffer.h"
#include "unihal/tensor.h"

namespace unihal {

namespace hal {
// AllocateHostBuffer without the zero-fill: 64-byte aligned, contents undefined.
std::shared_ptr<Buffer> AllocateUninitializedHostBuffer(size_t bytes);
}  // namespace hal

// Tensor::Allocate (same checks and errors) with the contents left undefined.
Result<Tensor> AllocateUninitializedTensor(DType dtype, Shape shape);

}  // namespace unihal
