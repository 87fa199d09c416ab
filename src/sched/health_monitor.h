// The health monitor's machinery behind unihal::HealthMonitor (unihal/monitor.h): the watched
// devices, their latest samples and history, the derived state and the sampling thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "unihal/monitor.h"

namespace unihal::sched {

class HealthSampler {
 public:
  HealthSampler(std::vector<std::shared_ptr<hal::Device>> devices,
                const HealthMonitorOptions& options);
  ~HealthSampler();

  void Start();
  void Stop();
  bool running() const;
  void SampleRound();
  int64_t rounds() const;
  bool WaitForRounds(int64_t n, std::chrono::milliseconds timeout) const;

  hal::HealthState State(std::string_view device_id) const;
  bool IsThrottling(std::string_view device_id) const;
  std::optional<DeviceHealthStatus> Status(std::string_view device_id) const;
  std::vector<DeviceHealthStatus> StatusAll() const;
  void ReportRun(std::string_view device_id, bool ok);
  int Subscribe(HealthMonitor::Callback callback);
  void Unsubscribe(int id);

 private:
  struct Watched {
    std::shared_ptr<hal::Device> device;
    // Read without a lock by State() and IsThrottling().
    std::atomic<hal::HealthState> state{hal::HealthState::kUnknown};
    std::atomic<bool> throttling{false};
    // Guarded by mu_.
    DeviceHealthStatus status;
    std::deque<HealthSample> history;
    std::optional<int64_t> last_error_count;
    int run_errors_since_round = 0;
  };
  struct Change {
    std::string device_id;
    hal::HealthState before;
    hal::HealthState after;
    std::string reason;
  };

  Watched* Find(std::string_view device_id) const;
  void AddSampleLocked(Watched& watched, HealthSample sample);
  // Recomputes the derived state; a change is appended to `changes`.
  void DeriveLocked(Watched& watched, std::vector<Change>& changes);
  DeviceHealthStatus StatusLocked(const Watched& watched) const;
  void Notify(const std::vector<Change>& changes);
  void Loop();

  const HealthMonitorOptions options_;
  std::vector<std::unique_ptr<Watched>> watched_;       // fixed at construction
  std::map<std::string, Watched*, std::less<>> by_id_;  // fixed at construction
  std::mutex round_mu_;  // one sampling round at a time (thread or SampleNow)
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // rounds_ grew or stop_ was set
  int64_t rounds_ = 0;
  bool stop_ = false;
  std::thread thread_;  // guarded by thread_mu_
  mutable std::mutex thread_mu_;
  std::mutex callbacks_mu_;  // held while callbacks run, so Unsubscribe waits for them
  std::map<int, HealthMonitor::Callback> callbacks_;
  int next_callback_id_ = 1;
};

}  // namespace unihal::sched
