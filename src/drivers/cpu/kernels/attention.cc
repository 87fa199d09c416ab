#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterAttentionKernels(hal::KernelRegistry& registry) { (void)registry; }

}  // namespace unihal::cpu
