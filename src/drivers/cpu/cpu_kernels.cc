#include "drivers/cpu/cpu_kernels.h"

namespace unihal::cpu {

void RegisterAllCpuKernels(hal::KernelRegistry& registry) {
  RegisterReferenceCpuKernels(registry);
  RegisterDnnlKernels(registry);
}

void RegisterReferenceCpuKernels(hal::KernelRegistry& registry) {
  RegisterElementwiseKernels(registry);
  RegisterMathKernels(registry);
  RegisterShapeKernels(registry);
  RegisterReferenceNnKernels(registry);
  RegisterMoreElementwiseKernels(registry);
  RegisterReductionKernels(registry);
  RegisterIndexingKernels(registry);
  RegisterMoreNnKernels(registry);
  RegisterAttentionKernels(registry);
  RegisterQuantizationKernels(registry);
  RegisterRecurrentKernels(registry);
  RegisterSignalKernels(registry);
  RegisterTrainingKernels(registry);
  RegisterFlexAttentionKernels(registry);
  RegisterMlKernels(registry);
  RegisterRandomKernels(registry);
  RegisterTfIdfVectorizerKernel(registry);
  RegisterImageDecoderKernel(registry);
  RegisterControlFlowKernels(registry);
  RegisterSequenceKernels(registry);
  RegisterOptionalKernels(registry);
}

}  // namespace unihal::cpu
