#include "drivers/registry.h"

#include "drivers/cpu/cpu_driver.h"
#include "drivers/cpu/cpu_kernels.h"
#include "drivers/sim_npu/sim_npu_driver.h"

namespace unihal::drivers {

std::vector<std::unique_ptr<hal::Driver>> CreateBuiltinDrivers() {
  std::vector<std::unique_ptr<hal::Driver>> drivers;
  drivers.push_back(cpu::CreateCpuDriver());
  // sim-npu computes with the cpu reference kernels; this is the one place that connects the
  // two drivers, so sim_npu/ itself includes only HAL headers.
  drivers.push_back(sim_npu::CreateSimNpuDriver(&cpu::RegisterReferenceCpuKernels));
  return drivers;
}

}  // namespace unihal::drivers
