// oneDNN MaxPool / AveragePool / GlobalAveragePool (pooling_v2: dilations) on plain NCHW.
// ceil_mode becomes extra right padding, as ONNX Runtime does; for an average that counts the
// padding this differs from ONNX (the extra padding must not count), so those shapes go to
// the reference kernel.
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {
namespace {

enum class PoolKind { kMax, kAverage, kGlobalAverage };

struct PoolPrimitive {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward primitive;
};

class DnnlPool final : public hal::Kernel {
 public:
  DnnlPool(DnnlEnginePtr engine, PoolKind kind, WindowAttributes window, bool count_include_pad,
           std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        kind_(kind),
        window_(std::move(window)),
        count_include_pad_(count_include_pad),
        fallback_(std::move(fallback)) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running " + context.node().op_type);
    }
  }

 private:
  Status ComputeOrThrow(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    if (x->dtype() != DType::kF32 || x->rank() < 3 || x->rank() > 5) {
      return fallback_->Compute(context);
    }
    const Shape spatial(x->shape().begin() + 2, x->shape().end());
    UH_ASSIGN_OR_RETURN(
        WindowGeometry g,
        ResolveWindow(node, window_, spatial,
                      kind_ == PoolKind::kGlobalAverage ? spatial : window_.kernel_shape));
    std::shared_ptr<const PoolPrimitive> entry =
        cache_.GetOrBuild({x->shape()}, [&] { return Build(x->shape(), g); });
    if (!entry) return fallback_->Compute(context);
    const dnnl::memory::desc dst_desc = entry->pd.dst_desc();
    const dnnl::memory::dims dst_dims = dst_desc.dims();  // a fresh vector per call
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(
                                        0, DType::kF32, Shape(dst_dims.begin(), dst_dims.end())));
    const dnnl::engine& engine = *engine_;
    ExecuteAndWait(engine, entry->primitive, entry->pd,
                   {{DNNL_ARG_SRC, WrapMemory(entry->pd.src_desc(), engine, x->data())},
                    {DNNL_ARG_DST, WrapMemory(dst_desc, engine, y->data())}});
    return Status::Ok();
  }

  std::shared_ptr<PoolPrimitive> Build(const Shape& x_shape, const WindowGeometry& g) const {
    using dnnl::memory;
    memory::dims padding_r;
    bool extra_padding = false;
    for (size_t i = 0; i < g.rank(); ++i) {
      padding_r.push_back(g.PaddingForOutput(i));
      extra_padding |= padding_r.back() > g.pad_end[i];
    }
    dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
    if (kind_ != PoolKind::kMax) {
      if (count_include_pad_ && extra_padding) return nullptr;  // see the file comment
      algorithm = count_include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                     : dnnl::algorithm::pooling_avg_exclude_padding;
    }
    memory::dims dilations;
    for (int64_t d : g.dilations) dilations.push_back(d - 1);  // oneDNN counts the gaps
    Shape y_shape{x_shape[0], x_shape[1]};
    y_shape.insert(y_shape.end(), g.output.begin(), g.output.end());
    auto entry = std::make_shared<PoolPrimitive>();
    try {
      const dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm,
                                                PlainDesc(x_shape), PlainDesc(y_shape),
                                                ToDnnlDims(g.strides), ToDnnlDims(g.kernel),
                                                dilations, ToDnnlDims(g.pad_begin), padding_r);
      entry->pd = dnnl::pooling_v2_forward::primitive_desc(desc, ConcurrentAttr(), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error) || error.status == dnnl_invalid_arguments) return nullptr;
      throw;
    }
    entry->primitive = dnnl::pooling_v2_forward(entry->pd);
    return entry;
  }

  const DnnlEnginePtr engine_;
  const PoolKind kind_;
  const WindowAttributes window_;
  const bool count_include_pad_;
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<PoolPrimitive> cache_;
};

hal::SupportResult SupportsPool(const hal::KernelCreateInfo& info) {
  if (!InputIsF32(info, 0)) return hal::SupportResult::No("oneDNN pooling takes float32 X only");
  const std::optional<size_t> rank = InputRank(info, 0);
  if (!rank || *rank < 3 || *rank > 5) {
    return hal::SupportResult::No("oneDNN pooling needs X of known rank 3, 4 or 5");
  }
  if (info.node.outputs.size() > 1 && !info.node.outputs[1].empty()) {
    return hal::SupportResult::No("oneDNN MaxPool does not produce the Indices output");
  }
  return hal::SupportResult::Yes("onednn");
}

hal::KernelFactory PoolFactory(const DnnlEnginePtr& engine, PoolKind kind) {
  return [engine, kind](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
    std::unique_ptr<hal::Kernel> fallback;
    WindowAttributes window;
    int64_t count_include_pad = 0;
    if (kind == PoolKind::kGlobalAverage) {
      UH_ASSIGN_OR_RETURN(fallback, CreateReferenceGlobalAveragePool(info));
    } else {
      // The reference factory also validates the attributes (pads < kernel, storage_order).
      if (kind == PoolKind::kMax) {
        UH_ASSIGN_OR_RETURN(fallback, CreateReferenceMaxPool(info));
      } else {
        UH_ASSIGN_OR_RETURN(fallback, CreateReferenceAveragePool(info));
        UH_ASSIGN_OR_RETURN(count_include_pad, info.node.GetInt("count_include_pad", 0));
      }
      UH_ASSIGN_OR_RETURN(window, ParseWindowAttributes(info.node, true));
    }
    return std::unique_ptr<hal::Kernel>(std::make_unique<DnnlPool>(
        engine, kind, std::move(window), count_include_pad != 0, std::move(fallback)));
  };
}

}  // namespace

void RegisterDnnlPools(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  RegisterDnnlKernel(registry, "MaxPool", 1, SupportsPool, PoolFactory(engine, PoolKind::kMax));
  RegisterDnnlKernel(registry, "AveragePool", 1, SupportsPool,
                     PoolFactory(engine, PoolKind::kAverage));
  RegisterDnnlKernel(registry, "GlobalAveragePool", 1, SupportsPool,
                     PoolFactory(engine, PoolKind::kGlobalAverage));
}

}  // namespace unihal::cpu
