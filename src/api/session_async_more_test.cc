// Session::RunAsync: the tenant's memory budget counts the model's working memory, not only
// its inputs; RunAsyncBatch matches RunAsync; a completion callback may drop the last
// reference to the Runtime (and the Session) without the scheduler joining its own thread.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "api/working_memory.h"
#include "onnx/onnx_loader.h"
#include "onnx/test_model_builder.h"
#include "sched/sched_test_util.h"
#include "unihal/session.h"

namespace unihal {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::TensorProto;

// float X [1, 1024] -> Relu -> A -> Relu -> B -> Relu -> Y: each value 4096 bytes.
std::string ReluChain() {
  onnx::ModelProto proto = NewModel(17);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {-1, 1024}, {"batch"});
  AddNode(g, "Relu", {"X"}, {"A"}, "r1");
  AddNode(g, "Relu", {"A"}, {"B"}, "r2");
  AddNode(g, "Relu", {"B"}, {"Y"}, "r3");
  AddOutput(g, "Y", TensorProto::FLOAT, {-1, 1024}, {"batch"});
  return Serialize(proto);
}

Tensor Input(int64_t batch) {
  std::vector<float> v(static_cast<size_t>(batch * 1024));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 13) - 6.0f;
  return Tensor::FromVector<float>({batch, 1024}, v);
}

TEST(WorkingMemoryTest, PeakOfLiveIntermediatesAndOutputs) {
  Result<ir::Model> model = onnx_import::LoadModelFromBytes(ReluChain(), ".");
  ASSERT_TRUE(model.ok()) << model.status().message();
  WorkingMemoryEstimate estimate(model->graph);
  // At r2: A (still read by r2) and B alive; at r3: B and Y. 2 values of batch x 4096 bytes.
  EXPECT_EQ(estimate.PeakBytes({{"X", Input(1)}}), 2 * 4096);
  EXPECT_EQ(estimate.PeakBytes({{"X", Input(3)}}), 2 * 3 * 4096);  // the symbol from X
}

TEST(SessionAsyncMoreTest, TenantMemoryBudgetCountsWorkingMemory) {
  RuntimeOptions options;
  TenantConfig tight;  // room for the input (4096 bytes), not for its intermediates
  tight.name = "tight";
  tight.memory_bytes = 3 * 4096 - 1;
  TenantConfig roomy;
  roomy.name = "roomy";
  roomy.memory_bytes = 3 * 4096;  // input + two live values
  options.tenants = {tight, roomy};
  auto runtime = *Runtime::Create(options);
  auto session = *Session::LoadFromBytes(runtime, ReluChain(), {});
  RunOptions run;
  run.tenant = "tight";
  Result<TaskHandle> rejected = session->RunAsync({{"X", Input(1)}}, run);
  EXPECT_EQ(rejected.status().code(), StatusCode::kResourceExhausted);
  run.tenant = "roomy";
  Result<TaskHandle> admitted = session->RunAsync({{"X", Input(1)}}, run);
  ASSERT_TRUE(admitted.ok()) << admitted.status().message();
  EXPECT_TRUE(admitted->Get().ok());
}

TEST(SessionAsyncMoreTest, RunAsyncBatchMatchesRunAsync) {
  auto runtime = *Runtime::Create();
  auto session = *Session::LoadFromBytes(runtime, ReluChain(), {});
  std::vector<std::map<std::string, Tensor>> requests;
  for (int64_t b = 1; b <= 4; ++b) requests.push_back({{"X", Input(b)}});
  std::vector<TaskHandle> handles = *session->RunAsyncBatch(requests);
  ASSERT_EQ(handles.size(), requests.size());
  for (size_t i = 0; i < handles.size(); ++i) {
    Result<std::vector<Tensor>> batched = handles[i].Get();
    ASSERT_TRUE(batched.ok()) << batched.status().message();
    std::vector<Tensor> single = *session->RunAsync(requests[i])->Get();
    ASSERT_EQ((*batched)[0].shape(), single[0].shape());
    for (int64_t e = 0; e < single[0].num_elements(); ++e) {
      ASSERT_EQ((*batched)[0].data_as<float>()[e], single[0].data_as<float>()[e]);
    }
  }
  // One bad request fails the call; nothing is submitted.
  requests.push_back({{"nope", Input(1)}});
  EXPECT_EQ(session->RunAsyncBatch(requests).status().code(), StatusCode::kInvalidArgument);
}

TEST(SessionAsyncMoreTest, CallbackMayDropTheLastRuntimeReference) {
  std::weak_ptr<Runtime> watch;
  std::promise<std::thread::id> called;
  sched::testing::Gate gate;
  {
    auto runtime = *Runtime::Create();
    watch = runtime;
    std::shared_ptr<Session> session = *Session::LoadFromBytes(runtime, ReluChain(), {});
    // Hold the cpu lane's only worker, so the run below cannot end before its callback is in.
    sched::Scheduler& scheduler = runtime->scheduler();
    int cpu_lane = 0;
    while (scheduler.lane_name(cpu_lane) != runtime->cpu()->info().id) ++cpu_lane;
    sched::SubmitRequest hold;
    hold.runner = sched::testing::Runner([&gate](int, sched::TaskRecord&) {
      gate.Arrive();
      gate.WaitOpen();
      return Result<std::vector<Tensor>>(std::vector<Tensor>{});
    });
    hold.candidates = {cpu_lane};
    ASSERT_TRUE(scheduler.Submit(std::move(hold)).ok());
    gate.WaitArrived();
    TaskHandle task = *session->RunAsync({{"X", Input(1)}});
    // The callback holds the session and the runtime; nothing else will once this scope ends.
    task.OnComplete(
        [session, runtime, &called](TaskState, const Status&, const std::vector<Tensor>&) mutable {
          session.reset();
          runtime.reset();  // the last reference, on the worker thread
          called.set_value(std::this_thread::get_id());
        });
  }
  gate.Open();
  EXPECT_NE(called.get_future().get(), std::this_thread::get_id());  // ran on the worker
  // The Runtime is destroyed off the worker (a self-join would have ended the process).
  while (!watch.expired()) std::this_thread::yield();
}

}  // namespace
}  // namespace unihal
