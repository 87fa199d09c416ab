// Session::Run records every run into its Runtime's performance monitor (R5.8).
#include <gtest/gtest.h>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"
#include "unihal/session.h"

namespace unihal {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder

TEST(SessionMonitorTest, RunsAreRecordedWithTenantPriorityAndOutcome) {
  RuntimeOptions runtime_options;
  TenantConfig tenant;
  tenant.name = "team-a";
  runtime_options.tenants.push_back(tenant);
  std::shared_ptr<Runtime> runtime = *Runtime::Create(runtime_options);
  onnx::ModelProto proto = NewModel(13);
  auto* g = proto.mutable_graph();
  g->set_name("relu_net");
  AddInput(g, "X", onnx::TensorProto::FLOAT, {2, 3});
  AddNode(g, "Relu", {"X"}, {"Y"}, "relu");
  AddOutput(g, "Y", onnx::TensorProto::FLOAT, {2, 3});
  SessionOptions options;
  options.device = "cpu";
  Result<std::unique_ptr<Session>> session =
      Session::LoadFromBytes(runtime, Serialize(proto), options);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  const std::map<std::string, Tensor> inputs = {
      {"X", unihal::testing::RandomTensor(DType::kF32, {2, 3}, 1)}};
  RunOptions run_options;
  run_options.tenant = "team-a";
  run_options.priority = Priority::kHigh;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*session)->Run(inputs, run_options).ok());
  EXPECT_FALSE((*session)->Run({}, {}).ok());  // missing input: a failed run

  const PerfSnapshot s = runtime->perf_monitor().Snapshot();
  ASSERT_EQ(s.series.size(), 2u);
  EXPECT_EQ(s.total.counts.runs, 4);
  EXPECT_EQ(s.total.counts.failed, 1);
  for (const Series& series : s.series) {
    EXPECT_EQ(series.key.device, "cpu:0");
    EXPECT_EQ(series.key.model, "relu_net");
    if (series.key.tenant == "team-a") {
      EXPECT_EQ(series.key.priority, Priority::kHigh);
      EXPECT_EQ(series.stats.counts.succeeded, 3);
      EXPECT_GT(*series.stats.p50_s, 0);
    } else {
      EXPECT_EQ(series.key.tenant, "default");
      EXPECT_EQ(series.key.priority, Priority::kNormal);
      EXPECT_EQ(series.stats.counts.failed, 1);
    }
  }
}

}  // namespace
}  // namespace unihal
