#include "unihal/hal/sim_npu_options.h"

#include <charconv>
#include <string>

namespace unihal::hal {
namespace {

Result<double> ParseNumber(std::string_view key, std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || value < 0) {
    return InvalidArgumentError("sim-npu faults: '" + std::string(key) +
                                "' needs a number >= 0, got '" + std::string(text) + "'");
  }
  return value;
}

Status CheckProbability(std::string_view key, double p) {
  if (p > 1.0) {
    return InvalidArgumentError("sim-npu faults: '" + std::string(key) +
                                "' is a probability in [0, 1], got " + std::to_string(p));
  }
  return Status::Ok();
}

Status ApplyFault(std::string_view key, double v, SimNpuFaultOptions& f) {
  if (key == "seed") {
    f.seed = static_cast<uint64_t>(v);
  } else if (key == "error_rate") {
    UH_RETURN_IF_ERROR(CheckProbability(key, v));
    f.error_rate = v;
  } else if (key == "lost_after_runs") {
    f.lost_after_runs = static_cast<int64_t>(v);
  } else if (key == "lost_after_s") {
    f.lost_after_s = v;
  } else if (key == "oom_rate") {
    UH_RETURN_IF_ERROR(CheckProbability(key, v));
    f.oom_rate = v;
  } else if (key == "hang_rate") {
    UH_RETURN_IF_ERROR(CheckProbability(key, v));
    f.hang_rate = v;
  } else if (key == "hang_timeout_s") {
    f.hang_timeout_s = v;
  } else {
    return InvalidArgumentError(
        "sim-npu faults: unknown key '" + std::string(key) +
        "' (known: seed, error_rate, lost_after_runs, lost_after_s, oom_rate, hang_rate, "
        "hang_timeout_s)");
  }
  return Status::Ok();
}

}  // namespace

Status ParseSimNpuFaults(std::string_view spec, SimNpuFaultOptions& faults) {
  while (!spec.empty()) {
    size_t comma = spec.find(',');
    std::string_view item = spec.substr(0, comma);
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgumentError("sim-npu faults: expected key=value, got '" + std::string(item) +
                                  "'");
    }
    std::string_view key = item.substr(0, eq);
    UH_ASSIGN_OR_RETURN(double value, ParseNumber(key, item.substr(eq + 1)));
    UH_RETURN_IF_ERROR(ApplyFault(key, value, faults));
  }
  return Status::Ok();
}

}  // namespace unihal::hal
