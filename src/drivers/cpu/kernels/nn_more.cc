// The remaining NN ops; each family lives in its own file (see nn_more.h).
#include "drivers/cpu/kernels/nn_more.h"

#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterMoreNnKernels(hal::KernelRegistry& registry) {
  RegisterResizeKernels(registry);
  RegisterGridSampleKernels(registry);
  RegisterConvTransposeKernels(registry);
  RegisterDeformConvKernels(registry);
  RegisterRoiKernels(registry);
  RegisterMorePoolKernels(registry);
  RegisterMoreNormKernels(registry);
}

}  // namespace unihal::cpu
