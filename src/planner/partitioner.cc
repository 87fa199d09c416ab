#include "planner/partitioner.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <utility>

#include "exec/graph_executor.h"

namespace unihal::planner {
namespace {

constexpr size_t kMaxListed = 10;

// A run of consecutive nodes (graph order) on one device: a segment to be.
struct NodeRun {
  size_t device = 0;
  size_t begin = 0;
  size_t end = 0;  // one past the last node
};

std::vector<NodeRun> RunsOf(const std::vector<size_t>& assign) {
  std::vector<NodeRun> runs;
  for (size_t n = 0; n < assign.size(); ++n) {
    if (runs.empty() || runs.back().device != assign[n]) runs.push_back({assign[n], n, n});
    runs.back().end = n + 1;
  }
  return runs;
}

std::string DescribeNode(const ir::Node& node) {
  return node.Describe() + ", opset " + std::to_string(node.opset);
}

class Partitioner {
 public:
  Partitioner(const ir::Graph& graph, const PartitionOptions& options)
      : graph_(graph), options_(options), model_(options.cost) {
    std::set<std::string> seen;
    for (const auto& device : options.devices) {
      if (device && seen.insert(device->info().id).second) devices_.push_back(device);
    }
  }

  Result<Plan> Run() {
    if (devices_.empty()) return InvalidArgumentError("planning needs at least one device");
    if (options_.pinned) {
      UH_RETURN_IF_ERROR(exec::CheckDeviceSupportsGraph(*devices_[0], graph_));
    }
    ClaimNodes();
    if (options_.fallback == FallbackPolicy::kForbid) UH_RETURN_IF_ERROR(CheckNoFallback());
    UH_RETURN_IF_ERROR(PlaceByPreference());
    RefuseIslands();
    Plan plan = BuildPlan();
    if (options_.fallback == FallbackPolicy::kWarn) {
      for (const NodePlacement& n : plan.nodes) {
        if (!n.fallback) continue;
        std::fprintf(stderr, "unihal: warning: node '%s' (%s) falls back to %s: %s\n",
                     n.node.c_str(), n.op_type.c_str(), n.device.c_str(), n.reason.c_str());
      }
    }
    return plan;
  }

 private:
  const hal::DeviceInfo& Info(size_t device) const { return devices_[device]->info(); }

  // Every device's claim on every node, the estimated cost where it claims it, and who
  // produces each value.
  void ClaimNodes() {
    const size_t n_nodes = graph_.nodes.size();
    support_.assign(n_nodes, {});
    node_cost_.assign(n_nodes, std::vector<Estimate>(devices_.size()));
    for (size_t n = 0; n < n_nodes; ++n) {
      const ir::Node& node = graph_.nodes[n];
      const NodeWork work = EstimateNodeWork(node, graph_);
      for (size_t d = 0; d < devices_.size(); ++d) {
        support_[n].push_back(devices_[d]->Supports(node, graph_));
        if (support_[n][d].supported) node_cost_[n][d] = model_.NodeSeconds(Info(d), node, work);
      }
      for (const std::string& out : node.outputs) {
        if (out.empty()) continue;
        value_index_[out] = values_.size();
        values_.push_back({out, n, {}, ValueBytes(graph_, out), {}});
      }
    }
    IndexValues();
  }

  // Who reads each produced value, what its copies between each pair of devices would cost,
  // and which values each node touches.
  void IndexValues() {
    node_values_.assign(graph_.nodes.size(), {});
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      for (const std::string& out : graph_.nodes[n].outputs) {
        if (auto it = value_index_.find(out); it != value_index_.end()) {
          node_values_[n].push_back(it->second);
        }
      }
      for (const std::string& in : graph_.nodes[n].inputs) {
        auto it = value_index_.find(in);
        if (it == value_index_.end()) continue;
        std::vector<size_t>& consumers = values_[it->second].consumers;
        if (consumers.empty() || consumers.back() != n) consumers.push_back(n);
        node_values_[n].push_back(it->second);
      }
    }
    const size_t d = devices_.size();
    for (ValueEdges& edges : values_) {
      edges.copy_seconds.assign(d * d, 0);
      for (size_t from = 0; from < d; ++from) {
        for (size_t to = 0; to < d; ++to) {
          if (from == to) continue;
          edges.copy_seconds[from * d + to] =
              model_.CopySeconds(Info(from), Info(to), edges.bytes.value_or(0)).seconds;
        }
      }
    }
  }

  Status CheckNoFallback() const {
    std::string problems;
    size_t count = 0;
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      if (support_[n][0].supported) continue;
      if (++count <= kMaxListed) {
        problems += "\n  " + DescribeNode(graph_.nodes[n]) + ": " + support_[n][0].reason;
      }
    }
    if (count == 0) return Status::Ok();
    if (count > kMaxListed)
      problems += "\n  ... and " + std::to_string(count - kMaxListed) + " more";
    return UnimplementedError(
        "fallback policy 'forbid': " + Info(0).id + " cannot run " + std::to_string(count) +
        " node(s) of this model, and they may not fall back to another device:" + problems +
        "\nallow the fallback (--fallback allow or warn), or put a device that runs them first");
  }

  // Each node on the first device that claims it, with the reason; an error when none does.
  Status PlaceByPreference() {
    std::string problems;
    size_t unclaimed = 0;
    assign_.assign(graph_.nodes.size(), 0);
    reason_.assign(graph_.nodes.size(), "");
    for (size_t n = 0; n < graph_.nodes.size(); ++n) {
      std::string refusals;
      size_t d = 0;
      while (d < devices_.size() && !support_[n][d].supported) {
        refusals += (refusals.empty() ? "" : "; ") + RefusalReason(n, d);
        ++d;
      }
      if (d == devices_.size()) {
        if (++unclaimed <= kMaxListed) {
          problems += "\n  " + DescribeNode(graph_.nodes[n]) + ": " + refusals;
        }
        continue;
      }
      assign_[n] = d;
      const std::string& how = support_[n][d].reason;
      reason_[n] = d == 0 ? Info(d).id + ": supported" + (how.empty() ? "" : " (" + how + ")")
                          : refusals + " → " + Info(d).id;
    }
    if (unclaimed == 0) return Status::Ok();
    if (unclaimed > kMaxListed) {
      problems += "\n  ... and " + std::to_string(unclaimed - kMaxListed) + " more";
    }
    std::string ids;
    for (const auto& device : devices_) ids += (ids.empty() ? "" : ", ") + device->info().id;
    return UnimplementedError("no device of [" + ids + "] can run " + std::to_string(unclaimed) +
                              " node(s) of this model:" + problems +
                              "\nadd a device that runs them to the list (e.g. cpu), or file an "
                              "issue with the op and opset");
  }

  // The device's own reason, prefixed with its id unless it already names its driver.
  std::string RefusalReason(size_t n, size_t d) const {
    const std::string& why = support_[n][d].reason;
    const std::string& driver = Info(d).driver;
    if (why.rfind(driver + ":", 0) == 0) return why;
    return Info(d).id + ": " + (why.empty() ? "not supported" : why);
  }

  // Seconds of the copies of value `v` under `assign`: one per device other than its producer's
  // that reads it.
  double CopySecondsOf(size_t v, const std::vector<size_t>& assign) const {
    const ValueEdges& edges = values_[v];
    const size_t from = assign[edges.producer];
    std::vector<bool> seen(devices_.size(), false);
    double seconds = 0;
    for (size_t consumer : edges.consumers) {
      const size_t to = assign[consumer];
      if (to == from || seen[to]) continue;
      seen[to] = true;
      seconds += edges.copy_seconds[from * devices_.size() + to];
    }
    return seconds;
  }

  // Latency of running `assign_`: its nodes, one launch per run, and the copies; with the copy
  // edges for the report.
  Estimate TotalCost(const std::vector<NodeRun>& runs, std::vector<CopyEdge>* copies) const {
    Estimate total;
    std::vector<size_t> run_of(assign_.size());
    for (size_t r = 0; r < runs.size(); ++r) {
      total += model_.LaunchSeconds(Info(runs[r].device));
      for (size_t n = runs[r].begin; n < runs[r].end; ++n) {
        run_of[n] = r;
        total += node_cost_[n][assign_[n]];
      }
    }
    for (const ValueEdges& edges : values_) {
      const size_t from = assign_[edges.producer];
      std::vector<bool> seen(devices_.size(), false);
      for (size_t consumer : edges.consumers) {  // graph order: the first reader's run first
        const size_t to = assign_[consumer];
        if (to == from || seen[to]) continue;
        seen[to] = true;
        CopyEdge copy{edges.name,       Info(from).id, Info(to).id, run_of[edges.producer],
                      run_of[consumer], edges.bytes,   {}};
        copy.cost = model_.CopySeconds(Info(from), Info(to), edges.bytes.value_or(0));
        if (!edges.bytes) copy.cost.assumptions.insert("unknown shapes counted as empty");
        total += copy.cost;
        copies->push_back(std::move(copy));
      }
    }
    return total;
  }

  // How much moving `runs[r]` to `target` (a neighbour's device) changes the estimated latency:
  // its nodes' costs, the launches saved by merging, and the copies of the values it reads or
  // writes. Only those values change, so this is local.
  double MoveDelta(const std::vector<NodeRun>& runs, size_t r, size_t target) {
    const NodeRun& run = runs[r];
    double delta = -model_.LaunchSeconds(Info(run.device)).seconds;
    const bool left = r > 0 && runs[r - 1].device == target;
    const bool right = r + 1 < runs.size() && runs[r + 1].device == target;
    if (left && right) delta -= model_.LaunchSeconds(Info(target)).seconds;  // three become one
    std::vector<size_t> touched;
    for (size_t n = run.begin; n < run.end; ++n) {
      delta += node_cost_[n][target].seconds - node_cost_[n][run.device].seconds;
      touched.insert(touched.end(), node_values_[n].begin(), node_values_[n].end());
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (size_t v : touched) delta -= CopySecondsOf(v, assign_);
    for (size_t n = run.begin; n < run.end; ++n) assign_[n] = target;
    for (size_t v : touched) delta += CopySecondsOf(v, assign_);
    for (size_t n = run.begin; n < run.end; ++n) assign_[n] = run.device;
    return delta;
  }

  // Moves a whole run to the device of a neighbouring run while that lowers the estimated
  // latency; the best move first. A supported island between fallbacks ends up merged with them
  // when its launch and copies cost more than it saves. Each move merges runs, so this ends.
  void RefuseIslands() {
    if (options_.pinned || options_.fallback == FallbackPolicy::kForbid) return;
    while (true) {
      const std::vector<NodeRun> runs = RunsOf(assign_);
      double best_saving = 0;
      size_t best_run = 0, best_device = 0;
      for (size_t r = 0; r < runs.size(); ++r) {
        for (size_t neighbour : {r - 1, r + 1}) {  // r - 1 wraps for r == 0: out of range
          if (neighbour >= runs.size()) continue;
          const size_t target = runs[neighbour].device;
          if (!RunSupportedOn(runs[r], target)) continue;
          const double saving = -MoveDelta(runs, r, target);
          if (saving > best_saving) {
            best_saving = saving;
            best_run = r;
            best_device = target;
          }
        }
      }
      if (best_saving <= 0) return;
      MoveRun(runs[best_run], best_device, best_saving);
    }
  }

  bool RunSupportedOn(const NodeRun& run, size_t device) const {
    for (size_t n = run.begin; n < run.end; ++n) {
      if (!support_[n][device].supported) return false;
    }
    return true;
  }

  void MoveRun(const NodeRun& run, size_t device, double saving) {
    const size_t size = run.end - run.begin;
    for (size_t n = run.begin; n < run.end; ++n) {
      const std::string from = Info(assign_[n]).id;
      reason_[n] = from + ": supported, but as a " + std::to_string(size) +
                   "-node island it costs an estimated " + FormatMicros(saving) +
                   " more in launches and copies than on " + Info(device).id + " → " +
                   Info(device).id;
      assign_[n] = device;
    }
  }

  static std::string FormatMicros(double seconds) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.2f us", seconds * 1e6);
    return text;
  }

  ir::Graph SegmentGraph(const NodeRun& run, size_t index) const;
  Plan BuildPlan() const;

  const ir::Graph& graph_;
  const PartitionOptions& options_;
  CostModel model_;
  std::vector<std::shared_ptr<hal::Device>> devices_;
  std::vector<std::vector<hal::SupportResult>> support_;  // [node][device]
  std::vector<std::vector<Estimate>> node_cost_;          // [node][device] where supported
  // A value some node produces: who, who reads it (graph order), its bytes, and its copy cost
  // between each pair of devices ([from * devices + to]).
  struct ValueEdges {
    std::string name;
    size_t producer = 0;
    std::vector<size_t> consumers;
    std::optional<double> bytes;
    std::vector<double> copy_seconds;
  };
  std::map<std::string, size_t> value_index_;
  std::vector<ValueEdges> values_;
  std::vector<std::vector<size_t>> node_values_;  // per node: values it reads or writes
  std::vector<size_t> assign_;                    // node -> device index
  std::vector<std::string> reason_;
};

// The run's nodes as a graph of their own: values from outside are its inputs, values read
// outside (or graph outputs) its outputs, the weights it reads its initializers.
ir::Graph Partitioner::SegmentGraph(const NodeRun& run, size_t index) const {
  if (run.begin == 0 && run.end == graph_.nodes.size()) return graph_;  // the common case
  ir::Graph g;
  g.name = graph_.name + ":segment" + std::to_string(index);
  g.opset_imports = graph_.opset_imports;
  std::set<std::string> produced, listed_inputs;
  auto add_info = [&](const std::string& value) {
    auto it = graph_.value_info.find(value);
    if (it != graph_.value_info.end()) g.value_info.emplace(value, it->second);
  };
  for (size_t n = run.begin; n < run.end; ++n) {
    const ir::Node& node = graph_.nodes[n];
    g.nodes.push_back(node);
    for (const std::string& value : node.inputs) {
      if (value.empty() || produced.count(value)) continue;
      if (const Tensor* weight = graph_.FindInitializer(value)) {
        g.initializers.emplace(value, *weight);
      } else if (listed_inputs.insert(value).second) {
        const ir::ValueInfo* info = graph_.FindValueInfo(value);
        g.inputs.push_back(info ? *info : ir::ValueInfo{value, DType::kUndefined, std::nullopt});
        add_info(value);
      }
    }
    for (const std::string& value : node.outputs) {
      if (!value.empty()) produced.insert(value);
      add_info(value);
    }
  }
  std::set<std::string> graph_outputs;
  for (const ir::ValueInfo& out : graph_.outputs) graph_outputs.insert(out.name);
  std::set<std::string> read_outside;
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    if (n >= run.begin && n < run.end) continue;
    read_outside.insert(graph_.nodes[n].inputs.begin(), graph_.nodes[n].inputs.end());
  }
  for (size_t n = run.begin; n < run.end; ++n) {
    for (const std::string& value : graph_.nodes[n].outputs) {
      if (value.empty() || (!graph_outputs.count(value) && !read_outside.count(value))) continue;
      const ir::ValueInfo* info = graph_.FindValueInfo(value);
      g.outputs.push_back(info ? *info : ir::ValueInfo{value, DType::kUndefined, std::nullopt});
    }
  }
  return g;
}

Plan Partitioner::BuildPlan() const {
  Plan plan;
  for (const auto& device : devices_) plan.preference.push_back(device->info().id);
  plan.fallback = options_.fallback;
  plan.pinned = options_.pinned;
  const std::vector<NodeRun> runs = RunsOf(assign_);
  plan.total = TotalCost(runs, &plan.copies);
  for (size_t r = 0; r < runs.size(); ++r) {
    Segment segment;
    segment.device = devices_[runs[r].device];
    segment.graph = SegmentGraph(runs[r], r);
    segment.cost = model_.LaunchSeconds(Info(runs[r].device));
    for (size_t n = runs[r].begin; n < runs[r].end; ++n) {
      const ir::Node& node = graph_.nodes[n];
      segment.node_names.push_back(node.name);
      segment.cost += node_cost_[n][assign_[n]];
      plan.nodes.push_back({node.name, node.op_type, Info(assign_[n]).id, reason_[n],
                            assign_[n] != 0, r, node_cost_[n][assign_[n]]});
    }
    plan.segments.push_back(std::move(segment));
  }
  return plan;
}

}  // namespace

Result<Plan> Partition(const ir::Graph& graph, const PartitionOptions& options) {
  return Partitioner(graph, options).Run();
}

}  // namespace unihal::planner
