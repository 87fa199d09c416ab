#include "drivers/sim_npu/sim_npu_faults.h"

#include <chrono>

namespace unihal::sim_npu {
namespace {

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

FaultInjector::FaultInjector(std::string device_id, const hal::SimNpuFaultOptions& options,
                             std::function<double()> clock)
    : device_id_(std::move(device_id)),
      options_(options),
      clock_(clock ? std::move(clock) : std::function<double()>(SteadySeconds)),
      start_s_(clock_()),
      rng_(options.seed) {}

FaultInjector::~FaultInjector() { ReleaseHangs(); }

bool FaultInjector::DrawLocked(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < p;
}

Status FaultInjector::CheckAliveLocked() {
  if (!lost_) {
    if (options_.lost_after_runs && runs_ >= *options_.lost_after_runs) lost_ = true;
    if (options_.lost_after_s && clock_() - start_s_ >= *options_.lost_after_s) lost_ = true;
    if (lost_) {
      ++errors_;
      hang_cv_.notify_all();
    }
  }
  if (lost_) return UnavailableError(device_id_ + ": device lost (injected fault, simulated)");
  return Status::Ok();
}

Status FaultInjector::CheckAlive() {
  std::lock_guard<std::mutex> lock(mu_);
  return CheckAliveLocked();
}

Status FaultInjector::HangLocked(std::unique_lock<std::mutex>& lock) {
  int64_t generation = release_generation_;
  auto timeout = std::chrono::duration<double>(options_.hang_timeout_s);
  bool woken =
      hang_cv_.wait_for(lock, timeout, [&] { return release_generation_ != generation || lost_; });
  ++errors_;
  if (woken) return CancelledError(device_id_ + ": injected hang released (simulated)");
  return DeadlineExceededError(device_id_ + ": injected hang: the run did not finish within " +
                               std::to_string(options_.hang_timeout_s) + " s (simulated)");
}

Status FaultInjector::BeforeRun() {
  std::unique_lock<std::mutex> lock(mu_);
  UH_RETURN_IF_ERROR(CheckAliveLocked());
  ++runs_;
  if (DrawLocked(options_.error_rate)) {
    ++errors_;
    if (DrawLocked(0.5)) return InternalError(device_id_ + ": injected run error (simulated)");
    return UnavailableError(device_id_ + ": injected transient run error (simulated)");
  }
  if (DrawLocked(options_.hang_rate)) return HangLocked(lock);
  return Status::Ok();
}

Status FaultInjector::BeforeAllocate(size_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  UH_RETURN_IF_ERROR(CheckAliveLocked());
  if (DrawLocked(options_.oom_rate)) {
    ++errors_;
    return ResourceExhaustedError(device_id_ + ": injected out of memory allocating " +
                                  std::to_string(bytes) + " bytes (simulated)");
  }
  return Status::Ok();
}

void FaultInjector::ReleaseHangs() {
  std::lock_guard<std::mutex> lock(mu_);
  ++release_generation_;
  hang_cv_.notify_all();
}

bool FaultInjector::lost() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lost_;
}

int64_t FaultInjector::error_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return errors_;
}

int64_t FaultInjector::runs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return runs_;
}

}  // namespace unihal::sim_npu
