// R2.6: a share of the CPU for the work started from one thread.
#pragma once

namespace unihal::hal {

// Caps the threads of ThreadPool parallel work (and oneDNN's) started from the calling thread,
// e.g. a scheduler worker running a tenant's task with a CPU share; n <= 0 removes the cap.
// Returns the previous cap.
int SetCallerThreadCap(int n);

}  // namespace unihal::hal
