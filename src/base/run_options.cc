#include "unihal/run_options.h"

#include <array>

namespace unihal {
namespace {
constexpr std::array<std::string_view, kNumPriorities> kPriorityNames = {
    "critical", "high", "normal", "low", "background"};
constexpr std::array<std::string_view, 6> kTaskStateNames = {"queued", "running",   "succeeded",
                                                             "failed", "cancelled", "timed_out"};
}  // namespace

std::string_view PriorityName(Priority priority) {
  return kPriorityNames[static_cast<size_t>(priority)];
}

std::optional<Priority> ParsePriority(std::string_view name) {
  for (size_t i = 0; i < kPriorityNames.size(); ++i) {
    if (kPriorityNames[i] == name) return static_cast<Priority>(i);
  }
  return std::nullopt;
}

std::string_view TaskStateName(TaskState state) {
  return kTaskStateNames[static_cast<size_t>(state)];
}

}  // namespace unihal
