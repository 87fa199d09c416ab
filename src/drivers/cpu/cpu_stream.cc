#include "drivers/cpu/cpu_stream.h"

#include <cstring>

namespace unihal::cpu {
namespace {

class CompletedEvent final : public hal::Event {
 public:
  explicit CompletedEvent(Status status) : status_(std::move(status)) {}
  bool IsComplete() const override { return true; }
  Status Synchronize() override { return status_; }

 private:
  Status status_;
};

Status CheckRange(const hal::Buffer& buffer, size_t offset, size_t bytes, const char* what) {
  if (offset > buffer.size() || bytes > buffer.size() - offset) {
    return OutOfRangeError(std::string(what) + ": range [" + std::to_string(offset) + ", +" +
                           std::to_string(bytes) + ") exceeds the buffer's " +
                           std::to_string(buffer.size()) + " bytes");
  }
  if (!buffer.host_data()) {
    return InvalidArgumentError(std::string(what) + ": buffer on " + buffer.device_id() +
                                " is not host memory");
  }
  return Status::Ok();
}

class CpuStream final : public hal::Stream {
 public:
  Status Write(hal::Buffer& dst, size_t dst_offset, const void* src, size_t bytes) override {
    UH_RETURN_IF_ERROR(Record(CheckRange(dst, dst_offset, bytes, "stream write")));
    std::memcpy(static_cast<std::byte*>(dst.host_data()) + dst_offset, src, bytes);
    return Status::Ok();
  }
  Status Read(const hal::Buffer& src, size_t src_offset, void* dst, size_t bytes) override {
    UH_RETURN_IF_ERROR(Record(CheckRange(src, src_offset, bytes, "stream read")));
    std::memcpy(dst, static_cast<const std::byte*>(src.host_data()) + src_offset, bytes);
    return Status::Ok();
  }
  Status Copy(const hal::Buffer& src, size_t src_offset, hal::Buffer& dst, size_t dst_offset,
              size_t bytes) override {
    UH_RETURN_IF_ERROR(Record(CheckRange(src, src_offset, bytes, "stream copy source")));
    UH_RETURN_IF_ERROR(Record(CheckRange(dst, dst_offset, bytes, "stream copy destination")));
    std::memmove(static_cast<std::byte*>(dst.host_data()) + dst_offset,
                 static_cast<const std::byte*>(src.host_data()) + src_offset, bytes);
    return Status::Ok();
  }
  Status Launch(hal::Executable& executable, std::span<const Tensor> inputs,
                std::vector<Tensor>& outputs) override {
    return Record(executable.Run(inputs, outputs));
  }
  Result<std::shared_ptr<hal::Event>> Record() override {
    return std::shared_ptr<hal::Event>(std::make_shared<CompletedEvent>(first_error_));
  }
  Status Wait(const hal::Event& event) override {
    // Events from other streams: CPU work is synchronous, but a GPU event may not be done.
    if (!event.IsComplete()) return const_cast<hal::Event&>(event).Synchronize();
    return Status::Ok();
  }
  Status Synchronize() override { return first_error_; }

 private:
  Status Record(Status status) {
    if (!status.ok() && first_error_.ok()) first_error_ = status;
    return status;
  }
  Status first_error_;
};

}  // namespace

std::unique_ptr<hal::Stream> CreateCpuStream() { return std::make_unique<CpuStream>(); }

}  // namespace unihal::cpu
