#include "unihal/hal/host_stream.h"

#include <cstring>
#include <utility>

namespace unihal::hal {
namespace {

class CompletedEvent final : public Event {
 public:
  explicit CompletedEvent(Status status) : status_(std::move(status)) {}
  bool IsComplete() const override { return true; }
  Status Synchronize() override { return status_; }

 private:
  Status status_;
};

Status CheckRange(const Buffer& buffer, size_t offset, size_t bytes, const char* what) {
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

class HostStream final : public Stream {
 public:
  explicit HostStream(std::function<Status()> device_check)
      : device_check_(std::move(device_check)) {}

  Status Write(Buffer& dst, size_t dst_offset, const void* src, size_t bytes) override {
    UH_RETURN_IF_ERROR(Record(Check(dst, dst_offset, bytes, "stream write")));
    std::memcpy(static_cast<std::byte*>(dst.host_data()) + dst_offset, src, bytes);
    return Status::Ok();
  }
  Status Read(const Buffer& src, size_t src_offset, void* dst, size_t bytes) override {
    UH_RETURN_IF_ERROR(Record(Check(src, src_offset, bytes, "stream read")));
    std::memcpy(dst, static_cast<const std::byte*>(src.host_data()) + src_offset, bytes);
    return Status::Ok();
  }
  Status Copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset,
              size_t bytes) override {
    UH_RETURN_IF_ERROR(Record(Check(src, src_offset, bytes, "stream copy source")));
    UH_RETURN_IF_ERROR(Record(Check(dst, dst_offset, bytes, "stream copy destination")));
    std::memmove(static_cast<std::byte*>(dst.host_data()) + dst_offset,
                 static_cast<const std::byte*>(src.host_data()) + src_offset, bytes);
    return Status::Ok();
  }
  Status Launch(Executable& executable, std::span<const Tensor> inputs,
                std::vector<Tensor>& outputs) override {
    return Record(executable.Run(inputs, outputs));
  }
  Status LaunchValues(Executable& executable, std::span<const Value> inputs,
                      std::vector<Value>& outputs) override {
    return Record(executable.RunValues(inputs, outputs));
  }
  Result<std::shared_ptr<Event>> Record() override {
    return std::shared_ptr<Event>(std::make_shared<CompletedEvent>(first_error_));
  }
  Status Wait(const Event& event) override {
    // Events from other streams: CPU work is synchronous, but a GPU event may not be done.
    if (!event.IsComplete()) return const_cast<Event&>(event).Synchronize();
    return Status::Ok();
  }
  Status Synchronize() override {
    if (device_check_) UH_RETURN_IF_ERROR(Record(device_check_()));
    return first_error_;
  }

 private:
  Status Check(const Buffer& buffer, size_t offset, size_t bytes, const char* what) {
    if (device_check_) UH_RETURN_IF_ERROR(device_check_());
    return CheckRange(buffer, offset, bytes, what);
  }
  Status Record(Status status) {
    if (!status.ok() && first_error_.ok()) first_error_ = status;
    return status;
  }
  const std::function<Status()> device_check_;
  Status first_error_;
};

}  // namespace

std::unique_ptr<Stream> CreateHostStream(std::function<Status()> device_check) {
  return std::make_unique<HostStream>(std::move(device_check));
}

}  // namespace unihal::hal
