// `unihal bench --profile`: where a run's time goes, per op type and per node, from the
// session's node timings (SessionOptions::profile) over the timed iterations only.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "unihal/hal/executable.h"

namespace unihal::cli {

struct BenchProfile {
  // Node times over the timed runs: `after` minus `before` (taken after the warm-up).
  std::vector<hal::NodeTime> nodes;
  int iterations = 0;
  double mean_latency_ms = 0;
};

BenchProfile DiffProfiles(const std::vector<hal::NodeTime>& before,
                          const std::vector<hal::NodeTime>& after, int iterations,
                          double mean_latency_ms);

// {"node_ms_per_run", "outside_nodes_ms_per_run", "op_types": [...], "nodes": [...]}.
nlohmann::ordered_json ProfileJson(const BenchProfile& profile);
// The same as tables: op types by time, then the slowest nodes.
void PrintProfile(const BenchProfile& profile, size_t top_nodes = 15);

}  // namespace unihal::cli
