// Per-request scheduling options and task vocabulary (SPEC R5.1, R5.2), shared by Session,
// the scheduler, the monitor, the CLI and the server.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace unihal {

// R5.1: higher first; aging bounds how long lower work can wait.
enum class Priority { kCritical = 0, kHigh = 1, kNormal = 2, kLow = 3, kBackground = 4 };
inline constexpr int kNumPriorities = 5;
std::string_view PriorityName(Priority priority);  // "critical", "high", ...
std::optional<Priority> ParsePriority(std::string_view name);

// R5.2 task states. Succeeded, failed, cancelled and timed_out are final.
enum class TaskState { kQueued, kRunning, kSucceeded, kFailed, kCancelled, kTimedOut };
std::string_view TaskStateName(TaskState state);  // "queued", "running", ...
inline bool IsFinal(TaskState state) {
  return state != TaskState::kQueued && state != TaskState::kRunning;
}

struct RunOptions {
  Priority priority = Priority::kNormal;
  // Absolute deadline; a task not finished by then ends kTimedOut (kDeadlineExceeded).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Empty: the default tenant. A tenant the scheduler does not know is kNotFound at submit.
  std::string tenant;
  // Hints (R5.2): a device kind ("npu", "gpu", "cpu") or a pinned device id ("sim-npu:0").
  std::string device_kind;
  std::string pinned_device;
  bool fallback_allowed = true;  // may the task move to another device on failure?
};

}  // namespace unihal
