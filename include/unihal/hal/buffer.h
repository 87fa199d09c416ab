// A device allocation.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace unihal::hal {

class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual size_t size() const = 0;
  // Host address of the allocation, or nullptr when the host cannot address it directly.
  virtual void* host_data() = 0;
  const void* host_data() const { return const_cast<Buffer*>(this)->host_data(); }
  // Id of the device that owns the memory: "cpu:0", "cuda:1", or "host" for plain host memory.
  virtual const std::string& device_id() const = 0;
};

// Plain, 64-byte aligned host memory; zero-initialised.
std::shared_ptr<Buffer> AllocateHostBuffer(size_t bytes);

}  // namespace unihal::hal
