// A point in a stream's work that other streams or the host can wait for.
#pragma once

#include "unihal/status.h"

namespace unihal::hal {

class Event {
 public:
  virtual ~Event() = default;
  virtual bool IsComplete() const = 0;
  // Blocks the host until the work before the event is done; returns that work's status.
  virtual Status Synchronize() = 0;
};

}  // namespace unihal::hal
