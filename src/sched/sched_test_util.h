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
  explicit FnRunner(Fn fn) : fn_(std::move(fn)) {}
  Result<std::vector<Tensor>> RunOn(int lane, TaskRecord& task) const override {
    return fn_(lane, task);
  }

 private:
  Fn fn_;
};

inline std::shared_ptr<const TaskRunner> Runner(FnRunner::Fn fn) {
  return std::make_shared<FnRunner>(std::move(fn));
}

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
