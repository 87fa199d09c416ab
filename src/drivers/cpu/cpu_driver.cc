#include "drivers/cpu/cpu_driver.h"

#include "drivers/cpu/cpu_channel_affine.h"
#include "drivers/cpu/cpu_device_info.h"
#include "drivers/cpu/cpu_fusion.h"
#include "drivers/cpu/cpu_health.h"
#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/cpu_matmul_fusion.h"
#include "drivers/cpu/dnnl/dnnl_layout.h"
#include "unihal/hal/host_stream.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/hal/thread_pool.h"

namespace unihal::cpu {
namespace {

class CpuDevice final : public hal::Device {
 public:
  CpuDevice() : info_(ReadCpuDeviceInfo()), channel_block_(PreferredChannelBlock()) {
    RegisterAllCpuKernels(kernels_);
  }

  const hal::DeviceInfo& info() const override { return info_; }
  hal::DeviceHealth Health() override { return health_.Sample(); }

  Result<std::shared_ptr<hal::Buffer>> Allocate(size_t bytes) override {
    std::shared_ptr<hal::Buffer> buffer = hal::AllocateHostBuffer(bytes);
    if (!buffer) {
      return ResourceExhaustedError("cpu:0: out of host memory allocating " +
                                    std::to_string(bytes) + " bytes");
    }
    return buffer;
  }

  Result<std::unique_ptr<hal::Stream>> CreateStream() override { return hal::CreateHostStream(); }

  hal::SupportResult Supports(const ir::Node& node, const ir::Graph& graph) const override {
    return kernels_.Supports(hal::KernelCreateInfo{node, graph});
  }

  Result<std::shared_ptr<hal::Executable>> Compile(const ir::Graph& subgraph,
                                                   const hal::CompileOptions&) override {
    // Fusion happens here, after placement, so only this device sees its fused nodes.
    ir::Graph graph = subgraph;
    const FusionCheck can_run = [this](const ir::Node& fused, const ir::Graph& g) {
      return kernels_.Supports(hal::KernelCreateInfo{fused, g}).supported;
    };
    UH_RETURN_IF_ERROR(FuseChannelAffine(graph, can_run));
    UH_RETURN_IF_ERROR(FuseConvPostOps(graph, can_run));
    UH_RETURN_IF_ERROR(FuseMatMulEpilogues(graph, can_run));
    UH_RETURN_IF_ERROR(KeepConvActivationsBlocked(graph, can_run, channel_block_));
    return hal::CompileWithKernels(graph, kernels_, hal::ThreadPool::Process());
  }

 private:
  hal::DeviceInfo info_;
  const int64_t channel_block_;  // of the blocked activations (cpu_layout.h)
  CpuHealthSampler health_;
  hal::KernelRegistry kernels_;
};

class CpuDriver final : public hal::Driver {
 public:
  std::string_view name() const override { return "cpu"; }
  Result<std::vector<std::shared_ptr<hal::Device>>> OpenDevices(
      const hal::DriverOptions& options) override {
    hal::ThreadPool::Process().SetNumThreads(options.cpu_threads);
    return std::vector<std::shared_ptr<hal::Device>>{std::make_shared<CpuDevice>()};
  }
};

}  // namespace

std::unique_ptr<hal::Driver> CreateCpuDriver() { return std::make_unique<CpuDriver>(); }

}  // namespace unihal::cpu
