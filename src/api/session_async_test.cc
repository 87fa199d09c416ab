// Session::RunAsync through the scheduler: same results as Run, failover from a lost simulated
// NPU to the CPU, throughput mode over two devices, and bad requests caught at submit.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "api/model_cache.h"
#include "onnx/test_model_builder.h"
#include "sched/scheduler.h"
#include "testing/op_test_util.h"
#include "unihal/session.h"

namespace unihal {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::TensorProto;

// Y = Relu(X), int8 [1, 16]: runs on sim-npu (int8, static shapes) and on the CPU.
std::string Int8ReluModel() {
  onnx::ModelProto proto = NewModel(17);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::INT8, {1, 16});
  AddNode(g, "Relu", {"X"}, {"R"}, "relu");
  AddNode(g, "Relu", {"R"}, {"Y"}, "relu2");
  AddOutput(g, "Y", TensorProto::INT8, {1, 16});
  return Serialize(proto);
}

// Y = X * 2 + 1, float [batch, 4]: the CPU only (sim-npu has no float32).
std::string FloatModel() {
  onnx::ModelProto proto = NewModel(17);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {-1, 4}, {"batch"});
  AddInitializer(g, "two", Tensor::FromVector<float>({1}, {2.0f}));
  AddInitializer(g, "one", Tensor::FromVector<float>({1}, {1.0f}));
  AddNode(g, "Mul", {"X", "two"}, {"M"}, "mul");
  AddNode(g, "Add", {"M", "one"}, {"Y"}, "add");
  AddOutput(g, "Y", TensorProto::FLOAT, {-1, 4}, {"batch"});
  return Serialize(proto);
}

Tensor Int8Input(int seed) {
  std::vector<int8_t> v(16);
  for (int i = 0; i < 16; ++i)
    v[static_cast<size_t>(i)] = static_cast<int8_t>((i * 7 + seed) % 50 - 25);
  return Tensor::FromVector<int8_t>({1, 16}, v);
}

std::shared_ptr<Runtime> RuntimeWithSimNpu(hal::SimNpuFaultOptions faults = {}) {
  RuntimeOptions options;
  options.sim_npu.profiles = {"edge-34"};
  options.sim_npu.faults = faults;
  return *Runtime::Create(options);
}

TEST(SessionAsyncTest, RunAsyncGivesTheSameOutputsAsRun) {
  auto runtime = *Runtime::Create();
  SessionOptions options;
  options.device = "cpu";
  auto session = *Session::LoadFromBytes(runtime, FloatModel(), options);
  Tensor x = Tensor::FromVector<float>({2, 4}, {1, 2, 3, 4, -1, -2, -3, -4});
  std::vector<Tensor> sync = *session->Run({{"X", x}});
  RunOptions high;
  high.priority = Priority::kHigh;
  TaskHandle task = *session->RunAsync({{"X", x}}, high);
  std::vector<Tensor> async = *task.Get();
  ASSERT_EQ(async.size(), 1u);
  EXPECT_EQ(task.state(), TaskState::kSucceeded);
  EXPECT_EQ(task.device_id(), "cpu:0");
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_EQ(async[0].data_as<float>()[i], sync[0].data_as<float>()[i]);
    EXPECT_EQ(async[0].data_as<float>()[i], x.data_as<float>()[i] * 2 + 1);
  }
  // Run with non-default options goes through the scheduler too.
  std::vector<Tensor> via_options = *session->Run({{"X", x}}, high);
  EXPECT_EQ(via_options[0].data_as<float>()[7], -7.0f);
}

TEST(SessionAsyncTest, TasksMoveToTheCpuWhenTheNpuIsLostMidRun) {
  hal::SimNpuFaultOptions faults;
  faults.lost_after_runs = 5;
  auto runtime = RuntimeWithSimNpu(faults);
  SessionOptions options;
  options.device = "sim-npu";
  auto session = *Session::LoadFromBytes(runtime, Int8ReluModel(), options);
  std::vector<TaskHandle> tasks;
  std::vector<std::atomic<int>> callbacks(40);
  for (int i = 0; i < 40; ++i) {
    TaskHandle t = *session->RunAsync({{"X", Int8Input(i)}});
    t.OnComplete([&callbacks, i](TaskState, const Status&, const std::vector<Tensor>&) {
      callbacks[static_cast<size_t>(i)]++;
    });
    tasks.push_back(t);
  }
  std::set<std::string> devices;
  int moved = 0;
  for (int i = 0; i < 40; ++i) {
    Result<std::vector<Tensor>> out = tasks[static_cast<size_t>(i)].Get();
    ASSERT_TRUE(out.ok()) << i << ": " << out.status().message();
    const Tensor in = Int8Input(i);
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ((*out)[0].data_as<int8_t>()[j], std::max<int8_t>(0, in.data_as<int8_t>()[j]));
    }
    devices.insert(tasks[static_cast<size_t>(i)].device_id());
    moved += tasks[static_cast<size_t>(i)].attempts() > 1;
  }
  EXPECT_EQ(devices, (std::set<std::string>{"sim-npu:0", "cpu:0"}));
  EXPECT_GE(moved, 1);  // the run that found the device lost was retried, not failed
  for (auto& c : callbacks) EXPECT_EQ(c.load(), 1);
  // The lost device is marked failed: later tasks go straight to the CPU.
  TaskHandle later = *session->RunAsync({{"X", Int8Input(0)}});
  ASSERT_TRUE(later.Get().ok());
  EXPECT_EQ(later.device_id(), "cpu:0");
  EXPECT_EQ(later.attempts(), 1);
}

TEST(SessionAsyncTest, ThroughputModeUsesEveryCapableDevice) {
  auto runtime = RuntimeWithSimNpu();
  SessionOptions options;
  options.device = "sim-npu";
  options.devices = {"sim-npu", "cpu"};
  options.mode = ExecutionMode::kThroughput;
  auto session = *Session::LoadFromBytes(runtime, Int8ReluModel(), options);
  EXPECT_EQ(session->replica_devices(), (std::vector<std::string>{"sim-npu:0", "cpu:0"}));
  std::vector<TaskHandle> tasks;
  for (int i = 0; i < 200; ++i) tasks.push_back(*session->RunAsync({{"X", Int8Input(i)}}));
  std::set<std::string> devices;
  for (auto& t : tasks) {
    ASSERT_TRUE(t.Get().ok());
    devices.insert(t.device_id());
  }
  EXPECT_EQ(devices.size(), 2u);
}

TEST(SessionAsyncTest, BadRequestsFailAtSubmit) {
  auto runtime = RuntimeWithSimNpu();
  SessionOptions options;
  options.device = "cpu";
  auto session = *Session::LoadFromBytes(runtime, FloatModel(), options);
  Tensor x = Tensor::FromVector<float>({1, 4}, {1, 2, 3, 4});

  RunOptions pinned;
  pinned.pinned_device = "sim-npu:0";
  Result<TaskHandle> r = session->RunAsync({{"X", x}}, pinned);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("sim-npu:0 cannot run this model"), std::string::npos)
      << r.status().message();

  RunOptions late;
  late.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  EXPECT_EQ(session->RunAsync({{"X", x}}, late).status().code(), StatusCode::kInvalidArgument);

  RunOptions stranger;
  stranger.tenant = "nobody";
  EXPECT_EQ(session->RunAsync({{"X", x}}, stranger).status().code(), StatusCode::kNotFound);

  RunOptions kind;
  kind.device_kind = "gpu";
  EXPECT_EQ(session->RunAsync({{"X", x}}, kind).status().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(session->RunAsync({}).status().code(), StatusCode::kInvalidArgument);  // no input
}

TEST(SessionAsyncTest, BatchedOutputsAreIdenticalToUnbatchedRuns) {
  auto runtime = *Runtime::Create();
  SessionOptions plain;
  plain.device = "cpu";
  auto reference = *Session::LoadFromBytes(runtime, FloatModel(), plain);
  SessionOptions batched = plain;
  batched.batching.max_batch = 4;
  batched.batching.max_delay = std::chrono::seconds(10);  // only a full batch runs
  auto session = *Session::LoadFromBytes(runtime, FloatModel(), batched);
  const int64_t rows[] = {1, 3, 2, 1, 2};
  std::vector<Tensor> xs;
  std::vector<TaskHandle> tasks;
  for (int i = 0; i < 5; ++i) {
    xs.push_back(unihal::testing::RandomTensor(DType::kF32, {rows[i], 4}, 10 + i));
    tasks.push_back(*session->RunAsync({{"X", xs.back()}}));
  }
  for (int i = 0; i < 4; ++i) {
    std::vector<Tensor> got = *tasks[static_cast<size_t>(i)].Get();
    std::vector<Tensor> want = *reference->Run({{"X", xs[static_cast<size_t>(i)]}});
    ASSERT_EQ(got[0].shape(), want[0].shape());
    EXPECT_EQ(std::memcmp(got[0].data(), want[0].data(), want[0].nbytes()), 0) << i;
    EXPECT_EQ(tasks[static_cast<size_t>(i)].device_id(), "cpu:0");
  }
  // The fifth waits for company; cancelling it while it waits ends it at once.
  EXPECT_EQ(tasks[4].state(), TaskState::kQueued);
  EXPECT_TRUE(tasks[4].Cancel());
  EXPECT_EQ(tasks[4].state(), TaskState::kCancelled);

  SessionOptions static_batch;
  static_batch.device = "cpu";
  static_batch.batching.max_batch = 2;
  Result<std::unique_ptr<Session>> bad =
      Session::LoadFromBytes(runtime, Int8ReluModel(), static_batch);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("symbolic first dim"), std::string::npos);
}

TEST(SessionAsyncTest, TheSameModelLoadedTwiceSharesItsWeights) {
  auto runtime = *Runtime::Create();
  SessionOptions options;
  options.device = "cpu";
  const std::string bytes = FloatModel();
  {
    auto a = *Session::LoadFromBytes(runtime, bytes, options);
    auto b = *Session::LoadFromBytes(runtime, bytes, options);
    const auto& wa = a->model().graph.initializers;
    const auto& wb = b->model().graph.initializers;
    ASSERT_FALSE(wa.empty());
    for (const auto& [name, tensor] : wa) {
      EXPECT_EQ(tensor.buffer().get(), wb.at(name).buffer().get()) << name;
    }
    EXPECT_EQ(runtime->model_cache().live_models(), 1u);
    Tensor x = Tensor::FromVector<float>({1, 4}, {1, 2, 3, 4});
    EXPECT_EQ((*b->Run({{"X", x}}))[0].data_as<float>()[3], 9.0f);
  }
  EXPECT_EQ(runtime->model_cache().live_models(), 0u);  // unloaded with its last session
}

}  // namespace
}  // namespace unihal
