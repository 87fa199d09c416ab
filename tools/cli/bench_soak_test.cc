// `unihal bench --requests N --inject-faults RATE`: the fault soak loses and duplicates nothing.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_test_util.h"
#include "onnx/test_model_builder.h"

namespace unihal::cli {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder

std::string Capture(const std::string& args, int* exit_code) {
  return unihal::cli::testing::RunCli(args, exit_code, unihal::cli::testing::CliStderr::kDiscarded);
}

// Y = Relu(X), int8 [1, 64]: both sim-npu and the CPU can run it.
std::string WriteInt8Model() {
  onnx::ModelProto proto = NewModel(17);
  auto* g = proto.mutable_graph();
  AddInput(g, "X", onnx::TensorProto::INT8, {1, 64});
  AddNode(g, "Relu", {"X"}, {"Y"}, "relu");
  AddOutput(g, "Y", onnx::TensorProto::INT8, {1, 64});
  const std::string path =
      (std::filesystem::temp_directory_path() / "unihal_soak_int8_relu.onnx").string();
  std::ofstream(path, std::ios::binary) << Serialize(proto);
  return path;
}

TEST(BenchSoakTest, FaultsAreRetriedAndNoTaskIsLostOrDuplicated) {
  const std::string model = WriteInt8Model();
  int code = 0;
  std::string out = Capture("bench " + model +
                                " --sim-npu edge-34 --devices sim-npu,cpu --requests 3000 "
                                "--inject-faults 0.05 --json",
                            &code);
  ASSERT_EQ(code, 0) << out;
  nlohmann::json report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_EQ(report["submitted"], 3000);
  EXPECT_EQ(report["succeeded"], 3000) << out;
  EXPECT_EQ(report["failed"], 0);
  EXPECT_EQ(report["lost"], 0);
  EXPECT_EQ(report["duplicated"], 0);
  EXPECT_GT(report["retried"].get<int>(), 0);  // 5% of runs failed and were moved
  EXPECT_GT(report["finished_on"]["cpu:0"].get<int>(), 0);
}

}  // namespace
}  // namespace unihal::cli
