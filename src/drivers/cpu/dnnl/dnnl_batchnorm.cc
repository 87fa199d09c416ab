// oneDNN BatchNormalization, inference only: global statistics with separate scale and shift.
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {
namespace {

struct BatchNormPrimitive {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward primitive;
};

class DnnlBatchNormalization final : public hal::Kernel {
 public:
  DnnlBatchNormalization(DnnlEnginePtr engine, float epsilon, std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)), epsilon_(epsilon), fallback_(std::move(fallback)) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running BatchNormalization");
    }
  }

 private:
  Status ComputeOrThrow(hal::KernelContext& context) const {
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    const char* names[4] = {"scale", "B", "input_mean", "input_var"};
    const Tensor* params[4];
    bool plain_f32 = x->dtype() == DType::kF32 && x->rank() >= 2 && x->rank() <= 5;
    for (size_t i = 0; i < 4; ++i) {
      UH_ASSIGN_OR_RETURN(params[i], RequiredInput(context, i + 1, names[i]));
      plain_f32 &=
          params[i]->dtype() == DType::kF32 && plain_f32 && params[i]->num_elements() == x->dim(1);
    }
    // Other dtypes and mis-shaped parameters: the reference kernel computes or explains.
    if (!plain_f32) return fallback_->Compute(context);
    std::shared_ptr<const BatchNormPrimitive> entry =
        cache_.GetOrBuild({x->shape()}, [&] { return Build(x->shape()); });
    if (!entry) return fallback_->Compute(context);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, x->shape()));
    const dnnl::engine& engine = *engine_;
    const dnnl::memory::desc channel_desc = PlainDesc({x->dim(1)});
    ExecuteAndWait(engine, entry->primitive, entry->pd,
                   {{DNNL_ARG_SRC, WrapMemory(entry->pd.src_desc(), engine, x->data())},
                    {DNNL_ARG_SCALE, WrapMemory(channel_desc, engine, params[0]->data())},
                    {DNNL_ARG_SHIFT, WrapMemory(channel_desc, engine, params[1]->data())},
                    {DNNL_ARG_MEAN, WrapMemory(channel_desc, engine, params[2]->data())},
                    {DNNL_ARG_VARIANCE, WrapMemory(channel_desc, engine, params[3]->data())},
                    {DNNL_ARG_DST, WrapMemory(entry->pd.dst_desc(), engine, y->data())}});
    return Status::Ok();
  }

  std::shared_ptr<BatchNormPrimitive> Build(const Shape& x_shape) const {
    auto entry = std::make_shared<BatchNormPrimitive>();
    try {
      const dnnl::batch_normalization_forward::desc desc(
          dnnl::prop_kind::forward_inference, PlainDesc(x_shape), epsilon_,
          dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
              dnnl::normalization_flags::use_shift);
      entry->pd =
          dnnl::batch_normalization_forward::primitive_desc(desc, ConcurrentAttr(), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error)) return nullptr;
      throw;
    }
    entry->primitive = dnnl::batch_normalization_forward(entry->pd);
    return entry;
  }

  const DnnlEnginePtr engine_;
  const float epsilon_;
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<BatchNormPrimitive> cache_;
};

hal::SupportResult SupportsBatchNormalization(const hal::KernelCreateInfo& info) {
  for (size_t i = 0; i < 5; ++i) {
    if (!InputIsF32(info, i)) {
      return hal::SupportResult::No("oneDNN BatchNormalization takes float32 inputs only");
    }
  }
  const std::optional<size_t> rank = InputRank(info, 0);
  if (!rank || *rank < 2 || *rank > 5) {
    return hal::SupportResult::No("oneDNN BatchNormalization needs X of known rank 2 to 5");
  }
  Result<int64_t> spatial = info.node.GetInt("spatial", 1);
  if (!spatial.ok() || *spatial != 1) {
    return hal::SupportResult::No("oneDNN BatchNormalization needs spatial=1");
  }
  // Training mode and its outputs are rejected (with the reason) by the reference kernel.
  Result<int64_t> training_mode = info.node.GetInt("training_mode", 0);
  bool training_outputs = false;
  for (size_t i = 1; i < info.node.outputs.size(); ++i) {
    training_outputs |= !info.node.outputs[i].empty();
  }
  if (!training_mode.ok() || *training_mode != 0 || training_outputs) {
    return hal::SupportResult::No("oneDNN BatchNormalization is inference only");
  }
  return hal::SupportResult::Yes("onednn");
}

}  // namespace

void RegisterDnnlBatchNormalization(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  RegisterDnnlKernel(
      registry, "BatchNormalization", 7, SupportsBatchNormalization,
      [engine](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
        UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> fallback,
                            CreateReferenceBatchNormalization(info));
        UH_ASSIGN_OR_RETURN(float epsilon, info.node.GetFloat("epsilon", 1e-5f));
        return std::unique_ptr<hal::Kernel>(
            std::make_unique<DnnlBatchNormalization>(engine, epsilon, std::move(fallback)));
      });
}

}  // namespace unihal::cpu
