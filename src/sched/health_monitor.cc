#include "sched/health_monitor.h"

#include <fmt/format.h>

#include <algorithm>

namespace unihal {
namespace sched {

HealthSampler::HealthSampler(std::vector<std::shared_ptr<hal::Device>> devices,
                             const HealthMonitorOptions& options)
    : options_(options) {
  for (auto& device : devices) {
    if (!device) continue;
    auto watched = std::make_unique<Watched>();
    watched->status.device_id = device->info().id;
    watched->status.is_simulated = device->info().is_simulated;
    watched->device = std::move(device);
    by_id_.emplace(watched->status.device_id, watched.get());
    watched_.push_back(std::move(watched));
  }
}

HealthSampler::~HealthSampler() { Stop(); }

void HealthSampler::Start() {
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> state_lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void HealthSampler::Stop() {
  std::lock_guard<std::mutex> lock(thread_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> state_lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool HealthSampler::running() const {
  std::lock_guard<std::mutex> lock(thread_mu_);
  return thread_.joinable();
}

void HealthSampler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    SampleRound();
    lock.lock();
    cv_.wait_for(lock, options_.interval, [this] { return stop_; });
  }
}

void HealthSampler::SampleRound() {
  std::lock_guard<std::mutex> round(round_mu_);
  // Health() may take a while (sysfs, NVML): sample without holding mu_.
  std::vector<HealthSample> samples;
  for (const auto& watched : watched_) {
    samples.push_back({std::chrono::steady_clock::now(), watched->device->Health()});
  }
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < watched_.size(); ++i) {
      AddSampleLocked(*watched_[i], std::move(samples[i]));
      DeriveLocked(*watched_[i], changes);
    }
    ++rounds_;
  }
  cv_.notify_all();
  Notify(changes);
}

void HealthSampler::AddSampleLocked(Watched& watched, HealthSample sample) {
  DeviceHealthStatus& status = watched.status;
  // A round has new errors when the device's error count rose since the previous sample or
  // the scheduler reported failed runs since then. The first sample only sets the baseline.
  const std::optional<int64_t>& errors = sample.health.error_count;
  const bool count_rose = errors && watched.last_error_count && *errors > *watched.last_error_count;
  if (errors) watched.last_error_count = errors;
  const bool new_errors = count_rose || watched.run_errors_since_round > 0;
  watched.run_errors_since_round = 0;
  status.consecutive_error_rounds = new_errors ? status.consecutive_error_rounds + 1 : 0;
  ++status.samples;
  watched.throttling.store(sample.health.throttling.value_or(false), std::memory_order_relaxed);
  watched.history.push_back(sample);
  while (static_cast<int>(watched.history.size()) > std::max(1, options_.history)) {
    watched.history.pop_front();
  }
  status.latest = std::move(sample);
}

void HealthSampler::DeriveLocked(Watched& watched, std::vector<Change>& changes) {
  DeviceHealthStatus& status = watched.status;
  const int limit = std::max(1, options_.failed_after_errors);
  const hal::HealthState reported =
      status.latest ? status.latest->health.state : hal::HealthState::kUnknown;
  hal::HealthState state = reported;
  std::string reason;
  if (reported == hal::HealthState::kFailed) {
    reason = "the device reports itself failed";
  } else if (status.consecutive_run_errors >= limit) {
    state = hal::HealthState::kFailed;
    reason = fmt::format("{} run errors in a row", status.consecutive_run_errors);
  } else if (status.consecutive_error_rounds >= limit) {
    state = hal::HealthState::kFailed;
    reason = fmt::format("new errors in {} samples in a row", status.consecutive_error_rounds);
  } else if (status.latest && status.latest->health.throttling.value_or(false)) {
    state = hal::HealthState::kDegraded;
    reason = "throttling";
  } else if (status.consecutive_error_rounds > 0 || status.consecutive_run_errors > 0) {
    state = hal::HealthState::kDegraded;
    reason = "recent errors";
  } else if (reported == hal::HealthState::kDegraded) {
    reason = "the device reports itself degraded";
  }
  const hal::HealthState before = status.state;
  status.state = state;
  status.reason = reason;
  watched.state.store(state, std::memory_order_relaxed);
  if (before != state) changes.push_back({status.device_id, before, state, reason});
}

void HealthSampler::Notify(const std::vector<Change>& changes) {
  if (changes.empty()) return;
  std::lock_guard<std::mutex> lock(callbacks_mu_);
  for (const Change& change : changes) {
    for (const auto& [id, callback] : callbacks_) {
      callback(change.device_id, change.before, change.after, change.reason);
    }
  }
}

int64_t HealthSampler::rounds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rounds_;
}

bool HealthSampler::WaitForRounds(int64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return rounds_ >= n; });
}

HealthSampler::Watched* HealthSampler::Find(std::string_view device_id) const {
  auto it = by_id_.find(device_id);
  return it == by_id_.end() ? nullptr : it->second;
}

hal::HealthState HealthSampler::State(std::string_view device_id) const {
  const Watched* watched = Find(device_id);
  return watched ? watched->state.load(std::memory_order_relaxed) : hal::HealthState::kUnknown;
}

bool HealthSampler::IsThrottling(std::string_view device_id) const {
  const Watched* watched = Find(device_id);
  return watched && watched->throttling.load(std::memory_order_relaxed);
}

DeviceHealthStatus HealthSampler::StatusLocked(const Watched& watched) const {
  DeviceHealthStatus status = watched.status;
  status.history.assign(watched.history.begin(), watched.history.end());
  return status;
}

std::optional<DeviceHealthStatus> HealthSampler::Status(std::string_view device_id) const {
  const Watched* watched = Find(device_id);
  if (!watched) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  return StatusLocked(*watched);
}

std::vector<DeviceHealthStatus> HealthSampler::StatusAll() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DeviceHealthStatus> all;
  for (const auto& watched : watched_) all.push_back(StatusLocked(*watched));
  return all;
}

void HealthSampler::ReportRun(std::string_view device_id, bool ok) {
  Watched* watched = Find(device_id);
  if (!watched) return;
  std::vector<Change> changes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int& in_a_row = watched->status.consecutive_run_errors;
    if (ok) {
      if (in_a_row == 0) return;
      in_a_row = 0;
    } else {
      ++in_a_row;
      ++watched->run_errors_since_round;
    }
    DeriveLocked(*watched, changes);
  }
  Notify(changes);
}

int HealthSampler::Subscribe(HealthMonitor::Callback callback) {
  std::lock_guard<std::mutex> lock(callbacks_mu_);
  const int id = next_callback_id_++;
  callbacks_.emplace(id, std::move(callback));
  return id;
}

void HealthSampler::Unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(callbacks_mu_);
  callbacks_.erase(id);
}

}  // namespace sched

HealthMonitor::HealthMonitor(std::vector<std::shared_ptr<hal::Device>> devices,
                             const HealthMonitorOptions& options)
    : sampler_(std::make_unique<sched::HealthSampler>(std::move(devices), options)) {}
HealthMonitor::~HealthMonitor() = default;
void HealthMonitor::Start() { sampler_->Start(); }
void HealthMonitor::Stop() { sampler_->Stop(); }
bool HealthMonitor::running() const { return sampler_->running(); }
void HealthMonitor::SampleNow() { sampler_->SampleRound(); }
int64_t HealthMonitor::rounds() const { return sampler_->rounds(); }
bool HealthMonitor::WaitForRounds(int64_t n, std::chrono::milliseconds timeout) const {
  return sampler_->WaitForRounds(n, timeout);
}
hal::HealthState HealthMonitor::State(std::string_view device_id) const {
  return sampler_->State(device_id);
}
bool HealthMonitor::IsFailed(std::string_view device_id) const {
  return sampler_->State(device_id) == hal::HealthState::kFailed;
}
bool HealthMonitor::IsThrottling(std::string_view device_id) const {
  return sampler_->IsThrottling(device_id);
}
std::optional<DeviceHealthStatus> HealthMonitor::Status(std::string_view device_id) const {
  return sampler_->Status(device_id);
}
std::vector<DeviceHealthStatus> HealthMonitor::StatusAll() const { return sampler_->StatusAll(); }
void HealthMonitor::ReportRunError(std::string_view device_id) {
  sampler_->ReportRun(device_id, false);
}
void HealthMonitor::ReportRunSuccess(std::string_view device_id) {
  sampler_->ReportRun(device_id, true);
}
int HealthMonitor::Subscribe(Callback callback) { return sampler_->Subscribe(std::move(callback)); }
void HealthMonitor::Unsubscribe(int id) { sampler_->Unsubscribe(id); }

}  // namespace unihal
