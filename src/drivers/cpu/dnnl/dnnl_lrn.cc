// oneDNN LRN (across channels) on 4-D float32, plain or, in its cpu-private form (domain
// kCpuFusionDomain, cpu_layout.h), channel-blocked. Plain tensors whose channels are a multiple
// of 8 go through blocked copies, where oneDNN 2.6 has its jit kernel. ONNX sums the squares
// over channels [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)], oneDNN over a window
// centred on c: the same for odd sizes only, so even sizes take the reference kernel.
#include "drivers/cpu/cpu_fusion.h"
#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/dnnl/dnnl_layout.h"
#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {
namespace {

struct LrnPrimitive {
  dnnl::lrn_forward::primitive_desc pd;
  dnnl::lrn_forward primitive;
};

struct LrnParams {
  int64_t size = 0;
  float alpha = 0.f;
  float beta = 0.f;
  float bias = 0.f;
};

class DnnlLrn final : public hal::Kernel {
 public:
  DnnlLrn(DnnlEnginePtr engine, LrnParams params, XYLayouts layouts,
          std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        params_(params),
        blocked_(layouts.x_blocked),
        block_(layouts.block),
        fallback_(std::move(fallback)) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running LRN");
    }
  }

 private:
  Status ComputeOrThrow(hal::KernelContext& context) const {
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    if (x->dtype() != DType::kF32 || x->rank() != 4) return Fallback(context);
    // Blocked inside only when that needs no channel padding.
    const bool inner_blocked = blocked_ || x->dim(1) % block_ == 0;
    std::shared_ptr<const LrnPrimitive> entry =
        cache_.GetOrBuild({x->shape()}, [&] { return Build(x->shape(), inner_blocked); });
    if (!entry) return Fallback(context);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, x->shape()));
    const dnnl::engine& engine = *engine_;
    const bool direct = blocked_ || !inner_blocked;
    const dnnl::memory::desc desc = entry->pd.src_desc();
    const dnnl::memory src =
        direct ? WrapMemory(desc, engine, x->data())
               : ReorderToScratch(engine, WrapMemory(PlainDesc(x->shape()), engine, x->data()),
                                  desc, ScratchSlot::kSource);
    const dnnl::memory dst = direct ? WrapMemory(desc, engine, y->data())
                                    : ScratchMemory(engine, desc, ScratchSlot::kDestination);
    ExecuteAndWait(engine, entry->primitive, entry->pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    if (!direct) ReorderInto(engine, dst, WrapMemory(PlainDesc(x->shape()), engine, y->data()));
    return Status::Ok();
  }

  Status Fallback(hal::KernelContext& context) const {
    if (!blocked_) return fallback_->Compute(context);
    return ComputeOnPlainCopies(*engine_, *fallback_, {true}, true, block_, context);
  }

  std::shared_ptr<LrnPrimitive> Build(const Shape& x_shape, bool blocked) const {
    if (params_.size % 2 == 0) return nullptr;  // see the file comment
    auto entry = std::make_shared<LrnPrimitive>();
    try {
      const dnnl::lrn_forward::desc desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::lrn_across_channels,
                                         LayoutDesc(x_shape, blocked ? block_ : 0), params_.size,
                                         params_.alpha, params_.beta, params_.bias);
      entry->pd = dnnl::lrn_forward::primitive_desc(desc, ConcurrentAttr(), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error) || error.status == dnnl_invalid_arguments) return nullptr;
      throw;
    }
    entry->primitive = dnnl::lrn_forward(entry->pd);
    return entry;
  }

  const DnnlEnginePtr engine_;
  const LrnParams params_;
  const bool blocked_;   // X and Y channel-blocked (the cpu-private form)
  const int64_t block_;  // their channel block, also of the blocked copies of plain X
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<LrnPrimitive> cache_;
};

hal::SupportResult SupportsLrn(const hal::KernelCreateInfo& info) {
  if (!InputIsF32(info, 0)) return hal::SupportResult::No("oneDNN LRN takes float32 X only");
  const std::optional<size_t> rank = InputRank(info, 0);
  if (!rank || *rank != 4) return hal::SupportResult::No("oneDNN LRN needs 4-D X");
  Result<XYLayouts> layouts = ParseXYLayouts(info.node);
  if (!layouts.ok()) return hal::SupportResult::No(layouts.status().message());
  if (layouts->x_blocked && !HasBlockableChannels(info, layouts->block)) {
    return hal::SupportResult::No("blocked LRN needs channels a multiple of " +
                                  std::to_string(layouts->block));
  }
  return hal::SupportResult::Yes("onednn");
}

Result<std::unique_ptr<hal::Kernel>> CreateDnnlLrn(const DnnlEnginePtr& engine,
                                                   const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> fallback, CreateReferenceLrn(info));
  LrnParams params;
  UH_ASSIGN_OR_RETURN(params.size, info.node.GetInt("size"));
  UH_ASSIGN_OR_RETURN(params.alpha, info.node.GetFloat("alpha", 1e-4f));
  UH_ASSIGN_OR_RETURN(params.beta, info.node.GetFloat("beta", 0.75f));
  UH_ASSIGN_OR_RETURN(params.bias, info.node.GetFloat("bias", 1.0f));
  UH_ASSIGN_OR_RETURN(XYLayouts layouts, ParseXYLayouts(info.node));
  if (layouts.x_blocked != layouts.y_blocked) {
    return InvalidArgumentError(info.node.Describe() + ": X and Y of an LRN need one layout");
  }
  return std::unique_ptr<hal::Kernel>(
      std::make_unique<DnnlLrn>(engine, params, layouts, std::move(fallback)));
}

}  // namespace

void RegisterDnnlLrn(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  auto create = [engine](const hal::KernelCreateInfo& info) { return CreateDnnlLrn(engine, info); };
  RegisterDnnlKernel(registry, "LRN", 1, SupportsLrn, create);
  registry.Register(
      hal::KernelDef{"LRN", kCpuFusionDomain, 1, INT_MAX, "onednn", 10, SupportsLrn, create});
}

}  // namespace unihal::cpu
