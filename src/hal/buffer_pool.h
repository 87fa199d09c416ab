// Free host buffers kept between values and runs so a steady-state run allocates nothing.
#pragma once

#include <map>
#include <memory>

#include "unihal/hal/buffer.h"

namespace unihal::hal {

class BufferPool {
 public:
  // A pooled buffer of at least `bytes` (and not wastefully larger), or a fresh one.
  // nullptr when host memory is exhausted.
  std::shared_ptr<Buffer> Take(size_t bytes);
  // Returns a buffer nobody else references.
  void Give(std::shared_ptr<Buffer> buffer);
  size_t size() const { return free_.size(); }

 private:
  std::multimap<size_t, std::shared_ptr<Buffer>> free_;
};

}  // namespace unihal::hal
