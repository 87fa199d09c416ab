// An in-order queue of work on one device. One submitting thread per stream.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "unihal/hal/buffer.h"
#include "unihal/hal/event.h"
#include "unihal/hal/executable.h"
#include "unihal/status.h"

namespace unihal::hal {

class Stream {
 public:
  virtual ~Stream() = default;
  virtual Status Write(Buffer& dst, size_t dst_offset, const void* src, size_t bytes) = 0;
  virtual Status Read(const Buffer& src, size_t src_offset, void* dst, size_t bytes) = 0;
  virtual Status Copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset,
                      size_t bytes) = 0;
  // Enqueues one run of `executable`; the stream keeps the input buffers alive until done.
  virtual Status Launch(Executable& executable, std::span<const Tensor> inputs,
                        std::vector<Tensor>& outputs) = 0;
  // Enqueues one run with values of any kind (sequences and optionals; unihal/value.h). A
  // stream whose device holds tensors only keeps this default, which refuses.
  virtual Status LaunchValues(Executable& /*executable*/, std::span<const Value> /*inputs*/,
                              std::vector<Value>& /*outputs*/) {
    return UnimplementedError(
        "this device's streams run tensor values only (no sequences or optionals)");
  }
  // An event that completes when everything enqueued so far has completed.
  virtual Result<std::shared_ptr<Event>> Record() = 0;
  // Later work on this stream waits for `event`.
  virtual Status Wait(const Event& event) = 0;
  // Blocks until everything enqueued has finished; returns the first error, if any.
  virtual Status Synchronize() = 0;
};

}  // namespace unihal::hal
