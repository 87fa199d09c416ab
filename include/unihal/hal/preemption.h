// Op-boundary preemption points (SPEC R5.4). Executables that run a graph op by op call
// PreemptionPoint() between ops. A scheduler worker installs a hook for its thread that runs
// waiting higher-priority work right there, and stops a cancelled or expired task (the hook's
// error ends the run). Threads without a hook pay one thread-local load per op.
#pragma once

#include "unihal/status.h"

namespace unihal::hal {

using PreemptionHook = Status (*)(void* context);

// Installs (or, with nullptr, removes) the calling thread's hook.
void SetThreadPreemptionHook(PreemptionHook hook, void* context);

namespace internal {
struct PreemptionSlot {
  PreemptionHook hook = nullptr;
  void* context = nullptr;
};
PreemptionSlot& ThreadPreemptionSlot();
}  // namespace internal

inline Status PreemptionPoint() {
  internal::PreemptionSlot& slot = internal::ThreadPreemptionSlot();
  return slot.hook ? slot.hook(slot.context) : Status::Ok();
}

}  // namespace unihal::hal
