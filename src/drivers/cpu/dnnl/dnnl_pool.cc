// oneDNN MaxPool / AveragePool / GlobalAveragePool (pooling_v2: dilations), and their
// cpu-private forms (domain kCpuFusionDomain, cpu_layout.h) reading and writing the
// channel-blocked layout. oneDNN 2.6 has jit pooling only for blocked (and channels-last)
// layouts, its plain-NCHW pooling is a slow reference loop, so plain tensors with 1-D and 3-D
// windows are pooled through blocked copies. ceil_mode becomes extra right padding, as ONNX Runtime does; for an average
// that counts the padding this differs from ONNX (the extra padding must not count), so those
// shapes go to the reference kernel. 2-D windows run the driver's own kernels instead of oneDNN's
// pooling, which is several times slower on these machines: PoolPlain (window_plain.h) between
// plain tensors, PoolBlocked (pool_blocked.h) where either side is blocked.
#include "drivers/cpu/cpu_fusion.h"
#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/dnnl/dnnl_layout.h"
#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/pool_blocked.h"
#include "drivers/cpu/kernels/window_plain.h"
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
           XYLayouts layouts, std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        kind_(kind),
        window_(std::move(window)),
        count_include_pad_(count_include_pad),
        x_blocked_(layouts.x_blocked),
        y_blocked_(layouts.y_blocked),
        block_(layouts.block),
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
    if (x->dtype() != DType::kF32 || x->rank() < 3 || x->rank() > 5) return Fallback(context);
    const Shape spatial(x->shape().begin() + 2, x->shape().end());
    UH_ASSIGN_OR_RETURN(
        WindowGeometry g,
        ResolveWindow(node, window_, spatial,
                      kind_ == PoolKind::kGlobalAverage ? spatial : window_.kernel_shape));
    if (g.rank() == 2) {
      bool extra_padding = false;
      for (size_t i = 0; i < g.rank(); ++i) extra_padding |= g.PaddingForOutput(i) > g.pad_end[i];
      if (kind_ != PoolKind::kMax && count_include_pad_ && extra_padding) {
        return Fallback(context);  // see the file comment
      }
      if (!x_blocked_ && !y_blocked_) return ComputePlain(context, *x, g);
      return ComputeBlocked(context, *x, g);
    }
    std::shared_ptr<const PoolPrimitive> entry =
        cache_.GetOrBuild({x->shape()}, [&] { return Build(x->shape(), g); });
    if (!entry) return Fallback(context);
    const dnnl::memory::desc dst_desc = entry->pd.dst_desc();
    const dnnl::memory::dims dst_dims = dst_desc.dims();  // a fresh vector per call
    const Shape y_shape(dst_dims.begin(), dst_dims.end());
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, y_shape));
    const dnnl::engine& engine = *engine_;
    const bool src_direct = x_blocked_ || BlockedIsPlain(x->shape(), block_);
    const dnnl::memory src =
        src_direct ? WrapMemory(entry->pd.src_desc(), engine, x->data())
                   : ReorderToScratch(engine, WrapMemory(PlainDesc(x->shape()), engine, x->data()),
                                      entry->pd.src_desc(), ScratchSlot::kSource);
    const bool dst_direct = y_blocked_ || BlockedIsPlain(y_shape, block_);
    const dnnl::memory dst = dst_direct
                                 ? WrapMemory(dst_desc, engine, y->data())
                                 : ScratchMemory(engine, dst_desc, ScratchSlot::kDestination);
    ExecuteAndWait(engine, entry->primitive, entry->pd, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    if (!dst_direct) ReorderInto(engine, dst, WrapMemory(PlainDesc(y_shape), engine, y->data()));
    return Status::Ok();
  }

  Status ComputePlain(hal::KernelContext& context, const Tensor& x,
                      const WindowGeometry& g) const {
    const std::shared_ptr<const PlainWindowPlan> plan =
        plain_plans_.GetOrBuild({x.shape()}, [&] {
          return std::make_shared<PlainWindowPlan>(
              PlanPool(PlainWindow(x.shape()[0], x.shape()[1], 1, g), Op()));
        });
    const Shape y_shape{x.shape()[0], x.shape()[1], g.output[0], g.output[1]};
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, y_shape));
    if (!PoolPlain(context.thread_pool(), *plan, x.data_as<float>(), SourceScratchFloats,
                   y->data_as<float>())) {
      return ResourceExhaustedError(context.node().Describe() +
                                    ": no memory for the pool's working buffer");
    }
    return Status::Ok();
  }

  PoolOp Op() const {
    return kind_ == PoolKind::kMax ? PoolOp::kMax
           : count_include_pad_    ? PoolOp::kAverageIncludePad
                                   : PoolOp::kAverageExcludePad;
  }

  Status ComputeBlocked(hal::KernelContext& context, const Tensor& x,
                         const WindowGeometry& g) const {
    const Shape y_shape{x.shape()[0], x.shape()[1], g.output[0], g.output[1]};
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, y_shape));
    const dnnl::engine& engine = *engine_;
    const float* src = x.data_as<float>();
    if (!x_blocked_ && !BlockedIsPlain(x.shape(), block_)) {
      src = static_cast<const float*>(
          ReorderToScratch(engine, WrapMemory(PlainDesc(x.shape()), engine, src),
                           ChannelBlockedDesc(x.shape(), block_), ScratchSlot::kSource)
              .get_data_handle());
    }
    const bool dst_direct = y_blocked_ || BlockedIsPlain(y_shape, block_);
    const dnnl::memory::desc y_blocked_desc = ChannelBlockedDesc(y_shape, block_);
    const dnnl::memory dst = dst_direct
                                 ? WrapMemory(y_blocked_desc, engine, y->data())
                                 : ScratchMemory(engine, y_blocked_desc, ScratchSlot::kDestination);
    BlockedPoolGeometry geometry;
    static_cast<Window2d&>(geometry) = g.As2d();
    geometry.batch = x.shape()[0];
    geometry.block = block_;
    geometry.channel_blocks = (x.shape()[1] + block_ - 1) / block_;
    PoolBlocked(context.thread_pool(), geometry, Op(), src,
                static_cast<float*>(dst.get_data_handle()));
    if (!dst_direct) ReorderInto(engine, dst, WrapMemory(PlainDesc(y_shape), engine, y->data()));
    return Status::Ok();
  }

  Status Fallback(hal::KernelContext& context) const {
    if (!x_blocked_ && !y_blocked_) return fallback_->Compute(context);
    return ComputeOnPlainCopies(*engine_, *fallback_, {x_blocked_}, y_blocked_, block_, context);
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
      // Blocked on both sides even for plain tensors: see the file comment.
      const dnnl::pooling_v2_forward::desc desc(
          dnnl::prop_kind::forward_inference, algorithm, ChannelBlockedDesc(x_shape, block_),
          ChannelBlockedDesc(y_shape, block_), ToDnnlDims(g.strides), ToDnnlDims(g.kernel),
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
  const bool x_blocked_;  // X in the channel-blocked layout (the cpu-private form)
  const bool y_blocked_;  // Y in the channel-blocked layout
  const int64_t block_;   // their channel block, also of the blocked copies of plain tensors
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<PoolPrimitive> cache_;
  mutable PrimitiveCache<PlainWindowPlan> plain_plans_;  // per X shape
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

// The cpu-private form: X and/or Y blocked, so rank 4 with channels a multiple of the block.
hal::SupportResult SupportsBlockedPool(const hal::KernelCreateInfo& info) {
  hal::SupportResult plain = SupportsPool(info);
  if (!plain.supported) return plain;
  Result<XYLayouts> layouts = ParseXYLayouts(info.node);
  if (!layouts.ok()) return hal::SupportResult::No(layouts.status().message());
  if (!HasBlockableChannels(info, layouts->block)) {
    return hal::SupportResult::No("blocked pooling needs 4-D X with channels a multiple of " +
                                  std::to_string(layouts->block));
  }
  return plain;
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
    UH_ASSIGN_OR_RETURN(XYLayouts layouts, ParseXYLayouts(info.node));
    return std::unique_ptr<hal::Kernel>(std::make_unique<DnnlPool>(
        engine, kind, std::move(window), count_include_pad != 0, layouts, std::move(fallback)));
  };
}

}  // namespace

void RegisterDnnlPools(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  for (auto [op, kind] :
       {std::pair{"MaxPool", PoolKind::kMax}, std::pair{"AveragePool", PoolKind::kAverage},
        std::pair{"GlobalAveragePool", PoolKind::kGlobalAverage}}) {
    RegisterDnnlKernel(registry, op, 1, SupportsPool, PoolFactory(engine, kind));
    registry.Register(hal::KernelDef{op, kCpuFusionDomain, 1, INT_MAX, "onednn", 10,
                                     SupportsBlockedPool, PoolFactory(engine, kind)});
  }
}

}  // namespace unihal::cpu
