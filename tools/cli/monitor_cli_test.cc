// `unihal health` and `unihal stats`: the real binary, its JSON and Prometheus output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli_test_util.h"
#include "onnx/test_model_builder.h"

namespace unihal::cli {
namespace {

namespace fs = std::filesystem;
namespace mb = onnx_import::testing;

// stdout only (stderr goes to the test log).
std::string Capture(const std::string& args, int* exit_code) {
  return unihal::cli::testing::RunCli(args, exit_code, unihal::cli::testing::CliStderr::kShown);
}

// y = Relu(x), float32[2, 3], written to a temporary "relu_net.onnx".
std::string WriteReluModel() {
  const fs::path dir =
      fs::temp_directory_path() / ("unihal_monitor_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  onnx::ModelProto model = mb::NewModel();
  onnx::GraphProto* graph = model.mutable_graph();
  mb::AddInput(graph, "x", onnx::TensorProto::FLOAT, {2, 3});
  mb::AddNode(graph, "Relu", {"x"}, {"y"}, "relu");
  mb::AddOutput(graph, "y", onnx::TensorProto::FLOAT, {2, 3});
  const std::string path = (dir / "relu_net.onnx").string();
  std::ofstream(path, std::ios::binary) << mb::Serialize(model);
  return path;
}

TEST(MonitorCliTest, HealthJsonGivesOneObjectPerSample) {
  int code = 0;
  const std::string out =
      Capture("health --json --count 2 --interval 0.05 --sim-npu edge-34", &code);
  ASSERT_EQ(code, 0) << out;
  std::istringstream lines(out);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    const nlohmann::json sample = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(sample.is_discarded()) << line;
    EXPECT_EQ(sample["sample"], ++samples);
    bool cpu = false, npu = false;
    for (const auto& device : sample["devices"]) {
      EXPECT_TRUE(device["state"].is_string());
      const nlohmann::json& health = device["health"];
      for (const char* key : {"temperature_c", "power_w", "utilization", "clock_mhz"}) {
        EXPECT_TRUE(health.contains(key) && (health[key].is_null() || health[key].is_number()))
            << key;
      }
      if (device["id"] == "cpu:0") {
        cpu = true;
        EXPECT_EQ(device["is_simulated"], false);
      }
      if (device["id"] == "sim-npu:0") {
        npu = true;
        EXPECT_EQ(device["is_simulated"], true);
        EXPECT_EQ(health["is_simulated"], true);
        EXPECT_TRUE(health["temperature_c"].is_number());  // modelled, and flagged so
        EXPECT_EQ(device["state"], "healthy");
      }
    }
    EXPECT_TRUE(cpu && npu) << line;
  }
  EXPECT_EQ(samples, 2);
}

TEST(MonitorCliTest, HealthPrometheusHasTheSimulatedNpu) {
  int code = 0;
  const std::string text = Capture("health --prometheus --interval 0.05 --sim-npu tiny-4", &code);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("# TYPE unihal_device_state gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("unihal_device_temperature_celsius{device=\"sim-npu:0\",simulated=\"true\"}"),
            std::string::npos)
      << text;
}

TEST(MonitorCliTest, StatsJsonCountsEveryRequest) {
  const std::string model = WriteReluModel();
  int code = 0;
  const std::string out = Capture(
      "stats " + model + " --json --requests 20 --threads 2 --tenant t1 --priority low", &code);
  ASSERT_EQ(code, 0) << out;
  const nlohmann::json report = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << out;
  EXPECT_EQ(report["total"]["runs"], 20);
  EXPECT_EQ(report["total"]["succeeded"], 20);
  EXPECT_EQ(report["by_tenant"]["t1"]["runs"], 20);
  EXPECT_EQ(report["by_priority"]["low"]["runs"], 20);
  ASSERT_EQ(report["series"].size(), 1u);
  const nlohmann::json& series = report["series"][0];
  EXPECT_EQ(series["model"], "relu_net");
  EXPECT_EQ(series["device"], "cpu:0");
  EXPECT_TRUE(series["latency_ms"]["p99"].is_number());
  EXPECT_GE(series["latency_ms"]["p99"].get<double>(), series["latency_ms"]["p50"].get<double>());
  EXPECT_GT(report["throughput"]["lifetime_runs_per_s"].get<double>(), 0);
  fs::remove_all(fs::path(model).parent_path());
}

TEST(MonitorCliTest, StatsPrometheusAndErrors) {
  const std::string model = WriteReluModel();
  int code = 0;
  const std::string text = Capture("stats " + model + " --prometheus -n 7", &code);
  ASSERT_EQ(code, 0) << text;
  EXPECT_NE(text.find("# TYPE unihal_run_latency_seconds histogram\n"), std::string::npos);
  EXPECT_NE(text.find("unihal_runs_total{device=\"cpu:0\",model=\"relu_net\",tenant=\"default\","
                      "priority=\"normal\",outcome=\"succeeded\"} 7\n"),
            std::string::npos)
      << text;
  (void)Capture("stats " + model + " --priority urgent 2>/dev/null", &code);
  EXPECT_EQ(code, 3);  // invalid argument
  (void)Capture("stats " + model + " --json --prometheus 2>/dev/null", &code);
  EXPECT_EQ(code, 2);  // usage
  for (const char* command : {"health --help", "stats --help"}) {
    const std::string help = Capture(command, &code);
    EXPECT_EQ(code, 0) << command;
    EXPECT_NE(help.find("--json"), std::string::npos) << help;
  }
  fs::remove_all(fs::path(model).parent_path());
}

}  // namespace
}  // namespace unihal::cli
