#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterAllCpuKernels(hal::KernelRegistry& registry) {
  RegisterElementwiseKernels(registry);
  RegisterMathKernels(registry);
  RegisterShapeKernels(registry);
  RegisterReferenceNnKernels(registry);
  RegisterDnnlKernels(registry);
}

}  // namespace unihal::cpu
