#include "hal/buffer_pool.h"

namespace unihal::hal {

std::shared_ptr<Buffer> BufferPool::Take(size_t bytes) {
  auto it = free_.lower_bound(bytes);
  // Best fit, but don't let a small value pin a much larger buffer.
  if (it != free_.end() && it->first <= 2 * bytes + 4096) {
    std::shared_ptr<Buffer> buffer = std::move(it->second);
    free_.erase(it);
    return buffer;
  }
  return AllocateHostBuffer(bytes);
}

void BufferPool::Give(std::shared_ptr<Buffer> buffer) {
  const size_t size = buffer->size();
  free_.emplace(size, std::move(buffer));
}

}  // namespace unihal::hal
