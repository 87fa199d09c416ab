// Tenants (SPEC R5.7, R2.6): who shares the devices, and each one's budget. Configured in
// RuntimeOptions::tenants; a request names its tenant in RunOptions::tenant. The default
// tenant ("") always exists and has no limits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "unihal/run_options.h"

namespace unihal {

// What happens to a request over its tenant's budget.
enum class OverBudgetPolicy {
  kQueue,   // it waits until the tenant is within budget again (a priority above the ceiling
            // is lowered to the ceiling)
  kReject,  // it fails at submit with kResourceExhausted
};

struct TenantConfig {
  std::string name;
  // Bytes of inputs, outputs and working memory of its admitted tasks together.
  std::optional<int64_t> memory_bytes;
  // Tasks admitted (queued or running) at once.
  std::optional<int> max_concurrent_tasks;
  // The highest priority its requests may use.
  Priority priority_ceiling = Priority::kCritical;
  // Energy of its tasks per window, from the device's measured power where the platform gives
  // it, else its modelled power (sim-npu). A device with neither charges nothing.
  std::optional<double> energy_j_per_window;
  double energy_window_s = 60.0;
  // R2.6: CPU cores its tasks may use on the CPU device (caps the thread pool for them).
  std::optional<int> cpu_cores;
  OverBudgetPolicy over_budget = OverBudgetPolicy::kReject;
};

}  // namespace unihal
