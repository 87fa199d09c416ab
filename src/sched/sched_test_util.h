// Helpers for the scheduler tests: runners from lambdas, a gate that holds a worker.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "sched/scheduler.h"

namespace unihal::sched::testing {

class FnRunner final : public TaskRunner {
 public:
  using Fn = std::function<Result<std::vector<Tensor>>(int lane, TaskRecord& task)>;
  explicit FnRunner(Fn fn, int64_t estimate_ns = 0) : fn_(std::move(fn)), estimate_(estimate_ns) {}
  Result<std::vector<Tensor>> RunOn(int lane, TaskRecord& task) const override {
    return fn_(lane, task);
  }
  int64_t EstimateNs(int) const override { return estimate_; }

 private:
  Fn fn_;
  int64_t estimate_;
};

inline std::shared_ptr<const TaskRunner> Runner(FnRunner::Fn fn, int64_t estimate_ns = 0) {
  return std::make_shared<FnRunner>(std::move(fn), estimate_ns);
}

// A device whose health the test scripts (and counts the reads of); it runs nothing.
class ScriptedDevice final : public hal::Device {
 public:
  explicit ScriptedDevice(std::string id) {
    info_.id = std::move(id);
    health_.state = hal::HealthState::kHealthy;
    health_.throttling = false;
  }
  const hal::DeviceInfo& info() const override { return info_; }
  hal::DeviceHealth Health() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++reads_;
    return health_;
  }
  void Set(const hal::DeviceHealth& health) {
    std::lock_guard<std::mutex> lock(mu_);
    health_ = health;
  }
  int reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return reads_;
  }
  Result<std::shared_ptr<hal::Buffer>> Allocate(size_t) override { return UnimplementedError("-"); }
  Result<std::unique_ptr<hal::Stream>> CreateStream() override { return UnimplementedError("-"); }
  hal::SupportResult Supports(const ir::Node&, const ir::Graph&) const override {
    return hal::SupportResult::No("scripted");
  }
  Result<std::shared_ptr<hal::Executable>> Compile(const ir::Graph&,
                                                   const hal::CompileOptions&) override {
    return UnimplementedError("scripted device");
  }

 private:
  hal::DeviceInfo info_;
  std::mutex mu_;
  hal::DeviceHealth health_;
  int reads_ = 0;
};

inline std::shared_ptr<const TaskRunner> EmptyRunner() {
  return Runner(
      [](int, TaskRecord&) -> Result<std::vector<Tensor>> { return std::vector<Tensor>{}; });
}

// Opened once; tasks that wait on it hold their worker until then.
class Gate {
 public:
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void WaitOpen() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }
  // Signals that a waiter has arrived (the gate task is running).
  void Arrive() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      arrived_ = true;
    }
    cv_.notify_all();
  }
  void WaitArrived() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool arrived_ = false;
};

inline std::vector<LaneConfig> Lanes(int n, int workers = 1) {
  std::vector<LaneConfig> lanes;
  for (int i = 0; i < n; ++i) lanes.push_back({"lane" + std::to_string(i), nullptr, workers});
  return lanes;
}

inline SubmitRequest Request(std::shared_ptr<const TaskRunner> runner, Priority priority,
                             std::vector<int> candidates = {0}) {
  SubmitRequest r;
  r.runner = std::move(runner);
  r.options.priority = priority;
  r.candidates = std::move(candidates);
  return r;
}

}  // namespace unihal::sched::testing
