// The scheduler against devices that misbehave: a hung attempt is given up and its task moves
// to another lane (and its late result is dropped), a deadline ends a hung task at once, queued
// work leaves a throttling or hung device, health comes from the HealthMonitor when there is
// one, and a callback that drops the last owner of the scheduler does not make it join itself.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "sched/sched_test_util.h"
#include "sched/scheduler.h"
#include "unihal/hal/preemption.h"

namespace unihal::sched {
namespace {

using testing::Gate;
using testing::Lanes;
using testing::Request;
using testing::Runner;
using testing::ScriptedDevice;

constexpr int64_t kMs = 1'000'000;

SchedulerOptions FastOptions() {
  SchedulerOptions o;
  o.aging_step = std::chrono::seconds(60);
  o.spin_iterations = 100;
  o.health_interval = std::chrono::milliseconds(2);
  o.min_hang_timeout = std::chrono::milliseconds(10);
  o.hang_estimates = 1;
  return o;
}

// Lane 0 "hangs" (blocks on the gate) until the test opens it; lane 1 answers at once.
std::shared_ptr<const TaskRunner> HangsOnLane0(Gate& gate, std::atomic<int>& runs,
                                               int64_t estimate_ns) {
  return Runner(
      [&gate, &runs](int lane, TaskRecord&) -> Result<std::vector<Tensor>> {
        runs.fetch_add(1);
        if (lane == 0) {
          gate.Arrive();
          gate.WaitOpen();
        }
        return std::vector<Tensor>{};
      },
      estimate_ns);
}

// Waits until lane `lane` has no attempt in progress (its stuck worker came back).
void WaitIdle(const Scheduler& s, int lane) {
  while (s.lane_stats(lane).running != 0) std::this_thread::yield();
}

TEST(SchedulerFaultsTest, HungAttemptFailsOverOnceAndItsLateResultIsDropped) {
  Scheduler s(Lanes(2), FastOptions());
  Gate gate;
  std::atomic<int> runs{0}, callbacks{0};
  SubmitRequest r = Request(HangsOnLane0(gate, runs, kMs), Priority::kNormal, {0});
  r.failover = {1};
  r.on_complete = [&](TaskState, const Status&, const std::vector<Tensor>&) { ++callbacks; };
  TaskHandle task = *s.Submit(std::move(r));
  // Queued behind the hung task on lane 0: moved to lane 1 rather than waiting for it.
  SubmitRequest behind = Request(HangsOnLane0(gate, runs, kMs), Priority::kNormal, {0});
  behind.failover = {1};
  gate.WaitArrived();
  TaskHandle queued = *s.Submit(std::move(behind));

  ASSERT_TRUE(task.Get().ok()) << task.Get().status().message();
  EXPECT_EQ(task.state(), TaskState::kSucceeded);
  EXPECT_EQ(task.device_id(), "lane1");
  EXPECT_EQ(task.attempts(), 2);
  ASSERT_TRUE(queued.Get().ok()) << queued.Get().status().message();
  EXPECT_EQ(queued.device_id(), "lane1");

  gate.Open();  // the hung attempt returns now: its success must not count a second time
  WaitIdle(s, 0);
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_EQ(task.state(), TaskState::kSucceeded);
  EXPECT_EQ(s.lane_stats(0).faults, 1);
  EXPECT_EQ(s.lane_stats(0).completed, 0);
  EXPECT_EQ(s.lane_stats(1).completed, 2);
}

TEST(SchedulerFaultsTest, WaitingForNestedHigherWorkIsNotAHang) {
  Scheduler s(Lanes(2), FastOptions());
  Gate gate;
  std::atomic<bool> stop{false};
  // Background work with a 1 ms estimate (10 ms hang limit) that reaches op boundaries until
  // told to stop; the critical task nested at one of them (no estimate) holds it far longer.
  auto background = Runner(
      [&stop](int, TaskRecord&) -> Result<std::vector<Tensor>> {
        while (!stop.load()) UH_RETURN_IF_ERROR(hal::PreemptionPoint());
        return std::vector<Tensor>{};
      },
      kMs);
  SubmitRequest low = Request(background, Priority::kBackground, {0});
  low.failover = {1};
  TaskHandle outer = *s.Submit(std::move(low));
  std::atomic<int> runs{0};
  TaskHandle inner = *s.Submit(Request(HangsOnLane0(gate, runs, 0), Priority::kCritical, {0}));
  gate.WaitArrived();  // nested in the background task's attempt
  // Well past the outer attempt's 10 ms limit: it must not be given up, since it only waits.
  // (A wrong give-up would fail it over to lane 1 and make attempts 2.)
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  stop = true;
  gate.Open();
  ASSERT_TRUE(inner.Get().ok());
  ASSERT_TRUE(outer.Get().ok());
  EXPECT_EQ(outer.attempts(), 1);
  EXPECT_EQ(outer.device_id(), "lane0");
  EXPECT_EQ(s.lane_stats(0).faults, 0);
}

TEST(SchedulerFaultsTest, DeadlineEndsAHungTaskWithoutWaitingForItsWorker) {
  SchedulerOptions o = FastOptions();
  Scheduler s(Lanes(1), o);
  Gate gate;
  std::atomic<int> runs{0}, callbacks{0};
  // No estimate: never called hung, only its deadline can end it.
  SubmitRequest r = Request(HangsOnLane0(gate, runs, 0), Priority::kNormal, {0});
  r.options.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
  r.on_complete = [&](TaskState, const Status&, const std::vector<Tensor>&) { ++callbacks; };
  TaskHandle task = *s.Submit(std::move(r));
  gate.WaitArrived();
  task.Wait();  // returns while the gate is still closed
  EXPECT_EQ(task.state(), TaskState::kTimedOut);
  EXPECT_EQ(task.Get().status().code(), StatusCode::kDeadlineExceeded);
  gate.Open();
  WaitIdle(s, 0);
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_EQ(task.state(), TaskState::kTimedOut);
  EXPECT_EQ(s.lane_stats(0).faults, 0);  // a deadline is not the device's fault
}

TEST(SchedulerFaultsTest, QueuedWorkMovesOffAThrottlingDevice) {
  auto hot = std::make_shared<ScriptedDevice>("hot:0");
  std::vector<LaneConfig> lanes = {{"hot:0", hot, 1}, {"cool", nullptr, 1}};
  Scheduler s(std::move(lanes), FastOptions());
  Gate gate;
  std::atomic<int> runs{0};
  SubmitRequest blocker = Request(HangsOnLane0(gate, runs, 0), Priority::kNormal, {0});
  TaskHandle busy = *s.Submit(std::move(blocker));
  gate.WaitArrived();
  std::vector<TaskHandle> queued;
  for (int i = 0; i < 4; ++i) {
    SubmitRequest r = Request(testing::EmptyRunner(), Priority::kNormal, {0});
    r.failover = {1};
    queued.push_back(*s.Submit(std::move(r)));
  }
  hal::DeviceHealth throttling;
  throttling.state = hal::HealthState::kHealthy;
  throttling.throttling = true;
  hot->Set(throttling);  // the next health tick sees it and moves the queue
  for (TaskHandle& t : queued) {
    ASSERT_TRUE(t.Get().ok()) << t.Get().status().message();
    EXPECT_EQ(t.device_id(), "cool");
  }
  EXPECT_EQ(busy.state(), TaskState::kRunning);  // still held by the gate
  gate.Open();
  EXPECT_TRUE(busy.Get().ok());
}

TEST(SchedulerFaultsTest, HealthComesFromTheMonitorWhenThereIsOne) {
  auto device = std::make_shared<ScriptedDevice>("dev:0");
  HealthMonitor monitor({device});  // not started: the test samples it
  SchedulerOptions o = FastOptions();
  o.health_monitor = &monitor;
  std::vector<LaneConfig> lanes = {{"dev:0", device, 1}, {"other", nullptr, 1}};
  Scheduler s(std::move(lanes), o);
  hal::DeviceHealth hot;
  hot.state = hal::HealthState::kHealthy;
  hot.throttling = true;
  device->Set(hot);
  monitor.SampleNow();
  while (!s.lane_stats(0).throttling) std::this_thread::yield();  // read from the monitor
  EXPECT_EQ(device->reads(), 1);  // the monitor's one sample: the scheduler never asked it

  hal::DeviceHealth failed;
  failed.state = hal::HealthState::kFailed;
  device->Set(failed);
  monitor.SampleNow();
  while (!s.lane_stats(0).failed) std::this_thread::yield();
  TaskHandle t = *s.Submit(Request(testing::EmptyRunner(), Priority::kNormal, {0, 1}));
  ASSERT_TRUE(t.Get().ok());
  EXPECT_EQ(t.device_id(), "other");  // the failed device is skipped

  // While failed, the scheduler has the monitor sample again (the recovery probe).
  hal::DeviceHealth healthy;
  healthy.state = hal::HealthState::kHealthy;
  device->Set(healthy);
  while (s.lane_stats(0).failed) std::this_thread::yield();
  EXPECT_GT(device->reads(), 2);
  ASSERT_TRUE(monitor.Status("dev:0")->latest.has_value());
  EXPECT_EQ(monitor.Status("dev:0")->latest->health.state, hal::HealthState::kHealthy);
}

TEST(SchedulerFaultsTest, CallbackDroppingTheLastOwnerDestroysTheSchedulerOffItsThreads) {
  struct Owner {
    std::unique_ptr<Scheduler> scheduler;
    std::promise<std::thread::id>* destroyed;
    ~Owner() {
      scheduler.reset();  // joins the workers: must not run on one of them
      destroyed->set_value(std::this_thread::get_id());
    }
  };
  std::promise<std::thread::id> destroyed;
  std::shared_ptr<Owner> owner(
      new Owner{std::make_unique<Scheduler>(Lanes(1), FastOptions()), &destroyed},
      &DeleteOffSchedulerThreads<Owner>);
  Gate gate;
  std::atomic<int> runs{0};
  std::promise<std::thread::id> callback_thread;
  SubmitRequest r = Request(HangsOnLane0(gate, runs, 0), Priority::kNormal, {0});
  r.on_complete = [keep = owner, &callback_thread](TaskState, const Status&,
                                                   const std::vector<Tensor>&) mutable {
    callback_thread.set_value(std::this_thread::get_id());
    keep.reset();  // the last reference
  };
  TaskHandle task = *owner->scheduler->Submit(std::move(r));
  gate.WaitArrived();
  owner.reset();  // now only the callback holds it
  gate.Open();
  const std::thread::id worker = callback_thread.get_future().get();
  const std::thread::id destroyer = destroyed.get_future().get();
  EXPECT_NE(destroyer, worker);
  EXPECT_NE(destroyer, std::this_thread::get_id());
  EXPECT_EQ(task.state(), TaskState::kSucceeded);
}

TEST(SchedulerFaultsTest, SubmitBatchRunsEveryTaskOnceInPriorityOrder) {
  Scheduler s(Lanes(1), FastOptions());
  Gate gate;
  std::atomic<int> runs{0};
  TaskHandle blocker = *s.Submit(Request(HangsOnLane0(gate, runs, 0), Priority::kBackground));
  gate.WaitArrived();
  std::mutex mu;
  std::vector<int> order;
  auto record = [&](int id) {
    return Runner([&, id](int, TaskRecord&) -> Result<std::vector<Tensor>> {
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(id);
      return std::vector<Tensor>{};
    });
  };
  std::atomic<int> callbacks{0};
  SubmitBatchRequest low;
  low.runner = record(1);
  low.count = 3;
  low.options.priority = Priority::kLow;
  low.candidates = {0};
  low.on_complete = [&](TaskState, const Status&, const std::vector<Tensor>&) { ++callbacks; };
  std::vector<TaskHandle> lows = *s.SubmitBatch(low);
  SubmitBatchRequest high = low;
  high.runner = record(0);
  high.options.priority = Priority::kHigh;
  std::vector<TaskHandle> highs = *s.SubmitBatch(high);
  ASSERT_EQ(lows.size(), 3u);
  ASSERT_EQ(highs.size(), 3u);
  gate.Open();
  for (auto& h : lows) EXPECT_TRUE(h.Get().ok());
  for (auto& h : highs) EXPECT_TRUE(h.Get().ok());
  EXPECT_EQ(order, (std::vector<int>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(callbacks.load(), 6);

  // A bad batch submits nothing.
  SubmitBatchRequest late = low;
  late.options.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  EXPECT_EQ(s.SubmitBatch(late).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(callbacks.load(), 6);
}

TEST(SchedulerFaultsTest, SubmitBatchGivesFailedHandlesForWhatTheBudgetRejects) {
  SchedulerOptions o = FastOptions();
  TenantConfig tenant;
  tenant.name = "small";
  tenant.max_concurrent_tasks = 2;
  tenant.over_budget = OverBudgetPolicy::kReject;
  o.tenants = {tenant};
  Scheduler s(Lanes(1), o);
  Gate gate;
  std::atomic<int> runs{0};
  SubmitBatchRequest batch;
  batch.runner = HangsOnLane0(gate, runs, 0);
  batch.count = 3;
  batch.options.tenant = "small";
  batch.candidates = {0};
  std::vector<TaskHandle> handles = *s.SubmitBatch(batch);
  ASSERT_EQ(handles.size(), 3u);
  EXPECT_EQ(handles[2].state(), TaskState::kFailed);
  EXPECT_EQ(handles[2].Get().status().code(), StatusCode::kResourceExhausted);
  gate.Open();
  EXPECT_TRUE(handles[0].Get().ok());
  EXPECT_TRUE(handles[1].Get().ok());
  EXPECT_EQ(runs.load(), 2);
}

}  // namespace
}  // namespace unihal::sched
