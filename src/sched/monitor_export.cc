// PerfSnapshot as JSON and as Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/). Metric names: docs/monitoring.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <string>

#include "unihal/monitor.h"

namespace unihal {
namespace {

using json = nlohmann::ordered_json;

json OrNull(const std::optional<double>& seconds) {
  return seconds ? json(*seconds * 1e3) : json(nullptr);
}

json StatsJson(const SeriesStats& stats) {
  const RunCounts& c = stats.counts;
  return {
      {"runs", c.runs},
      {"succeeded", c.succeeded},
      {"failed", c.failed},
      {"cancelled", c.cancelled},
      {"timed_out", c.timed_out},
      {"fell_back", c.fell_back},
      {"retried", c.retried},
      {"latency_ms",
       {{"p50", OrNull(stats.p50_s)},
        {"p90", OrNull(stats.p90_s)},
        {"p99", OrNull(stats.p99_s)},
        {"mean", OrNull(stats.mean_s)}}},
  };
}

json GroupsJson(const std::vector<Group>& groups) {
  json out = json::object();
  for (const Group& group : groups) out[group.name] = StatsJson(group.stats);
  return out;
}

// A label value with backslash, double quote and newline escaped, as the format requires.
std::string EscapeLabel(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string SeriesLabels(const SeriesKey& key) {
  return fmt::format("device=\"{}\",model=\"{}\",tenant=\"{}\",priority=\"{}\"",
                     EscapeLabel(key.device), EscapeLabel(key.model), EscapeLabel(key.tenant),
                     PriorityName(key.priority));
}

void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Counters(std::string& out, const PerfSnapshot& snapshot) {
  Family(out, "unihal_runs_total", "counter", "Finished runs by outcome.");
  for (const Series& s : snapshot.series) {
    const std::string labels = SeriesLabels(s.key);
    const RunCounts& c = s.stats.counts;
    for (const auto& [outcome, n] : {std::pair{"succeeded", c.succeeded},
                                     {"failed", c.failed},
                                     {"cancelled", c.cancelled},
                                     {"timed_out", c.timed_out}}) {
      out += fmt::format("unihal_runs_total{{{},outcome=\"{}\"}} {}\n", labels, outcome, n);
    }
  }
  Family(out, "unihal_run_fallbacks_total", "counter",
         "Runs that fell back to another device than the one asked for.");
  for (const Series& s : snapshot.series) {
    out += fmt::format("unihal_run_fallbacks_total{{{}}} {}\n", SeriesLabels(s.key),
                       s.stats.counts.fell_back);
  }
  Family(out, "unihal_run_retries_total", "counter", "Runs retried after a failure.");
  for (const Series& s : snapshot.series) {
    out += fmt::format("unihal_run_retries_total{{{}}} {}\n", SeriesLabels(s.key),
                       s.stats.counts.retried);
  }
}

// Exported at every power of two of nanoseconds (each an exact boundary of the internal
// buckets), so the cumulative counts are exact, not estimated.
void Histograms(std::string& out, const PerfSnapshot& snapshot) {
  Family(out, "unihal_run_latency_seconds", "histogram",
         "Latency of finished runs of every outcome, in seconds.");
  for (const Series& s : snapshot.series) {
    const std::string labels = SeriesLabels(s.key);
    const LatencyHistogram& h = s.stats.latency;
    int64_t cumulative = 0;
    int bucket = 0;
    for (int octave = kLatencyMinOctave; octave <= kLatencyMaxOctave; ++octave) {
      const int64_t bound_ns = int64_t{1} << octave;
      while (bucket < kLatencyBucketCount && LatencyBucketUpperNs(bucket) <= bound_ns) {
        cumulative += h.buckets[bucket++];
      }
      out += fmt::format("unihal_run_latency_seconds_bucket{{{},le=\"{:.9g}\"}} {}\n", labels,
                         static_cast<double>(bound_ns) * 1e-9, cumulative);
    }
    out += fmt::format("unihal_run_latency_seconds_bucket{{{},le=\"+Inf\"}} {}\n", labels, h.count);
    out += fmt::format("unihal_run_latency_seconds_sum{{{}}} {:.9g}\n", labels, h.sum_s);
    out += fmt::format("unihal_run_latency_seconds_count{{{}}} {}\n", labels, h.count);
  }
}

}  // namespace

std::string PerfSnapshotToJson(const PerfSnapshot& snapshot, int indent) {
  json series = json::array();
  for (const Series& s : snapshot.series) {
    json entry = {{"device", s.key.device},
                  {"model", s.key.model},
                  {"tenant", s.key.tenant},
                  {"priority", PriorityName(s.key.priority)}};
    entry.update(StatsJson(s.stats));
    series.push_back(std::move(entry));
  }
  const json report = {
      {"uptime_s", snapshot.uptime_s},
      {"throughput",
       {{"lifetime_runs_per_s", snapshot.lifetime_runs_per_s},
        {"recent_runs_per_s", snapshot.recent_runs_per_s},
        {"recent_window_s", snapshot.recent_window_s}}},
      // Quantiles come from log-scale buckets: within this fraction of the exact value.
      {"latency_bucket_resolution", snapshot.bucket_resolution},
      {"series_limit_reached", snapshot.series_limit_reached},
      {"total", StatsJson(snapshot.total)},
      {"by_device", GroupsJson(snapshot.by_device)},
      {"by_model", GroupsJson(snapshot.by_model)},
      {"by_tenant", GroupsJson(snapshot.by_tenant)},
      {"by_priority", GroupsJson(snapshot.by_priority)},
      {"series", series},
  };
  return report.dump(indent);
}

std::string PerfSnapshotToPrometheus(const PerfSnapshot& snapshot) {
  std::string out;
  Counters(out, snapshot);
  Histograms(out, snapshot);
  Family(out, "unihal_monitor_uptime_seconds", "gauge", "Seconds since the monitor started.");
  out += fmt::format("unihal_monitor_uptime_seconds {:.6f}\n", snapshot.uptime_s);
  Family(out, "unihal_runs_per_second", "gauge",
         "Finished runs per second over the monitor's lifetime and over the recent window.");
  out += fmt::format("unihal_runs_per_second{{window=\"lifetime\"}} {:.6f}\n",
                     snapshot.lifetime_runs_per_s);
  out += fmt::format("unihal_runs_per_second{{window=\"recent\"}} {:.6f}\n",
                     snapshot.recent_runs_per_s);
  return out;
}

}  // namespace unihal
