// Registers the reference (plain C++) NN kernels at priority 0; oneDNN kernels take precedence
// for the cases they handle.
#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/half_via_float.h"
#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {

void RegisterReferenceNnKernels(hal::KernelRegistry& registry) {
  auto add = [&registry](const char* op, int min_opset, hal::KernelFactory create) {
    registry.Register(
        hal::KernelDef{op, "", min_opset, INT_MAX, "reference", 0, nullptr, std::move(create)});
  };
  add("Conv", 1, CreateReferenceConv);
  add("Gemm", 7, CreateReferenceGemm);
  add("MatMul", 1, CreateReferenceMatMul);
  add("MaxPool", 1, HalfViaFloat(CreateReferenceMaxPool));
  add("AveragePool", 1, HalfViaFloat(CreateReferenceAveragePool));
  add("GlobalAveragePool", 1, CreateReferenceGlobalAveragePool);
  add("BatchNormalization", 7, HalfViaFloat(CreateReferenceBatchNormalization));
  add("LRN", 1, HalfViaFloat(CreateReferenceLrn));
}

}  // namespace unihal::cpu
