#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "unihal/monitor.h"

namespace unihal {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

RunRecord MakeRun(std::string_view device, std::string_view model, std::string_view tenant,
                  Priority priority, nanoseconds latency,
                  TaskState outcome = TaskState::kSucceeded) {
  RunRecord r;
  r.device = device;
  r.model = model;
  r.tenant = tenant;
  r.priority = priority;
  r.latency = latency;
  r.outcome = outcome;
  return r;
}

// "m<i>" (built by append: GCC 12 warns falsely on "m" + std::to_string(i)).
std::string ModelName(int i) {
  std::string name = "m";
  name += std::to_string(i);
  return name;
}

const Series* FindSeries(const PerfSnapshot& s, std::string_view device, std::string_view model,
                         std::string_view tenant, Priority priority) {
  for (const Series& series : s.series) {
    if (series.key.device == device && series.key.model == model && series.key.tenant == tenant &&
        series.key.priority == priority) {
      return &series;
    }
  }
  return nullptr;
}

TEST(PerfMonitorTest, ConcurrentRecordsGiveExactCounts) {
  PerfMonitor monitor;
  constexpr int kThreads = 4, kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&monitor, t] {
      // Each thread writes its own series and a shared one, so both paths race.
      const std::string own_model = ModelName(t);
      for (int i = 0; i < kPerThread; ++i) {
        monitor.Record(
            MakeRun("cpu:0", own_model, "", Priority::kNormal, microseconds(1 + i % 50)));
        RunRecord shared = MakeRun("cpu:0", "shared", "t", Priority::kHigh, microseconds(10),
                                   i % 4 == 0 ? TaskState::kFailed : TaskState::kSucceeded);
        shared.fell_back = i % 5 == 0;
        shared.retried = i % 10 == 0;
        monitor.Record(shared);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const PerfSnapshot s = monitor.Snapshot();
  ASSERT_EQ(s.series.size(), static_cast<size_t>(kThreads + 1));
  EXPECT_EQ(s.total.counts.runs, 2 * kThreads * kPerThread);
  EXPECT_EQ(s.total.latency.count, 2 * kThreads * kPerThread);
  const Series* shared = FindSeries(s, "cpu:0", "shared", "t", Priority::kHigh);
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->stats.counts.runs, kThreads * kPerThread);
  EXPECT_EQ(shared->stats.counts.failed, kThreads * kPerThread / 4);
  EXPECT_EQ(shared->stats.counts.succeeded, kThreads * kPerThread * 3 / 4);
  EXPECT_EQ(shared->stats.counts.fell_back, kThreads * kPerThread / 5);
  EXPECT_EQ(shared->stats.counts.retried, kThreads * kPerThread / 10);
  EXPECT_NEAR(shared->stats.latency.sum_s, kThreads * kPerThread * 10e-6, 1e-9);
  for (int t = 0; t < kThreads; ++t) {
    const Series* own = FindSeries(s, "cpu:0", ModelName(t), "default",
                                   Priority::kNormal);  // empty tenant is "default"
    ASSERT_NE(own, nullptr) << t;
    EXPECT_EQ(own->stats.counts.runs, kPerThread);
  }
  // Every run finished within the last seconds: the recent window saw them all.
  EXPECT_NEAR(s.recent_runs_per_s * s.recent_window_s, 2.0 * kThreads * kPerThread, 1e-6);
}

TEST(PerfMonitorTest, HandlesRecordIntoTheSameSeriesAsKeys) {
  PerfMonitor monitor;
  const PerfMonitor::SeriesHandle handle =
      monitor.FindSeries("cpu:0", "m", "", Priority::kLow);  // "" is the default tenant
  ASSERT_TRUE(handle.valid());
  RunRecord r = MakeRun("ignored", "ignored", "ignored", Priority::kHigh, microseconds(5));
  monitor.Record(handle, r);
  monitor.Record(handle, r);
  monitor.Record(MakeRun("cpu:0", "m", "default", Priority::kLow, microseconds(5)));
  monitor.Record(PerfMonitor::SeriesHandle(), r);  // an empty handle records nothing
  const PerfSnapshot s = monitor.Snapshot();
  ASSERT_EQ(s.series.size(), 1u);
  EXPECT_EQ(s.series[0].key.tenant, "default");
  EXPECT_EQ(s.series[0].stats.counts.runs, 3);
}

TEST(PerfMonitorTest, RunsThatFinishedLongAgoAreNotRecent) {
  PerfMonitor monitor;
  RunRecord old = MakeRun("cpu:0", "m", "", Priority::kNormal, microseconds(5));
  old.finished = std::chrono::steady_clock::now() - std::chrono::seconds(60);
  monitor.Record(old);
  RunRecord now = old;
  now.finished = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) monitor.Record(now);
  const PerfSnapshot s = monitor.Snapshot();
  EXPECT_EQ(s.total.counts.runs, 4);
  EXPECT_NEAR(s.recent_runs_per_s * s.recent_window_s, 3.0, 1e-9);
  EXPECT_LE(s.recent_window_s, PerfMonitor::kRecentWindowSeconds + 1.0);
}

TEST(PerfMonitorTest, AggregatesPerDimensionAndOutcome) {
  PerfMonitor monitor;
  monitor.Record(MakeRun("cpu:0", "a", "x", Priority::kCritical, microseconds(100)));
  monitor.Record(
      MakeRun("cpu:0", "b", "y", Priority::kLow, microseconds(200), TaskState::kTimedOut));
  monitor.Record(
      MakeRun("sim-npu:0", "a", "x", Priority::kLow, microseconds(300), TaskState::kCancelled));
  monitor.Record(MakeRun("sim-npu:0", "a", "x", Priority::kLow, microseconds(400),
                         TaskState::kRunning));  // not final: counted as failed
  const PerfSnapshot s = monitor.Snapshot();
  EXPECT_EQ(s.series.size(), 3u);
  EXPECT_EQ(s.total.counts.runs, 4);
  EXPECT_EQ(s.total.counts.timed_out, 1);
  EXPECT_EQ(s.total.counts.cancelled, 1);
  EXPECT_EQ(s.total.counts.failed, 1);
  ASSERT_EQ(s.by_device.size(), 2u);
  EXPECT_EQ(s.by_device[0].name, "cpu:0");
  EXPECT_EQ(s.by_device[0].stats.counts.runs, 2);
  EXPECT_EQ(s.by_device[1].stats.counts.runs, 2);
  ASSERT_EQ(s.by_priority.size(), 2u);  // in priority order, not by name
  EXPECT_EQ(s.by_priority[0].name, "critical");
  EXPECT_EQ(s.by_priority[1].name, "low");
  EXPECT_EQ(s.by_priority[1].stats.counts.runs, 3);
  ASSERT_EQ(s.by_model.size(), 2u);
  EXPECT_EQ(s.by_model[0].stats.counts.runs, 3);
  EXPECT_NEAR(*s.by_model[0].stats.p50_s, 300e-6, 300e-6 * kLatencyRelativeResolution);
  EXPECT_NEAR(*s.total.mean_s, 250e-6, 1e-12);
}

TEST(PerfMonitorTest, KeysPastTheLimitGoToOther) {
  PerfMonitor monitor;
  for (int i = 0; i < PerfMonitor::kMaxSeries + 10; ++i) {
    monitor.Record(MakeRun("cpu:0", ModelName(i), "", Priority::kNormal, microseconds(1)));
  }
  const PerfSnapshot s = monitor.Snapshot();
  EXPECT_TRUE(s.series_limit_reached);
  EXPECT_EQ(s.series.size(), static_cast<size_t>(PerfMonitor::kMaxSeries + 1));
  EXPECT_EQ(s.total.counts.runs, PerfMonitor::kMaxSeries + 10);
  const Series* other = FindSeries(s, "(other)", "(other)", "(other)", Priority::kNormal);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->stats.counts.runs, 10);
  monitor.Reset();
  EXPECT_TRUE(monitor.Snapshot().series.empty());
}

TEST(PerfMonitorTest, JsonHasCountsAndQuantiles) {
  PerfMonitor monitor;
  EXPECT_TRUE(
      nlohmann::json::parse(PerfSnapshotToJson(monitor.Snapshot()))["total"]["latency_ms"]["p50"]
          .is_null());  // nothing recorded: unknown, not 0
  for (int i = 1; i <= 100; ++i) {
    monitor.Record(MakeRun("cpu:0", "m", "", Priority::kHigh, microseconds(i * 10)));
  }
  const nlohmann::json j = nlohmann::json::parse(PerfSnapshotToJson(monitor.Snapshot()));
  EXPECT_EQ(j["total"]["runs"], 100);
  EXPECT_EQ(j["by_priority"]["high"]["runs"], 100);
  EXPECT_EQ(j["by_tenant"]["default"]["succeeded"], 100);
  EXPECT_DOUBLE_EQ(j["latency_bucket_resolution"].get<double>(), kLatencyRelativeResolution);
  ASSERT_EQ(j["series"].size(), 1u);
  EXPECT_EQ(j["series"][0]["priority"], "high");
  // Exact p90 of 10, 20, ..., 1000 us is 900 us.
  EXPECT_NEAR(j["series"][0]["latency_ms"]["p90"].get<double>(), 0.9,
              0.9 * kLatencyRelativeResolution);
  EXPECT_GT(j["throughput"]["lifetime_runs_per_s"].get<double>(), 0);
}

// A checker of the Prometheus text exposition format 0.0.4: line syntax, HELP/TYPE before a
// family's samples, families contiguous, histogram buckets cumulative with +Inf equal to
// _count. Returns the problems found (empty: valid) and the samples by "name{labels}".
struct PromCheck {
  std::vector<std::string> problems;
  std::map<std::string, double> samples;
};

std::map<std::string, std::string> ParseLabels(const std::string& text, std::string* problem) {
  static const std::regex kLabel(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)")re");
  std::map<std::string, std::string> labels;
  size_t pos = 0;
  while (pos < text.size()) {
    std::smatch m;
    const std::string rest = text.substr(pos);
    if (!std::regex_search(rest, m, kLabel, std::regex_constants::match_continuous)) {
      *problem = "bad label syntax at '" + rest + "'";
      return labels;
    }
    if (!labels.emplace(m[1], m[2]).second) *problem = "duplicate label " + m[1].str();
    pos += m.length(0);
    if (pos < text.size() && text[pos++] != ',') *problem = "labels not separated by ','";
  }
  return labels;
}

PromCheck CheckPrometheus(const std::string& text) {
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)))");
  static const std::regex kComment(R"(# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+))");
  PromCheck check;
  std::map<std::string, std::string> types;
  std::vector<std::string> family_order;
  std::map<std::string, double> last_bucket;  // histogram labels without le -> last count
  std::map<std::string, double> last_le;
  std::istringstream in(text);
  std::string line;
  auto problem = [&](const std::string& p) { check.problems.push_back(p + ": " + line); };
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.rfind("#", 0) == 0) {
      if (!std::regex_match(line, m, kComment)) problem("bad comment");
      if (m[1] == "TYPE") {
        if (types.count(m[2])) problem("second TYPE for a family");
        types[m[2]] = m[3];
        family_order.push_back(m[2]);
      }
      continue;
    }
    if (!std::regex_match(line, m, kSample)) {
      problem("bad sample line");
      continue;
    }
    std::string name = m[1], family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0 &&
          types.count(name.substr(0, name.size() - s.size()))) {
        family = name.substr(0, name.size() - s.size());
      }
    }
    if (family_order.empty() || family_order.back() != family) problem("sample outside its family");
    std::string label_problem;
    std::map<std::string, std::string> labels = ParseLabels(m[3], &label_problem);
    if (!label_problem.empty()) problem(label_problem);
    const double value = m[4] == "+Inf" || m[4] == "Inf" ? INFINITY : std::stod(m[4]);
    check.samples[name + "{" + m[3].str() + "}"] = value;
    if (types[family] != "histogram") continue;
    std::string le = labels["le"];
    labels.erase("le");
    std::string key;
    for (const auto& [k, v] : labels) key += k + "=" + v + ",";
    if (name == family + "_bucket") {
      const double bound = le == "+Inf" ? INFINITY : std::stod(le);
      if (last_le.count(key) && bound <= last_le[key]) problem("le not increasing");
      if (last_bucket.count(key) && value < last_bucket[key]) problem("buckets not cumulative");
      last_le[key] = bound;
      last_bucket[key] = value;
    } else if (name == family + "_count") {
      if (last_le[key] != INFINITY) problem("no +Inf bucket before _count");
      if (last_bucket[key] != value) problem("+Inf bucket differs from _count");
    }
  }
  return check;
}

TEST(PerfMonitorTest, PrometheusTextIsValidAndExact) {
  PerfMonitor monitor;
  for (int i = 0; i < 10; ++i) {
    monitor.Record(MakeRun("cpu:0", "net", "a\"b\\c", Priority::kBackground, microseconds(3),
                           i < 2 ? TaskState::kFailed : TaskState::kSucceeded));
  }
  monitor.Record(
      MakeRun("sim-npu:0", "net", "", Priority::kCritical, std::chrono::milliseconds(2)));
  const std::string text = PerfSnapshotToPrometheus(monitor.Snapshot());
  const PromCheck check = CheckPrometheus(text);
  EXPECT_TRUE(check.problems.empty()) << ::testing::PrintToString(check.problems) << "\n" << text;
  const std::string a = R"(device="cpu:0",model="net",tenant="a\"b\\c",priority="background")";
  EXPECT_EQ(check.samples.at("unihal_runs_total{" + a + R"(,outcome="failed"})"), 2);
  EXPECT_EQ(check.samples.at("unihal_runs_total{" + a + R"(,outcome="succeeded"})"), 8);
  EXPECT_EQ(check.samples.at("unihal_run_latency_seconds_count{" + a + "}"), 10);
  // 3 us lies between 2^11 and 2^12 ns: below the first bound nothing, at the second all.
  EXPECT_EQ(check.samples.at("unihal_run_latency_seconds_bucket{" + a + R"(,le="2.048e-06"})"), 0);
  EXPECT_EQ(check.samples.at("unihal_run_latency_seconds_bucket{" + a + R"(,le="4.096e-06"})"), 10);
  const std::string b = R"(device="sim-npu:0",model="net",tenant="default",priority="critical")";
  EXPECT_NEAR(check.samples.at("unihal_run_latency_seconds_sum{" + b + "}"), 2e-3, 1e-12);
  EXPECT_EQ(check.samples.count(R"(unihal_runs_per_second{window="recent"})"), 1u);
  // The checker itself catches what it is there to catch.
  EXPECT_FALSE(CheckPrometheus("x_bucket{le=\"1\"} 2\n").problems.empty());
  EXPECT_FALSE(CheckPrometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                               "h_count 1\n")
                   .problems.empty());
  EXPECT_FALSE(CheckPrometheus("# TYPE c counter\nc{a=\"unterminated} 1\n").problems.empty());
}

TEST(PerfMonitorTest, HealthGaugesAreValidAndLeaveUnknownOut) {
  DeviceHealthStatus npu;
  npu.device_id = "sim-npu:0";
  npu.is_simulated = true;
  npu.state = hal::HealthState::kDegraded;
  HealthSample sample;
  sample.health.temperature_c = 88.5;
  sample.health.clock_mhz = 500;
  sample.health.throttling = true;
  npu.latest = sample;
  DeviceHealthStatus cpu;
  cpu.device_id = "cpu:0";
  cpu.state = hal::HealthState::kHealthy;
  cpu.latest = HealthSample{};  // reports nothing
  DeviceHealthStatus never;     // not sampled yet
  never.device_id = "x:0";
  const std::string text = HealthToPrometheus({npu, cpu, never});
  const PromCheck check = CheckPrometheus(text);
  EXPECT_TRUE(check.problems.empty()) << ::testing::PrintToString(check.problems) << "\n" << text;
  const std::string n = R"(device="sim-npu:0",simulated="true")";
  EXPECT_EQ(check.samples.at("unihal_device_temperature_celsius{" + n + "}"), 88.5);
  EXPECT_EQ(check.samples.at("unihal_device_clock_hertz{" + n + "}"), 500e6);
  EXPECT_EQ(check.samples.at("unihal_device_throttling{" + n + "}"), 1);
  EXPECT_EQ(check.samples.at("unihal_device_state{" + n + R"(,state="degraded"})"), 1);
  EXPECT_EQ(check.samples.at("unihal_device_state{" + n + R"(,state="healthy"})"), 0);
  EXPECT_EQ(
      check.samples.at(R"(unihal_device_state{device="cpu:0",simulated="false",state="healthy"})"),
      1);
  EXPECT_EQ(text.find("unihal_device_temperature_celsius{device=\"cpu:0\""), std::string::npos);
  EXPECT_EQ(text.find("unihal_device_power_watts{"), std::string::npos);  // nobody reported it
}

}  // namespace
}  // namespace unihal
