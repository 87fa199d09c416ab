#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "sched/sched_test_util.h"
#include "unihal/hal/preemption.h"

namespace unihal::sched {
namespace {

using testing::EmptyRunner;
using testing::Gate;
using testing::Lanes;
using testing::Request;
using testing::Runner;

SchedulerOptions Options(std::chrono::nanoseconds aging = std::chrono::seconds(60)) {
  SchedulerOptions o;
  o.aging_step = aging;
  o.spin_iterations = 100;
  return o;
}

// Holds lane 0's only worker until the gate opens.
TaskHandle Block(Scheduler& s, Gate& gate) {
  auto runner = Runner([&gate](int, TaskRecord&) -> Result<std::vector<Tensor>> {
    gate.Arrive();
    gate.WaitOpen();
    return std::vector<Tensor>{};
  });
  TaskHandle h = *s.Submit(Request(runner, Priority::kBackground));
  gate.WaitArrived();
  return h;
}

// Records the order tasks ran in.
struct Order {
  std::mutex mu;
  std::vector<int> ids;
  std::shared_ptr<const TaskRunner> Runner(int id) {
    return testing::Runner([this, id](int, TaskRecord&) -> Result<std::vector<Tensor>> {
      std::lock_guard<std::mutex> lock(mu);
      ids.push_back(id);
      return std::vector<Tensor>{};
    });
  }
};

TEST(SchedulerTest, HigherPriorityFirstAndFifoWithinAPriority) {
  Scheduler s(Lanes(1), Options());
  Gate gate;
  TaskHandle blocker = Block(s, gate);
  Order order;
  // id = 10 * priority + arrival within that priority.
  const Priority submitted[] = {Priority::kBackground, Priority::kNormal,    Priority::kCritical,
                                Priority::kLow,        Priority::kHigh,      Priority::kNormal,
                                Priority::kCritical,   Priority::kBackground};
  int arrivals[kNumPriorities] = {};
  std::vector<TaskHandle> handles;
  for (Priority p : submitted) {
    const int level = static_cast<int>(p);
    handles.push_back(*s.Submit(Request(order.Runner(10 * level + arrivals[level]++), p)));
  }
  gate.Open();
  for (auto& h : handles) h.Wait();
  EXPECT_EQ(order.ids, (std::vector<int>{0, 1, 10, 20, 21, 30, 40, 41}));
}

TEST(SchedulerTest, AgingBoundsHowLongLowerWorkWaits) {
  const auto step = std::chrono::milliseconds(2);
  Scheduler s(Lanes(1), Options(step));
  Gate gate;
  TaskHandle blocker = Block(s, gate);
  Order order;
  TaskHandle background = *s.Submit(Request(order.Runner(4), Priority::kBackground));
  // Critical work submitted within the aging bound goes first ...
  TaskHandle early = *s.Submit(Request(order.Runner(0), Priority::kCritical));
  // ... work submitted more than 4 steps after the background task does not overtake it.
  std::this_thread::sleep_for(5 * step);
  TaskHandle late = *s.Submit(Request(order.Runner(1), Priority::kCritical));
  gate.Open();
  late.Wait();
  background.Wait();
  early.Wait();
  EXPECT_EQ(order.ids, (std::vector<int>{0, 4, 1}));
}

TEST(SchedulerTest, BadRequestsFailAtSubmit) {
  Scheduler s(Lanes(1), Options());
  SubmitRequest past = Request(EmptyRunner(), Priority::kNormal);
  past.options.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
  Result<TaskHandle> r = s.Submit(past);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("in the past"), std::string::npos) << r.status().message();

  SubmitRequest stranger = Request(EmptyRunner(), Priority::kNormal);
  stranger.options.tenant = "nobody";
  r = s.Submit(stranger);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("'nobody'"), std::string::npos);

  SubmitRequest nowhere = Request(EmptyRunner(), Priority::kNormal, {});
  EXPECT_EQ(s.Submit(nowhere).status().code(), StatusCode::kInvalidArgument);
}

TEST(SchedulerTest, QueuedTaskTimesOutAtItsDeadline) {
  Scheduler s(Lanes(1), Options());
  Gate gate;
  TaskHandle blocker = Block(s, gate);
  std::atomic<bool> ran{false};
  SubmitRequest r = Request(Runner([&](int, TaskRecord&) -> Result<std::vector<Tensor>> {
                              ran = true;
                              return std::vector<Tensor>{};
                            }),
                            Priority::kNormal);
  r.options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  TaskHandle h = *s.Submit(r);
  h.Wait();  // ends while the worker is still blocked
  EXPECT_EQ(h.state(), TaskState::kTimedOut);
  EXPECT_EQ(h.Get().status().code(), StatusCode::kDeadlineExceeded);
  gate.Open();
  blocker.Wait();
  EXPECT_FALSE(ran);
}

// Runs "ops" until a preemption point says stop.
std::shared_ptr<const TaskRunner> UntilStopped(std::atomic<bool>* started) {
  return Runner([started](int, TaskRecord&) -> Result<std::vector<Tensor>> {
    started->store(true);
    while (true) {
      Status s = hal::PreemptionPoint();
      if (!s.ok()) return s;
      std::this_thread::yield();
    }
  });
}

TEST(SchedulerTest, RunningTaskStopsAtItsDeadline) {
  Scheduler s(Lanes(1), Options());
  std::atomic<bool> started{false};
  SubmitRequest r = Request(UntilStopped(&started), Priority::kNormal);
  r.options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  TaskHandle h = *s.Submit(r);
  h.Wait();
  EXPECT_TRUE(started);
  EXPECT_EQ(h.state(), TaskState::kTimedOut);
}

TEST(SchedulerTest, CancelInEveryState) {
  Scheduler s(Lanes(1), Options());
  Gate gate;
  TaskHandle blocker = Block(s, gate);
  std::atomic<int> callbacks{0};
  // Queued: ends at once, never runs.
  SubmitRequest queued_request = Request(EmptyRunner(), Priority::kNormal);
  queued_request.on_complete = [&](TaskState state, const Status& status,
                                   const std::vector<Tensor>&) {
    EXPECT_EQ(state, TaskState::kCancelled);
    EXPECT_EQ(status.code(), StatusCode::kCancelled);
    ++callbacks;
  };
  TaskHandle queued = *s.Submit(queued_request);
  EXPECT_EQ(queued.state(), TaskState::kQueued);
  EXPECT_TRUE(queued.Cancel());
  EXPECT_EQ(queued.state(), TaskState::kCancelled);
  EXPECT_EQ(callbacks, 1);
  gate.Open();
  blocker.Wait();

  // Running: stops at its next op boundary.
  std::atomic<bool> started{false};
  TaskHandle running = *s.Submit(Request(UntilStopped(&started), Priority::kNormal));
  while (!started) std::this_thread::yield();
  EXPECT_EQ(running.state(), TaskState::kRunning);
  EXPECT_TRUE(running.Cancel());
  running.Wait();
  EXPECT_EQ(running.state(), TaskState::kCancelled);

  // Final: nothing changes.
  TaskHandle done = *s.Submit(Request(EmptyRunner(), Priority::kNormal));
  done.Wait();
  EXPECT_FALSE(done.Cancel());
  EXPECT_EQ(done.state(), TaskState::kSucceeded);
  EXPECT_TRUE(done.Get().ok());
  EXPECT_EQ(callbacks, 1);  // exactly once
}

TEST(SchedulerTest, CriticalWorkRunsAtAnOpBoundaryOfBackgroundWork) {
  Scheduler s(Lanes(1), Options());
  std::atomic<bool> critical_done{false};
  std::atomic<bool> background_saw_it{false};
  std::atomic<bool> started{false};
  auto background = Runner([&](int, TaskRecord&) -> Result<std::vector<Tensor>> {
    started = true;
    for (int op = 0; op < 100000000; ++op) {
      UH_RETURN_IF_ERROR(hal::PreemptionPoint());
      if (critical_done) {
        background_saw_it = true;
        break;
      }
      std::this_thread::yield();
    }
    return std::vector<Tensor>{};
  });
  TaskHandle bg = *s.Submit(Request(background, Priority::kBackground));
  while (!started) std::this_thread::yield();
  TaskState bg_state_when_critical_ran = TaskState::kQueued;
  auto critical = Runner([&](int, TaskRecord&) -> Result<std::vector<Tensor>> {
    bg_state_when_critical_ran = bg.state();
    critical_done = true;
    return std::vector<Tensor>{};
  });
  TaskHandle c = *s.Submit(Request(critical, Priority::kCritical));
  c.Wait();
  bg.Wait();
  EXPECT_EQ(c.state(), TaskState::kSucceeded);
  EXPECT_EQ(bg_state_when_critical_ran, TaskState::kRunning);
  EXPECT_TRUE(background_saw_it);
}

TEST(SchedulerTest, DeviceFaultMovesTheTaskToAnotherLaneOnce) {
  Scheduler s(Lanes(2), Options());
  auto runner = Runner([](int lane, TaskRecord&) -> Result<std::vector<Tensor>> {
    if (lane == 0) return UnavailableError("lane0: device lost (test)");
    return std::vector<Tensor>{Tensor::Scalar<float>(1.0f)};
  });
  std::atomic<int> callbacks{0};
  SubmitRequest r = Request(runner, Priority::kNormal, {0});
  r.failover = {1};
  r.on_complete = [&](TaskState, const Status&, const std::vector<Tensor>&) { ++callbacks; };
  TaskHandle h = *s.Submit(r);
  Result<std::vector<Tensor>> out = h.Get();
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->size(), 1u);
  EXPECT_EQ(h.attempts(), 2);
  EXPECT_EQ(h.device_id(), "lane1");
  EXPECT_EQ(callbacks, 1);
  EXPECT_EQ(s.lane_stats(0).faults, 1);

  // Not allowed to move: fails with the device's error.
  r.options.fallback_allowed = false;
  r.on_complete = nullptr;
  TaskHandle pinned = *s.Submit(r);
  EXPECT_EQ(pinned.Get().status().code(), StatusCode::kUnavailable);
  EXPECT_NE(pinned.Get().status().message().find("fallback_allowed"), std::string::npos);

  // A request error is not a device fault: no retry.
  auto bad = Runner([](int, TaskRecord&) -> Result<std::vector<Tensor>> {
    return InvalidArgumentError("bad input (test)");
  });
  SubmitRequest br = Request(bad, Priority::kNormal, {1});
  br.failover = {0};
  TaskHandle b = *s.Submit(br);
  EXPECT_EQ(b.Get().status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(b.attempts(), 1);
}

TEST(SchedulerTest, RandomFaultsNeverLoseOrDuplicateATask) {
  SchedulerOptions o = Options();
  o.max_attempts = 10;
  o.faults_to_fail = 1000000;  // keep both lanes in play
  Scheduler s(Lanes(2, 2), o);
  constexpr int kTasks = 2000;
  std::vector<std::atomic<int>> completions(kTasks);
  auto runner = Runner([](int lane, TaskRecord& task) -> Result<std::vector<Tensor>> {
    // Deterministic pseudo-random faults per (task, attempt), on lane 0 only.
    const uint64_t h = (static_cast<uint64_t>(task.submit_ns) * 0x9E3779B97F4A7C15ull) ^
                       static_cast<uint64_t>(task.attempts.load());
    if (lane == 0 && (h >> 33) % 3 == 0) return UnavailableError("injected (test)");
    return std::vector<Tensor>{};
  });
  std::vector<TaskHandle> handles;
  for (int i = 0; i < kTasks; ++i) {
    SubmitRequest r = Request(runner, static_cast<Priority>(i % kNumPriorities), {0, 1});
    r.failover = {1, 0};
    r.on_complete = [&completions, i](TaskState, const Status&, const std::vector<Tensor>&) {
      completions[static_cast<size_t>(i)].fetch_add(1);
    };
    handles.push_back(*s.Submit(r));
  }
  int succeeded = 0;
  for (auto& h : handles) {
    h.Wait();
    succeeded += h.state() == TaskState::kSucceeded;
  }
  EXPECT_EQ(succeeded, kTasks);
  for (int i = 0; i < kTasks; ++i) EXPECT_EQ(completions[static_cast<size_t>(i)].load(), 1) << i;
}

TEST(SchedulerTest, TenantBudgetsRejectOrQueue) {
  SchedulerOptions o = Options();
  TenantConfig strict;
  strict.name = "strict";
  strict.max_concurrent_tasks = 1;
  strict.priority_ceiling = Priority::kNormal;
  TenantConfig patient;
  patient.name = "patient";
  patient.max_concurrent_tasks = 1;
  patient.priority_ceiling = Priority::kLow;
  patient.over_budget = OverBudgetPolicy::kQueue;
  TenantConfig small;
  small.name = "small";
  small.memory_bytes = 100;
  o.tenants = {strict, patient, small};
  Scheduler s(Lanes(1), o);
  Gate gate;
  auto held = Runner([&gate](int, TaskRecord&) -> Result<std::vector<Tensor>> {
    gate.WaitOpen();
    return std::vector<Tensor>{};
  });

  SubmitRequest r = Request(held, Priority::kNormal);
  r.options.tenant = "strict";
  TaskHandle first = *s.Submit(r);
  Result<TaskHandle> second = s.Submit(r);
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(second.status().message().find("strict"), std::string::npos);
  r.options.priority = Priority::kCritical;
  EXPECT_EQ(s.Submit(r).status().code(), StatusCode::kResourceExhausted);  // over the ceiling

  SubmitRequest q = Request(held, Priority::kCritical);
  q.options.tenant = "patient";
  TaskHandle p1 = *s.Submit(q);
  TaskHandle p2 = *s.Submit(q);  // deferred, not rejected
  EXPECT_EQ(s.tenant_stats("patient")->deferred, 1);

  SubmitRequest m = Request(EmptyRunner(), Priority::kNormal);
  m.options.tenant = "small";
  m.memory_bytes = 101;
  EXPECT_EQ(s.Submit(m).status().code(), StatusCode::kResourceExhausted);

  gate.Open();
  EXPECT_TRUE(first.Get().ok());
  EXPECT_TRUE(p1.Get().ok());
  EXPECT_TRUE(p2.Get().ok());
  r.options.priority = Priority::kNormal;
  TaskHandle third = *s.Submit(r);  // the slot is free again once Wait returned
  EXPECT_TRUE(third.Get().ok());
}

TEST(SchedulerTest, ShutdownCancelsQueuedTasks) {
  Gate gate;
  TaskHandle queued;
  std::thread opener;
  {
    Scheduler s(Lanes(1), Options());
    TaskHandle blocker = Block(s, gate);
    queued = *s.Submit(Request(EmptyRunner(), Priority::kNormal));
    // The destructor cancels the queued task, then waits for the blocker: open the gate then.
    opener = std::thread([&] {
      queued.Wait();
      gate.Open();
    });
  }
  opener.join();
  EXPECT_EQ(queued.state(), TaskState::kCancelled);
}

}  // namespace
}  // namespace unihal::sched
