// One tenant's admission control (SPEC R5.7): concurrent tasks, memory, priority ceiling and
// energy per window, each over budget queued or rejected by the tenant's policy. Thread-safe.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "sched/task.h"
#include "unihal/status.h"
#include "unihal/tenant.h"

namespace unihal::sched {

struct TenantStats {
  int64_t in_flight = 0;  // admitted, not final
  int64_t memory_bytes = 0;
  int64_t deferred = 0;  // waiting for budget
  int64_t rejected = 0;
  double energy_j_in_window = 0;
};

class Tenant {
 public:
  explicit Tenant(TenantConfig config);
  const TenantConfig& config() const { return config_; }

  // The priority level a request may run at: its own, or the ceiling under kQueue; above the
  // ceiling under kReject is kResourceExhausted.
  Result<int> ApplyCeiling(Priority requested);
  // Admits `task` (true), defers it until budget frees up (false, kQueue policy), or fails
  // with kResourceExhausted (kReject policy, or a task that could never fit).
  Result<bool> Admit(const std::shared_ptr<TaskRecord>& task, int64_t now_ns);
  // `task` ended: frees what it held; returns deferred tasks admitted now.
  std::vector<std::shared_ptr<TaskRecord>> Release(TaskRecord& task, int64_t now_ns);
  // The same at the current time, read only when a deferred task needs it.
  std::vector<std::shared_ptr<TaskRecord>> Release(TaskRecord& task) { return Release(task, -1); }
  // Charges energy (joules) used by one of its tasks.
  void ChargeEnergy(double joules, int64_t now_ns);
  // Rolls the energy window; returns deferred tasks admitted now.
  std::vector<std::shared_ptr<TaskRecord>> Tick(int64_t now_ns);
  // Deferred tasks, removed (for shutdown).
  std::deque<std::shared_ptr<TaskRecord>> TakeDeferred();
  TenantStats stats() const;

 private:
  bool unlimited() const { return unlimited_; }
  // Empty when `task` fits now; else why not.
  std::string OverBudgetLocked(const TaskRecord& task, int64_t now_ns);
  void RollWindowLocked(int64_t now_ns);
  std::vector<std::shared_ptr<TaskRecord>> AdmitDeferredLocked(int64_t now_ns);

  const TenantConfig config_;
  const bool unlimited_;
  std::atomic<int64_t> fast_in_flight_{0};  // unlimited tenants: no lock

  mutable std::mutex mu_;
  int64_t in_flight_ = 0;
  int64_t memory_bytes_ = 0;
  double energy_j_ = 0;
  int64_t window_start_ns_ = 0;
  int64_t rejected_ = 0;
  std::deque<std::shared_ptr<TaskRecord>> deferred_;
};

}  // namespace unihal::sched
