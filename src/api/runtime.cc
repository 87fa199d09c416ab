#include "unihal/runtime.h"

#include <set>

#include "api/model_cache.h"
#include "drivers/registry.h"
#include "sched/scheduler.h"

namespace unihal {

namespace {

Status CheckTenants(const std::vector<TenantConfig>& tenants) {
  std::set<std::string> names;
  for (const TenantConfig& t : tenants) {
    if (t.name.empty()) {
      return InvalidArgumentError("RuntimeOptions::tenants: a tenant needs a name (the default "
                                  "tenant \"\" is built in and has no limits)");
    }
    if (!names.insert(t.name).second) {
      return InvalidArgumentError("RuntimeOptions::tenants: tenant '" + t.name +
                                  "' is configured twice");
    }
  }
  return Status::Ok();
}

}  // namespace

// The scheduler first: its workers and timer read the health monitor and record into the
// performance monitor until they are joined.
Runtime::~Runtime() { scheduler_.reset(); }

sched::Scheduler& Runtime::scheduler() const {
  std::call_once(scheduler_once_, [this] {
    std::vector<sched::LaneConfig> lanes;
    for (const auto& device : devices_) {
      const bool cpu = device->info().kind == hal::DeviceKind::kCpu;
      lanes.push_back({device->info().id, device, cpu ? options_.cpu_workers : 1});
    }
    sched::SchedulerOptions options;
    options.tenants = options_.tenants;
    options.aging_step = options_.aging_step;
    options.health_monitor = &health_monitor();  // R2.3: placement reads its samples
    scheduler_ = std::make_unique<sched::Scheduler>(std::move(lanes), std::move(options));
  });
  return *scheduler_;
}

Result<std::shared_ptr<Runtime>> Runtime::Create(const RuntimeOptions& options) {
  UH_RETURN_IF_ERROR(CheckTenants(options.tenants));
  // Private constructor: make_shared can't. The deleter defers the destruction to another
  // thread when a completion callback drops the last reference on a scheduler thread.
  std::shared_ptr<Runtime> runtime(new Runtime(), &sched::DeleteOffSchedulerThreads<Runtime>);
  runtime->options_ = options;
  runtime->model_cache_ = std::make_unique<ModelCache>();
  hal::DriverOptions driver_options;
  driver_options.cpu_threads = options.cpu_threads;
  driver_options.sim_npu = options.sim_npu;
  for (std::unique_ptr<hal::Driver>& driver : drivers::CreateBuiltinDrivers()) {
    Result<std::vector<std::shared_ptr<hal::Device>>> devices = driver->OpenDevices(driver_options);
    if (!devices.ok()) {
      runtime->unavailable_.push_back({std::string(driver->name()), devices.status().message()});
      continue;
    }
    if (devices->empty()) {
      runtime->unavailable_.push_back({std::string(driver->name()), "no device found"});
      continue;
    }
    for (auto& device : *devices) runtime->devices_.push_back(std::move(device));
  }
  if (!runtime->cpu()) return InternalError("the cpu driver opened no device");
  runtime->health_options_ = options.health_monitor;
  if (options.start_health_monitor) (void)runtime->health_monitor();
  return runtime;
}

HealthMonitor& Runtime::health_monitor() const {
  std::call_once(health_once_, [this] {
    health_monitor_ = std::make_unique<HealthMonitor>(devices_, health_options_);
    health_monitor_->Start();
  });
  return *health_monitor_;
}

std::shared_ptr<hal::Device> Runtime::cpu() const {
  for (const auto& device : devices_) {
    if (device->info().driver == "cpu") return device;
  }
  return nullptr;
}

Result<std::shared_ptr<hal::Device>> Runtime::FindDevice(std::string_view id) const {
  if (id.empty() || id == "auto") {
    // Best real device: a GPU or NPU that is not simulated, else the CPU.
    for (const auto& device : devices_) {
      const hal::DeviceInfo& info = device->info();
      if (!info.is_simulated && info.kind != hal::DeviceKind::kCpu) return device;
    }
    return cpu();
  }
  for (const auto& device : devices_) {
    if (device->info().id == id) return device;
  }
  for (const auto& device : devices_) {
    if (device->info().driver == id) return device;
  }
  std::string known;
  for (const auto& device : devices_) known += (known.empty() ? "" : ", ") + device->info().id;
  std::string why;
  for (const auto& u : unavailable_) {
    if (id.substr(0, id.find(':')) == u.driver) why = " (driver " + u.driver + ": " + u.reason + ")";
  }
  return NotFoundError("unknown device '" + std::string(id) + "'" + why +
                       "; available devices: " + known + " (see `unihal devices`)");
}

}  // namespace unihal
