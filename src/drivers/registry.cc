#include "drivers/registry.h"

#include "drivers/cpu/cpu_driver.h"

namespace unihal::drivers {

std::vector<std::unique_ptr<hal::Driver>> CreateBuiltinDrivers() {
  std::vector<std::unique_ptr<hal::Driver>> drivers;
  drivers.push_back(cpu::CreateCpuDriver());
  return drivers;
}

}  // namespace unihal::drivers
