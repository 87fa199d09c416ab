// The CPU as the machine describes it (/proc/cpuinfo, sysfs caches, /proc/meminfo, cgroups).
#pragma once

#include <string>

#include "unihal/hal/device_info.h"

namespace unihal::cpu {

// `proc_root`/`sys_root` let tests point at a fake tree; production uses "/proc" and "/sys".
hal::DeviceInfo ReadCpuDeviceInfo(const std::string& proc_root = "/proc",
                                  const std::string& sys_root = "/sys");

}  // namespace unihal::cpu
