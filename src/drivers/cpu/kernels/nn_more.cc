#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterMoreNnKernels(hal::KernelRegistry& registry) { (void)registry; }

}  // namespace unihal::cpu
