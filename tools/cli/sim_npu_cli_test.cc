// `--sim-npu` on the CLI: the simulated NPU shows up only when asked, marked as simulated.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/cli_test_util.h"

namespace unihal::cli {
namespace {

std::string Capture(const std::string& args, int* exit_code) {
  return unihal::cli::testing::RunCli(args, exit_code);
}

TEST(SimNpuCliTest, DevicesListsTheSimulatedNpuOnlyWhenAsked) {
  int code = 0;
  std::string plain = Capture("devices", &code);
  EXPECT_EQ(code, 0);
  EXPECT_NE(plain.find("unavailable: sim-npu: not enabled"), std::string::npos) << plain;

  std::string table = Capture("devices --sim-npu edge-34", &code);
  EXPECT_EQ(code, 0);
  EXPECT_NE(table.find("sim-npu edge-34 (simulated)"), std::string::npos) << table;

  nlohmann::json report =
      nlohmann::json::parse(Capture("devices --json --sim-npu tiny-4", &code), nullptr, false);
  ASSERT_EQ(code, 0);
  ASSERT_FALSE(report.is_discarded());
  bool found = false;
  for (const auto& device : report["devices"]) {
    if (device["id"] != "sim-npu:0") continue;
    found = true;
    EXPECT_EQ(device["is_simulated"], true);
    EXPECT_EQ(device["kind"], "npu");
    EXPECT_EQ(device["health"]["is_simulated"], true);
    EXPECT_TRUE(device["health"]["temperature_c"].is_number());
  }
  EXPECT_TRUE(found) << report.dump(2);
}

TEST(SimNpuCliTest, BadFaultSpecIsAnInvalidArgument) {
  int code = 0;
  std::string out = Capture("devices --sim-npu edge-34 --sim-npu-faults bogus=1", &code);
  EXPECT_EQ(code, 3) << out;
  EXPECT_NE(out.find("unknown key 'bogus'"), std::string::npos) << out;
}

}  // namespace
}  // namespace unihal::cli
