// `unihal plan` and `--devices` on run, through the real binary.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_test_util.h"
#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"

namespace unihal::cli {
namespace {

namespace fs = std::filesystem;
namespace mb = onnx_import::testing;

std::string Capture(const std::string& args, int* exit_code, bool with_stderr = true) {
  return unihal::cli::testing::RunCli(args, exit_code,
                                      with_stderr ? unihal::cli::testing::CliStderr::kCaptured
                                                  : unihal::cli::testing::CliStderr::kDiscarded);
}

// fp16 Conv -> Relu -> Neg -> Relu: edge-34 lacks Neg.
class PlanCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("unihal_plan_cli_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    model_ = (dir_ / "split.onnx").string();
    onnx::ModelProto model = mb::NewModel(17);
    onnx::GraphProto* g = model.mutable_graph();
    constexpr int32_t kF16 = onnx::TensorProto::FLOAT16;
    mb::AddInput(g, "x", kF16, {1, 16, 16, 16});
    mb::AddInitializer(g, "w", unihal::testing::RandomTensor(DType::kF16, {32, 16, 3, 3}, 1));
    mb::SetIntsAttr(mb::AddNode(g, "Conv", {"x", "w"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
    mb::AddNode(g, "Relu", {"c"}, {"r"}, "relu");
    mb::AddNode(g, "Neg", {"r"}, {"y"}, "neg");
    mb::AddOutput(g, "y", kF16, {1, 32, 16, 16});
    std::ofstream(model_, std::ios::binary) << mb::Serialize(model);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  std::string model_;
};

TEST_F(PlanCliTest, JsonReportHasEveryNodeSegmentAndCopy) {
  int code = 0;
  std::string out =
      Capture("plan " + model_ + " --devices sim-npu,cpu --sim-npu edge-34 --json", &code, false);
  ASSERT_EQ(code, 0) << out;
  nlohmann::json report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_EQ(report["device"], "sim-npu:0,cpu:0");
  ASSERT_EQ(report["nodes"].size(), 3u) << out;
  EXPECT_EQ(report["nodes"][0]["device"], "sim-npu:0");
  EXPECT_EQ(report["nodes"][2]["node"], "neg");
  EXPECT_EQ(report["nodes"][2]["device"], "cpu:0");
  EXPECT_EQ(report["nodes"][2]["reason"], "sim-npu: op Neg not in the edge-34 op set → cpu:0");
  EXPECT_EQ(report["segments"].size(), 2u);
  ASSERT_EQ(report["copies"].size(), 1u);
  EXPECT_EQ(report["copies"][0]["value"], "r");
  EXPECT_TRUE(report["estimate"]["estimated_s"].is_number());
  EXPECT_TRUE(report["estimate"]["assumed"].get<bool>());  // the cpu declares no rates
}

TEST_F(PlanCliTest, TextReportAndForbid) {
  int code = 0;
  std::string text = Capture("plan " + model_ + " --devices sim-npu,cpu --sim-npu edge-34", &code);
  ASSERT_EQ(code, 0) << text;
  for (const char* word : {"conv", "relu", "neg", "segments:", "copies:", "estimated latency"}) {
    EXPECT_NE(text.find(word), std::string::npos) << word << "\n" << text;
  }
  std::string forbid = Capture(
      "plan " + model_ + " --devices sim-npu,cpu --sim-npu edge-34 --fallback forbid", &code);
  EXPECT_EQ(code, 5) << forbid;  // kUnimplemented
  EXPECT_NE(forbid.find("node 'neg' (Neg)"), std::string::npos) << forbid;
  std::string bad = Capture("plan " + model_ + " --fallback sometimes", &code);
  EXPECT_EQ(code, 2) << bad;  // usage
}

TEST_F(PlanCliTest, RunAcceptsDevices) {
  int code = 0;
  const std::string out_dir = (dir_ / "out").string();
  std::string out = Capture("run " + model_ + " --devices sim-npu,cpu --sim-npu edge-34 " +
                                "--random-inputs --json --output-dir " + out_dir,
                            &code, false);
  ASSERT_EQ(code, 0) << out;
  nlohmann::json report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_EQ(report["device"], "sim-npu:0,cpu:0");
  EXPECT_TRUE(fs::exists(dir_ / "out" / "y.npy"));
}

TEST_F(PlanCliTest, SimNpuBeforeTheModelPathDoesNotSwallowIt) {
  int code = 0;
  std::string out = Capture("run --sim-npu edge-34 " + model_ + " --devices sim-npu,cpu " +
                                "--random-inputs --json --output-dir " + (dir_ / "o2").string(),
                            &code, false);
  EXPECT_EQ(code, 0) << out;
}

}  // namespace
}  // namespace unihal::cli
