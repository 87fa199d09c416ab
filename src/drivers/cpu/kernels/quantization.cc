#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterQuantizationKernels(hal::KernelRegistry& registry) { (void)registry; }

}  // namespace unihal::cpu
