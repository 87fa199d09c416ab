#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "base/uninitialized_allocation.h"
#include "unihal/hal/buffer.h"

namespace unihal::hal {
namespace {

constexpr size_t kAlignment = 64;  // cache line; what oneDNN and AVX-512 want
// Buffers this big start on a 2 MiB boundary and ask for transparent huge pages: fresh memory
// then costs one page fault per 2 MiB instead of one per 4 KiB (loading ResNet-50's 100 MB of
// weights took tens of thousands of faults). Where THP is off, the advice does nothing.
constexpr size_t kHugePage = size_t{2} << 20;

class HostBuffer final : public Buffer {
 public:
  HostBuffer(size_t bytes, bool zeroed) : size_(bytes) {
    const size_t rounded = ((bytes ? bytes : 1) + kAlignment - 1) / kAlignment * kAlignment;
    const bool huge = rounded >= kHugePage;
    void* data = nullptr;
    if (::posix_memalign(&data, huge ? kHugePage : kAlignment, rounded) != 0) data = nullptr;
    data_ = static_cast<std::byte*>(data);
    // Only whole huge pages: a partial one at the end would fault in 2 MiB for a few bytes.
    if (data_ && huge) ::madvise(data_, rounded / kHugePage * kHugePage, MADV_HUGEPAGE);
    if (data_ && zeroed) std::memset(data_, 0, rounded);
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
  auto buffer = std::make_shared<HostBuffer>(bytes, /*zeroed=*/true);
  if (!buffer->valid()) return nullptr;
  return buffer;
}

std::shared_ptr<Buffer> AllocateUninitializedHostBuffer(size_t bytes) {
  auto buffer = std::make_shared<HostBuffer>(bytes, /*zeroed=*/false);
  if (!buffer->valid()) return nullptr;
  return buffer;
}

}  // namespace unihal::hal
