// Which OpenMP workers to move so that no two threads of a team share a CPU (ThreadPool::
// SpreadWorkers): the pure part, apart from the system calls, so that it can be tested.
#pragma once

#include <vector>

namespace unihal::hal {

// For each team thread (thread_cpus[t]: the CPU it runs on, -1 when unknown), the CPU to move it
// to, or -1 to leave it. The first thread seen on a CPU stays (thread 0, the caller, always);
// each later one on that CPU gets the lowest CPU of allowed_cpus that no team thread is on and no
// earlier move took, or stays when none is left.
std::vector<int> SpreadTargets(const std::vector<int>& thread_cpus,
                               const std::vector<int>& allowed_cpus);

}  // namespace unihal::hal
