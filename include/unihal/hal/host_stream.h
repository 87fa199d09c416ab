// A stream over host-addressable buffers whose work runs synchronously on the submitting
// thread (with the process pool), so every recorded event is complete when Record returns.
// Drivers whose memory is host memory (cpu, sim-npu) use it.
#pragma once

#include <functional>
#include <memory>

#include "unihal/hal/stream.h"
#include "unihal/status.h"

namespace unihal::hal {

// `device_check`, when given, runs before every write, read and copy and at Synchronize; its
// error (e.g. "device lost") fails that call and is kept as the stream's first error.
std::unique_ptr<Stream> CreateHostStream(std::function<Status()> device_check = nullptr);

}  // namespace unihal::hal
