#include "base/worker_spread.h"

#include <algorithm>
#include <set>

namespace unihal::hal {

std::vector<int> SpreadTargets(const std::vector<int>& thread_cpus,
                               const std::vector<int>& allowed_cpus) {
  std::set<int> taken;
  for (int cpu : thread_cpus) {
    if (cpu >= 0) taken.insert(cpu);
  }
  std::vector<int> free_cpus;
  for (int cpu : allowed_cpus) {
    if (!taken.count(cpu)) free_cpus.push_back(cpu);
  }
  std::sort(free_cpus.begin(), free_cpus.end());
  free_cpus.erase(std::unique(free_cpus.begin(), free_cpus.end()), free_cpus.end());
  std::vector<int> targets(thread_cpus.size(), -1);
  std::set<int> seen;
  size_t next_free = 0;
  for (size_t t = 0; t < thread_cpus.size(); ++t) {
    const int cpu = thread_cpus[t];
    if (cpu < 0 || seen.insert(cpu).second) continue;  // unknown, or the first one there
    if (next_free < free_cpus.size()) targets[t] = free_cpus[next_free++];
  }
  return targets;
}

}  // namespace unihal::hal
