// The CPU stream: work runs synchronously on the submitting thread (with the process pool),
// so every recorded event is complete when Record returns.
#pragma once

#include <memory>

#include "unihal/hal/stream.h"

namespace unihal::cpu {

std::unique_ptr<hal::Stream> CreateCpuStream();

}  // namespace unihal::cpu
