#include <cstdlib>
#include <cstring>
#include <new>

#include "unihal/hal/buffer.h"

namespace unihal::hal {
namespace {

constexpr size_t kAlignment = 64;  // cache line; what oneDNN and AVX-512 want

class HostBuffer final : public Buffer {
 public:
  explicit HostBuffer(size_t bytes) : size_(bytes) {
    const size_t rounded = ((bytes ? bytes : 1) + kAlignment - 1) / kAlignment * kAlignment;
    data_ = static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded));
    if (data_) std::memset(data_, 0, rounded);
  }
  ~HostBuffer() override { std::free(data_); }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;

  bool valid() const { return data_ != nullptr; }
  size_t size() const override { return size_; }
  void* host_data() override { return data_; }
  const std::string& device_id() const override {
    static const std::string kHost = "host";
    return kHost;
  }

 private:
  size_t size_;
  std::byte* data_ = nullptr;
};

}  // namespace

std::shared_ptr<Buffer> AllocateHostBuffer(size_t bytes) {
  auto buffer = std::make_shared<HostBuffer>(bytes);
  if (!buffer->valid()) return nullptr;
  return buffer;
}

}  // namespace unihal::hal
