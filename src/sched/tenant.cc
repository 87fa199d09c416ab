#include "sched/tenant.h"

#include <string>

namespace unihal::sched {
namespace {

std::string TenantLabel(const TenantConfig& config) {
  return config.name.empty() ? std::string("the default tenant") : "tenant '" + config.name + "'";
}

}  // namespace

Tenant::Tenant(TenantConfig config)
    : config_(std::move(config)),
      unlimited_(!config_.memory_bytes && !config_.max_concurrent_tasks &&
                 !config_.energy_j_per_window) {}

Result<int> Tenant::ApplyCeiling(Priority requested) {
  const int level = static_cast<int>(requested);
  const int ceiling = static_cast<int>(config_.priority_ceiling);
  if (level >= ceiling) return level;
  if (config_.over_budget == OverBudgetPolicy::kQueue) return ceiling;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++rejected_;
  }
  return ResourceExhaustedError(TenantLabel(config_) + " may use priority " +
                                std::string(PriorityName(config_.priority_ceiling)) +
                                " at most, but the request asks for " +
                                std::string(PriorityName(requested)) +
                                "; lower RunOptions::priority or raise the tenant's ceiling");
}

void Tenant::RollWindowLocked(int64_t now_ns) {
  const auto window_ns = static_cast<int64_t>(config_.energy_window_s * 1e9);
  if (window_start_ns_ == 0) window_start_ns_ = now_ns;
  if (window_ns > 0 && now_ns - window_start_ns_ >= window_ns) {
    window_start_ns_ = now_ns;
    energy_j_ = 0;
  }
}

std::string Tenant::OverBudgetLocked(const TaskRecord& task, int64_t now_ns) {
  if (config_.max_concurrent_tasks && in_flight_ >= *config_.max_concurrent_tasks) {
    return std::to_string(in_flight_) + " tasks in flight, the most it may have is " +
           std::to_string(*config_.max_concurrent_tasks);
  }
  if (config_.memory_bytes && memory_bytes_ + task.memory_bytes > *config_.memory_bytes) {
    return "this task needs " + std::to_string(task.memory_bytes) + " bytes with " +
           std::to_string(memory_bytes_) + " in use, over its memory budget of " +
           std::to_string(*config_.memory_bytes);
  }
  if (config_.energy_j_per_window) {
    RollWindowLocked(now_ns);
    if (energy_j_ >= *config_.energy_j_per_window) {
      return "it used " + std::to_string(energy_j_) + " J of its " +
             std::to_string(*config_.energy_j_per_window) + " J per " +
             std::to_string(config_.energy_window_s) + " s";
    }
  }
  return {};
}

Result<bool> Tenant::Admit(const std::shared_ptr<TaskRecord>& task, int64_t now_ns) {
  if (unlimited()) {
    fast_in_flight_.fetch_add(1, std::memory_order_relaxed);
    task->admitted = true;
    return true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (config_.memory_bytes && task->memory_bytes > *config_.memory_bytes) {
    ++rejected_;
    return ResourceExhaustedError(TenantLabel(config_) + ": the task needs " +
                                  std::to_string(task->memory_bytes) +
                                  " bytes, more than the tenant's whole memory budget of " +
                                  std::to_string(*config_.memory_bytes));
  }
  std::string why = deferred_.empty() ? OverBudgetLocked(*task, now_ns) : "others wait before it";
  if (why.empty()) {
    ++in_flight_;
    memory_bytes_ += task->memory_bytes;
    task->admitted = true;
    return true;
  }
  if (config_.over_budget == OverBudgetPolicy::kQueue) {
    deferred_.push_back(task);
    return false;
  }
  ++rejected_;
  return ResourceExhaustedError(TenantLabel(config_) + " is over budget: " + why +
                                "; retry later, or set its over-budget policy to queue");
}

std::vector<std::shared_ptr<TaskRecord>> Tenant::AdmitDeferredLocked(int64_t now_ns) {
  std::vector<std::shared_ptr<TaskRecord>> admitted;
  while (!deferred_.empty()) {
    std::shared_ptr<TaskRecord>& next = deferred_.front();
    if (next->state.load(std::memory_order_acquire) != TaskState::kQueued) {
      deferred_.pop_front();  // cancelled or timed out while it waited
      continue;
    }
    if (!OverBudgetLocked(*next, now_ns).empty()) break;
    ++in_flight_;
    memory_bytes_ += next->memory_bytes;
    next->admitted = true;
    admitted.push_back(std::move(next));
    deferred_.pop_front();
  }
  return admitted;
}

std::vector<std::shared_ptr<TaskRecord>> Tenant::Release(TaskRecord& task, int64_t now_ns) {
  if (unlimited()) {
    if (task.admitted) fast_in_flight_.fetch_sub(1, std::memory_order_relaxed);
    return {};
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (task.admitted) {
    task.admitted = false;
    --in_flight_;
    memory_bytes_ -= task.memory_bytes;
  }
  if (deferred_.empty()) return {};
  return AdmitDeferredLocked(now_ns < 0 ? NowNs() : now_ns);
}

void Tenant::ChargeEnergy(double joules, int64_t now_ns) {
  if (!config_.energy_j_per_window || !(joules > 0)) return;
  std::lock_guard<std::mutex> lock(mu_);
  RollWindowLocked(now_ns);
  energy_j_ += joules;
}

std::vector<std::shared_ptr<TaskRecord>> Tenant::Tick(int64_t now_ns) {
  if (unlimited()) return {};
  std::lock_guard<std::mutex> lock(mu_);
  if (deferred_.empty()) return {};
  return AdmitDeferredLocked(now_ns);
}

std::deque<std::shared_ptr<TaskRecord>> Tenant::TakeDeferred() {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<std::shared_ptr<TaskRecord>> all;
  all.swap(deferred_);
  return all;
}

TenantStats Tenant::stats() const {
  TenantStats s;
  std::lock_guard<std::mutex> lock(mu_);
  s.in_flight = unlimited_ ? fast_in_flight_.load() : in_flight_;
  s.memory_bytes = memory_bytes_;
  s.deferred = static_cast<int64_t>(deferred_.size());
  s.rejected = rejected_;
  s.energy_j_in_window = energy_j_;
  return s;
}

}  // namespace unihal::sched
