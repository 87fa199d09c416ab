#include "unihal/hal/preemption.h"

namespace unihal::hal {

namespace internal {
PreemptionSlot& ThreadPreemptionSlot() {
  thread_local PreemptionSlot slot;  // per thread by design: each worker has its own hook
  return slot;
}
}  // namespace internal

void SetThreadPreemptionHook(PreemptionHook hook, void* context) {
  internal::ThreadPreemptionSlot() = {hook, context};
}

}  // namespace unihal::hal
