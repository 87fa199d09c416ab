#include "cli/bench_profile.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>

namespace unihal::cli {
namespace {

struct OpTypeTotal {
  std::string op_type;
  int nodes = 0;
  double ms = 0;
};

std::vector<OpTypeTotal> ByOpType(const BenchProfile& profile) {
  std::map<std::string, OpTypeTotal> totals;
  for (const hal::NodeTime& node : profile.nodes) {
    OpTypeTotal& total = totals[node.op_type];
    total.op_type = node.op_type;
    total.nodes += 1;
    total.ms += node.total_ms;
  }
  std::vector<OpTypeTotal> sorted;
  for (auto& [name, total] : totals) sorted.push_back(std::move(total));
  std::sort(sorted.begin(), sorted.end(),
            [](const OpTypeTotal& a, const OpTypeTotal& b) { return a.ms > b.ms; });
  return sorted;
}

std::vector<hal::NodeTime> SlowestNodes(const BenchProfile& profile) {
  std::vector<hal::NodeTime> sorted = profile.nodes;
  std::stable_sort(
      sorted.begin(), sorted.end(),
      [](const hal::NodeTime& a, const hal::NodeTime& b) { return a.total_ms > b.total_ms; });
  return sorted;
}

double NodeMsPerRun(const BenchProfile& profile) {
  double ms = 0;
  for (const hal::NodeTime& node : profile.nodes) ms += node.total_ms;
  return profile.iterations > 0 ? ms / profile.iterations : 0;
}

}  // namespace

BenchProfile DiffProfiles(const std::vector<hal::NodeTime>& before,
                          const std::vector<hal::NodeTime>& after, int iterations,
                          double mean_latency_ms) {
  BenchProfile profile{after, iterations, mean_latency_ms};
  // Same executables, same node order: subtract position by position.
  for (size_t i = 0; i < profile.nodes.size() && i < before.size(); ++i) {
    profile.nodes[i].runs -= before[i].runs;
    profile.nodes[i].total_ms -= before[i].total_ms;
  }
  return profile;
}

nlohmann::ordered_json ProfileJson(const BenchProfile& profile) {
  const double per_run = profile.iterations > 0 ? 1.0 / profile.iterations : 0;
  const double node_ms = NodeMsPerRun(profile);
  nlohmann::ordered_json op_types = nlohmann::ordered_json::array();
  for (const OpTypeTotal& total : ByOpType(profile)) {
    op_types.push_back({{"op_type", total.op_type},
                        {"nodes", total.nodes},
                        {"ms_per_run", total.ms * per_run},
                        {"share", node_ms > 0 ? total.ms * per_run / node_ms : 0}});
  }
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (const hal::NodeTime& node : profile.nodes) {
    nodes.push_back({{"node", node.node},
                     {"op_type", node.op_type},
                     {"device", node.device},
                     {"runs", node.runs},
                     {"ms_per_run", node.total_ms * per_run}});
  }
  return {{"node_ms_per_run", node_ms},
          {"outside_nodes_ms_per_run", std::max(0.0, profile.mean_latency_ms - node_ms)},
          {"op_types", std::move(op_types)},
          {"nodes", std::move(nodes)}};
}

void PrintProfile(const BenchProfile& profile, size_t top_nodes) {
  if (profile.nodes.empty()) {
    fmt::print("profile: this device does not time its nodes (simulated devices report none)\n");
    return;
  }
  const double per_run = profile.iterations > 0 ? 1.0 / profile.iterations : 0;
  const double node_ms = NodeMsPerRun(profile);
  fmt::print("\nprofile over {} runs: {:.3f} ms per run in nodes, {:.3f} ms outside them\n",
             profile.iterations, node_ms, std::max(0.0, profile.mean_latency_ms - node_ms));
  fmt::print("{:<28} {:>6} {:>12} {:>7}\n", "op type", "nodes", "ms per run", "share");
  for (const OpTypeTotal& total : ByOpType(profile)) {
    fmt::print("{:<28} {:>6} {:>12.3f} {:>6.1f}%\n", total.op_type, total.nodes, total.ms * per_run,
               node_ms > 0 ? 100.0 * total.ms * per_run / node_ms : 0);
  }
  const std::vector<hal::NodeTime> slowest = SlowestNodes(profile);
  fmt::print("\n{:<40} {:<24} {:>12}\n", "slowest nodes", "op type", "ms per run");
  for (size_t i = 0; i < slowest.size() && i < top_nodes; ++i) {
    fmt::print("{:<40} {:<24} {:>12.3f}\n", slowest[i].node, slowest[i].op_type,
               slowest[i].total_ms * per_run);
  }
}

}  // namespace unihal::cli
