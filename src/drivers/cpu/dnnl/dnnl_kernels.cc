// Registers the oneDNN kernels. They share one CPU engine, owned by the kernels that use it
// (no process global).
#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/dnnl/dnnl_common.h"

namespace unihal::cpu {

void RegisterDnnlKernels(hal::KernelRegistry& registry) {
  DnnlEnginePtr engine;
  try {
    engine = std::make_shared<const dnnl::engine>(dnnl::engine::kind::cpu, 0);
  } catch (const dnnl::error&) {
    return;  // no usable oneDNN: the reference kernels take every node
  }
  RegisterDnnlConv(registry, engine);
  RegisterDnnlMatMulAndGemm(registry, engine);
  RegisterDnnlPools(registry, engine);
  RegisterDnnlBatchNormalization(registry, engine);
  RegisterDnnlFusedMatMul(registry, engine);
  RegisterDnnlSoftmaxAndLayerNorm(registry, engine);
  RegisterDnnlLrn(registry, engine);
}

}  // namespace unihal::cpu
