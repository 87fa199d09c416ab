// sim-npu fault injection: seeded random run errors, device loss after N runs or T seconds,
// allocation failures and hangs that end at a timeout or when released. Thread-safe; with one
// calling thread the sequence of faults is the same on every run for a given seed.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <string>

#include "unihal/hal/sim_npu_options.h"
#include "unihal/status.h"

namespace unihal::sim_npu {

class FaultInjector {
 public:
  FaultInjector(std::string device_id, const hal::SimNpuFaultOptions& options,
                std::function<double()> clock);
  ~FaultInjector();

  // kUnavailable once the device is lost (and from then on).
  Status CheckAlive();
  // Before a run: device lost, an injected error, or an injected hang (blocks until
  // hang_timeout_s or Release(), then kDeadlineExceeded / kCancelled).
  Status BeforeRun();
  // Before an allocation: device lost or an injected out-of-memory.
  Status BeforeAllocate(size_t bytes);
  // Wakes every hung run (they fail with kCancelled); later hangs still wait.
  void ReleaseHangs();

  bool lost() const;
  int64_t error_count() const;
  int64_t runs() const;

 private:
  Status CheckAliveLocked();
  bool DrawLocked(double p);
  Status HangLocked(std::unique_lock<std::mutex>& lock);

  const std::string device_id_;
  const hal::SimNpuFaultOptions options_;
  const std::function<double()> clock_;
  const double start_s_;
  mutable std::mutex mu_;
  std::condition_variable hang_cv_;
  std::mt19937_64 rng_;
  int64_t runs_ = 0;
  int64_t errors_ = 0;
  int64_t release_generation_ = 0;
  bool lost_ = false;
};

}  // namespace unihal::sim_npu
