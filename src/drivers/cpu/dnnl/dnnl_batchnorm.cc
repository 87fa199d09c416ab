// oneDNN BatchNormalization, inference only: global statistics with separate scale and shift.
// Also the cpu-private form (domain kCpuFusionDomain, cpu_channel_affine.h and cpu_layout.h):
// an optional fused Relu and X / Y in the channel-blocked layout.
#include "drivers/cpu/cpu_channel_affine.h"
#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/dnnl/dnnl_layout.h"
#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {
namespace {

struct BatchNormPrimitive {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward primitive;
};

class DnnlBatchNormalization final : public hal::Kernel {
 public:
  DnnlBatchNormalization(DnnlEnginePtr engine, float epsilon, bool relu, int64_t layout,
                         std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        epsilon_(epsilon),
        relu_(relu),
        layout_(layout),
        fallback_(std::move(fallback)) {}

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
    if (!plain_f32) return Fallback(context);
    std::shared_ptr<const BatchNormPrimitive> entry =
        cache_.GetOrBuild({x->shape()}, [&] { return Build(x->shape()); });
    if (!entry) return Fallback(context);
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

  // The reference kernel (on plain copies when blocked), then the fused Relu.
  Status Fallback(hal::KernelContext& context) const {
    if (layout_ == 0 && !relu_) return fallback_->Compute(context);
    const auto relu = [](Tensor& y) {
      if (y.dtype() != DType::kF32) return;
      float* v = y.data_as<float>();
      for (int64_t i = 0; i < y.num_elements(); ++i) v[i] = v[i] > 0.f ? v[i] : 0.f;
    };
    return ComputeOnPlainCopies(*engine_, *fallback_, {layout_ != 0}, layout_ != 0, layout_,
                                context, relu_ ? std::function<void(Tensor&)>(relu) : nullptr);
  }

  std::shared_ptr<BatchNormPrimitive> Build(const Shape& x_shape) const {
    auto entry = std::make_shared<BatchNormPrimitive>();
    auto flags = dnnl::normalization_flags::use_global_stats |
                 dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
    if (relu_) flags |= dnnl::normalization_flags::fuse_norm_relu;
    try {
      // Plain tensors stay plain: oneDNN 2.6's plain batch norm is vectorized over space.
      const dnnl::batch_normalization_forward::desc desc(
          dnnl::prop_kind::forward_inference, LayoutDesc(x_shape, layout_), epsilon_, flags);
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
  const bool relu_;       // the cpu-private form's fused Relu
  const int64_t layout_;  // of X and Y: 0 plain, else their channel block
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

// The cpu-private form: a fused Relu and blocked layouts (4-D, channels a multiple of the
// block).
hal::SupportResult SupportsCpuBatchNormalization(const hal::KernelCreateInfo& info) {
  hal::SupportResult plain = SupportsBatchNormalization(info);
  if (!plain.supported) return plain;
  Result<std::string> activation = info.node.GetString(kBatchNormActivationAttr, "");
  if (!activation.ok() || (!activation->empty() && *activation != "Relu")) {
    return hal::SupportResult::No("oneDNN BatchNormalization fuses Relu only");
  }
  Result<int64_t> layout = ParseBlockedLayout(info.node, kXLayoutAttr);
  if (!layout.ok()) return hal::SupportResult::No(layout.status().message());
  if (*layout != 0 && !HasBlockableChannels(info, *layout)) {
    return hal::SupportResult::No(
        "blocked BatchNormalization needs 4-D X with channels a multiple of " +
        std::to_string(*layout));
  }
  return plain;
}

Result<std::unique_ptr<hal::Kernel>> CreateDnnlBatchNormalization(
    const DnnlEnginePtr& engine, const hal::KernelCreateInfo& info) {
  // The reference kernel reads the ONNX op (the layout and activation are handled here).
  ir::Node onnx = info.node;
  onnx.domain.clear();
  for (const char* attr : {kXLayoutAttr, kYLayoutAttr, kBatchNormActivationAttr}) {
    onnx.attributes.erase(attr);
  }
  UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> fallback,
                      CreateReferenceBatchNormalization(hal::KernelCreateInfo{onnx, info.graph}));
  UH_ASSIGN_OR_RETURN(float epsilon, info.node.GetFloat("epsilon", 1e-5f));
  UH_ASSIGN_OR_RETURN(std::string activation, info.node.GetString(kBatchNormActivationAttr, ""));
  UH_ASSIGN_OR_RETURN(XYLayouts layouts, ParseXYLayouts(info.node));
  if (layouts.x_blocked != layouts.y_blocked) {
    return InvalidArgumentError(info.node.Describe() + ": X and Y of a BatchNormalization need " +
                                "one layout");
  }
  return std::unique_ptr<hal::Kernel>(std::make_unique<DnnlBatchNormalization>(
      engine, epsilon, activation == "Relu", layouts.x_blocked ? layouts.block : 0,
      std::move(fallback)));
}

}  // namespace

void RegisterDnnlBatchNormalization(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  auto create = [engine](const hal::KernelCreateInfo& info) {
    return CreateDnnlBatchNormalization(engine, info);
  };
  RegisterDnnlKernel(registry, "BatchNormalization", 7, SupportsBatchNormalization, create);
  registry.Register(hal::KernelDef{"BatchNormalization", kCpuFusionDomain, 1, INT_MAX, "onednn", 10,
                                   SupportsCpuBatchNormalization, create});
}

}  // namespace unihal::cpu
