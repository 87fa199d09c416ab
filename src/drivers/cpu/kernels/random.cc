#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterRandomKernels(hal::KernelRegistry&) {}

}  // namespace unihal::cpu
