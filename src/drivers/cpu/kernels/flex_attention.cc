#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterFlexAttentionKernels(hal::KernelRegistry&) {}

}  // namespace unihal::cpu
