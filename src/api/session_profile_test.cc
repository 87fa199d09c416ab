// SessionOptions::profile: every node's runs and wall time (Session::NodeTimes).
#include <gtest/gtest.h>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"
#include "unihal/session.h"

namespace unihal {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::TensorProto;

// Y = Sigmoid(Tanh(X)), float [2, 8]: two nodes no pass removes or fuses.
std::string TwoNodeModel() {
  onnx::ModelProto proto = NewModel(17);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {2, 8});
  AddNode(g, "Tanh", {"X"}, {"T"}, "tanh");
  AddNode(g, "Sigmoid", {"T"}, {"Y"}, "sigmoid");
  AddOutput(g, "Y", TensorProto::FLOAT, {2, 8});
  return Serialize(proto);
}

std::map<std::string, Tensor> Inputs() {
  return {{"X", testing::RandomTensor(DType::kF32, {2, 8}, 1)}};
}

TEST(SessionProfileTest, CountsEveryRunOfEveryNode) {
  auto runtime = *Runtime::Create();
  SessionOptions options;
  options.device = "cpu";
  options.profile = true;
  auto session = *Session::LoadFromBytes(runtime, TwoNodeModel(), options);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(session->Run(Inputs()).ok());
  const std::vector<hal::NodeTime> times = session->NodeTimes();
  ASSERT_EQ(times.size(), 2u);
  EXPECT_EQ(times[0].node, "tanh");
  EXPECT_EQ(times[0].op_type, "Tanh");
  EXPECT_EQ(times[1].node, "sigmoid");
  for (const hal::NodeTime& time : times) {
    EXPECT_EQ(time.runs, 5) << time.node;
    EXPECT_EQ(time.device, "cpu:0");
    EXPECT_GE(time.total_ms, 0.0);
  }
  // A failed run (wrong shape) is rejected before any node runs.
  EXPECT_FALSE(session->Run({{"X", testing::RandomTensor(DType::kF32, {3, 8}, 2)}}).ok());
  EXPECT_EQ(session->NodeTimes()[0].runs, 5);
}

TEST(SessionProfileTest, NoNodeTimesWithoutProfile) {
  auto runtime = *Runtime::Create();
  SessionOptions options;
  options.device = "cpu";
  auto session = *Session::LoadFromBytes(runtime, TwoNodeModel(), options);
  ASSERT_TRUE(session->Run(Inputs()).ok());
  EXPECT_TRUE(session->NodeTimes().empty());
}

}  // namespace
}  // namespace unihal
