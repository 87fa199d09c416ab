// oneDNN Conv (1-D/2-D/3-D, groups incl. depthwise, dilation, pads, bias) on plain NCHW
// activations, and the cpu device's FusedConv (Conv + residual sum + activation as oneDNN
// post-ops, see cpu_fusion.h). Weights go into the layout the primitive prefers; constant weights
// are reordered once per input shape (at kernel creation when the input shape is static).
// Grouped 1x1 and 2-D depthwise convolutions on plain layouts, and convolutions with larger
// kernels between blocked activations on small planes, or 3x3 at stride 1 on larger ones, bypass
// oneDNN's convolution (grouped_pointwise_conv.h, window_plain.h, conv_blocked.h,
// conv_winograd.h). UNIHAL_CPU_WINOGRAD=0 in the environment keeps the 3x3 convolutions on
// direct summation.
#include <cstdlib>
#include <cstring>
#include <optional>

#include "drivers/cpu/cpu_fusion.h"
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/dnnl/dnnl_layout.h"
#include "drivers/cpu/dnnl/dnnl_post_ops.h"
#include "drivers/cpu/dnnl/grouped_pointwise_conv.h"
#include "drivers/cpu/kernels/conv_blocked.h"
#include "drivers/cpu/kernels/conv_winograd.h"
#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/nn_shapes.h"
#include "drivers/cpu/kernels/window_plain.h"
#include "drivers/cpu/kernels/window_geometry.h"

namespace unihal::cpu {
namespace {

// A convolution between blocked activations run by one of the driver's own kernels.
struct OwnBlockedConv {
  enum class Algorithm { kDirect, kWinograd };
  Algorithm algorithm = Algorithm::kDirect;
  BlockedConvGeometry geometry;
  std::vector<float> packed_weights;
};

bool WinogradAllowed() {
  const char* setting = std::getenv("UNIHAL_CPU_WINOGRAD");
  return setting == nullptr || std::strcmp(setting, "0") != 0;
}

struct ConvPrimitive {
  Shape y_shape;
  // Any one set: no primitive, see the file comment.
  std::optional<GroupedPointwiseShape> pointwise;
  std::optional<PlainWindowPlan> depthwise;
  std::optional<OwnBlockedConv> own;
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward primitive;
  dnnl::memory::desc user_weights_desc;        // ONNX's (M, C/g, k...) as (g, M/g, C/g, k...)
  std::optional<dnnl::memory> packed_weights;  // constant W already in pd's layout
};

class DnnlConv final : public hal::Kernel {
 public:
  DnnlConv(DnnlEnginePtr engine, WindowAttributes window, int64_t group, ConvPostOps post_ops,
           std::optional<Tensor> constant_weights, std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        window_(std::move(window)),
        group_(group),
        post_ops_(std::move(post_ops)),
        constant_weights_(std::move(constant_weights)),
        fallback_(std::move(fallback)) {}

  // Builds the primitive for a static input shape right away (so constant weights are
  // packed at compile time).
  Status Prepare(const ir::Node& node, const Shape& x_shape, const Shape* bias_shape) {
    try {
      Result<std::shared_ptr<const ConvPrimitive>> entry =
          Lookup(node, x_shape, constant_weights_->shape(), bias_shape);
      return entry.status();
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(node, error, "creating the Conv primitive");
    }
  }

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running Conv");
    }
  }

 private:
  Status ComputeOrThrow(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(context, 0, "X"));
    UH_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(context, 1, "W"));
    const Tensor* bias = context.input(2);
    if (x->dtype() != DType::kF32 || w->dtype() != DType::kF32 ||
        (bias && bias->dtype() != DType::kF32)) {
      return ComputeWithReferencePostOps(*fallback_, post_ops_, context);
    }
    UH_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPrimitive> entry,
                        Lookup(node, x->shape(), w->shape(), bias ? &bias->shape() : nullptr));
    if (!entry) return ComputeWithReferencePostOps(*fallback_, post_ops_, context);
    const dnnl::engine& engine = *engine_;
    const Shape& y_shape = entry->y_shape;
    // The residual's storage becomes Y where nothing reads it later: no copy of it into Y,
    // and one buffer less in cache. The grouped and depthwise paths write Y before they read
    // the residual.
    const bool sum_in_place = post_ops_.sum && !entry->pointwise && !entry->depthwise &&
                              post_ops_.sum_blocked == post_ops_.y_blocked;
    UH_ASSIGN_OR_RETURN(Tensor * y, sum_in_place
                                        ? context.AllocateOutputInPlace(0, 3, DType::kF32, y_shape)
                                        : context.AllocateOutput(0, DType::kF32, y_shape));
    if (entry->pointwise) {
      const Tensor* sum = post_ops_.sum ? context.input(3) : nullptr;
      if (post_ops_.sum) UH_RETURN_IF_ERROR(CheckSum(context, sum, *y));
      RunGroupedPointwise(context.thread_pool(), *entry->pointwise, x->data_as<float>(),
                          w->data_as<float>(), bias ? bias->data_as<float>() : nullptr,
                          sum ? sum->data_as<float>() : nullptr, post_ops_, y->data_as<float>());
      return Status::Ok();
    }
    if (entry->depthwise) return ComputeDepthwise(context, *entry->depthwise, *x, *w, bias, *y);
    if (entry->own) return ComputeOwn(context, *entry->own, *x, bias, *y);
    dnnl::memory weights =
        entry->packed_weights
            ? *entry->packed_weights
            : ReorderToScratch(engine, WrapMemory(entry->user_weights_desc, engine, w->data()),
                               entry->pd.weights_desc(), ScratchSlot::kWeights);
    // Activations stay plain between ops; the primitive's own (blocked) layout is used inside.
    const dnnl::memory user_dst =
        WrapMemory(ActivationDesc(y_shape, post_ops_.y_blocked), engine, y->data());
    const bool dst_is_plain = entry->pd.dst_desc() == user_dst.get_desc();
    const dnnl::memory dst =
        dst_is_plain ? user_dst
                     : ScratchMemory(engine, entry->pd.dst_desc(), ScratchSlot::kDestination);
    if (post_ops_.sum) UH_RETURN_IF_ERROR(LoadSum(context, *y, dst));
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC,
         ReorderToScratch(
             engine, WrapMemory(ActivationDesc(x->shape(), post_ops_.x_blocked), engine, x->data()),
             entry->pd.src_desc(), ScratchSlot::kSource)},
        {DNNL_ARG_WEIGHTS, weights},
        {DNNL_ARG_DST, dst}};
    if (bias) args.emplace(DNNL_ARG_BIAS, WrapMemory(entry->pd.bias_desc(), engine, bias->data()));
    ExecuteAndWait(engine, entry->primitive, entry->pd, std::move(args));
    if (!dst_is_plain) ReorderInto(engine, dst, user_dst);
    return Status::Ok();
  }

  Status ComputeDepthwise(hal::KernelContext& context, const PlainWindowPlan& plan,
                          const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y) const {
    const Tensor* sum = post_ops_.sum ? context.input(3) : nullptr;
    if (post_ops_.sum) UH_RETURN_IF_ERROR(CheckSum(context, sum, y));
    // One pointer captured, so the std::function keeps it inline: no allocation per run.
    struct PostOpsOnPlanes {
      const ConvPostOps* ops;
      const float* sum;
      int64_t out_plane;
    } const post{&post_ops_, sum ? sum->data_as<float>() : nullptr,
                 plan.g.out_h * plan.g.out_w};
    PlaneEpilogue epilogue;
    if (!post_ops_.empty()) {
      epilogue = [p = &post](int64_t plane, float* data) {
        ApplyPostOps(*p->ops, data, p->sum ? p->sum + plane * p->out_plane : nullptr,
                     p->out_plane);
      };
    }
    if (!DepthwiseConvPlain(context.thread_pool(), plan, x.data_as<float>(), w.data_as<float>(),
                            bias ? bias->data_as<float>() : nullptr, epilogue,
                            SourceScratchFloats, y.data_as<float>())) {
      return NoWorkingMemoryError(context);
    }
    return Status::Ok();
  }

  static Status NoWorkingMemoryError(const hal::KernelContext& context) {
    return ResourceExhaustedError(context.node().Describe() +
                                  ": no memory for the convolution's working buffers");
  }

  Status ComputeOwn(hal::KernelContext& context, const OwnBlockedConv& own, const Tensor& x,
                    const Tensor* bias, Tensor& y) const {
    const Tensor* sum = post_ops_.sum ? context.input(3) : nullptr;
    if (post_ops_.sum) UH_RETURN_IF_ERROR(CheckSum(context, sum, y));
    BlockedConvEpilogue epilogue;
    epilogue.bias = bias ? bias->data_as<float>() : nullptr;
    epilogue.sum = sum ? sum->data_as<float>() : nullptr;
    epilogue.relu = post_ops_.eltwise.has_value();  // BlockedAlgorithm allows Relu only
    // ConvBlockedDirect's padded rows (per worker) or ConvWinograd's workspace (this thread's)
    // live in SourceScratchFloats.
    hal::ThreadPool& pool = context.thread_pool();
    const bool done =
        own.algorithm == OwnBlockedConv::Algorithm::kWinograd
            ? ConvWinograd(pool, own.geometry, x.data_as<float>(), own.packed_weights.data(),
                           epilogue, SourceScratchFloats, y.data_as<float>())
            : ConvBlockedDirect(pool, own.geometry, x.data_as<float>(), own.packed_weights.data(),
                                epilogue, SourceScratchFloats, y.data_as<float>());
    return done ? Status::Ok() : NoWorkingMemoryError(context);
  }

  // Which of the driver's own kernels runs this convolution, if any: they need constant
  // weights, blocked activations on every side and no activation other than Relu.
  std::optional<OwnBlockedConv::Algorithm> BlockedAlgorithm(const ConvShapes& s,
                                                            const WindowGeometry& g) const {
    const ConvPostOps& ops = post_ops_;
    const bool relu_or_none =
        !ops.eltwise || (*ops.eltwise == dnnl::algorithm::eltwise_relu && ops.alpha == 0.f);
    if (!constant_weights_ || !ops.x_blocked || !ops.y_blocked || (ops.sum && !ops.sum_blocked) ||
        !relu_or_none || g.rank() != 2) {
      return std::nullopt;
    }
    if (BlockedConvTakes(ops.block, s.group, s.in_channels, s.out_channels, g.kernel, g.strides,
                         g.dilations, g.pad_begin, g.pad_end, g.output)) {
      return OwnBlockedConv::Algorithm::kDirect;
    }
    if (WinogradAllowed() &&
        WinogradConvTakes(ops.block, s.group, s.in_channels, s.out_channels, g.kernel, g.strides,
                          g.dilations, g.pad_begin, g.pad_end, g.output)) {
      return OwnBlockedConv::Algorithm::kWinograd;
    }
    return std::nullopt;
  }

  dnnl::memory::desc ActivationDesc(const Shape& shape, bool blocked) const {
    return LayoutDesc(shape, blocked ? post_ops_.block : 0);
  }

  static Status CheckSum(hal::KernelContext& context, const Tensor* sum, const Tensor& y) {
    if (!sum || sum->dtype() != DType::kF32 || sum->shape() != y.shape()) {
      return InvalidArgumentError(context.node().Describe() + ": the fused sum input must be " +
                                  "float32" + ShapeToString(y.shape()));
    }
    return Status::Ok();
  }

  // Puts the residual (input 3) into `dst`, where the sum post-op adds the convolution to it.
  Status LoadSum(hal::KernelContext& context, const Tensor& y, const dnnl::memory& dst) const {
    const Tensor* sum = context.input(3);
    UH_RETURN_IF_ERROR(CheckSum(context, sum, y));
    const dnnl::memory source =
        WrapMemory(ActivationDesc(sum->shape(), post_ops_.sum_blocked), *engine_, sum->data());
    if (dst.get_desc() == source.get_desc()) {
      // In place (AllocateOutputInPlace), the residual is already there.
      if (dst.get_data_handle() != sum->data()) {
        std::memcpy(dst.get_data_handle(), sum->data(), sum->nbytes());
      }
    } else {
      ReorderInto(*engine_, source, dst);
    }
    return Status::Ok();
  }

  // The cached primitive for these shapes; nullptr when oneDNN cannot do them. Shape errors
  // are returned as statuses; dnnl errors other than "unimplemented" are thrown.
  Result<std::shared_ptr<const ConvPrimitive>> Lookup(const ir::Node& node, const Shape& x_shape,
                                                      const Shape& w_shape,
                                                      const Shape* bias_shape) const {
    UH_ASSIGN_OR_RETURN(ConvShapes shapes,
                        CheckConvShapes(node, x_shape, w_shape, bias_shape, group_));
    UH_ASSIGN_OR_RETURN(Shape kernel, ConvKernelShape(node, window_.kernel_shape, w_shape));
    UH_ASSIGN_OR_RETURN(WindowGeometry geometry,
                        ResolveWindow(node, window_, shapes.input_spatial, kernel));
    if (geometry.rank() > 3) return std::shared_ptr<const ConvPrimitive>();
    const PrimitiveCache<ConvPrimitive>::Key key{x_shape, w_shape, Shape{bias_shape ? 1 : 0}};
    return cache_.GetOrBuild(key, [&] { return Build(shapes, geometry, bias_shape != nullptr); });
  }

  std::shared_ptr<ConvPrimitive> Build(const ConvShapes& s, const WindowGeometry& g,
                                       bool has_bias) const {
    using dnnl::memory;
    const dnnl::engine& engine = *engine_;
    Shape w_dims{s.out_channels, s.in_channels / s.group};
    if (s.group > 1) w_dims = {s.group, s.out_channels / s.group, s.in_channels / s.group};
    w_dims.insert(w_dims.end(), g.kernel.begin(), g.kernel.end());
    Shape x_dims{s.batch, s.in_channels};
    x_dims.insert(x_dims.end(), g.input.begin(), g.input.end());
    Shape y_dims{s.batch, s.out_channels};
    y_dims.insert(y_dims.end(), g.output.begin(), g.output.end());
    auto entry = std::make_shared<ConvPrimitive>();
    entry->y_shape = y_dims;
    if (!post_ops_.any_blocked() &&
        IsGroupedPointwise(s.group, s.in_channels / s.group, g.kernel, g.strides, g.dilations,
                           g.pad_begin, g.pad_end)) {
      GroupedPointwiseShape pointwise;
      pointwise.batch = s.batch;
      pointwise.group = s.group;
      pointwise.in_per_group = s.in_channels / s.group;
      pointwise.out_per_group = s.out_channels / s.group;
      pointwise.pixels = 1;
      for (int64_t d : g.output) pointwise.pixels *= d;
      entry->pointwise = pointwise;
      return entry;
    }
    if (!post_ops_.any_blocked() &&
        IsDepthwise2d(s.group, s.in_channels, s.out_channels, g.rank())) {
      entry->depthwise = PlanDepthwiseConv(
          PlainWindow(s.batch, s.in_channels, s.out_channels / s.in_channels, g));
      return entry;
    }
    if (const std::optional<OwnBlockedConv::Algorithm> algorithm = BlockedAlgorithm(s, g)) {
      OwnBlockedConv own;
      own.algorithm = *algorithm;
      BlockedConvGeometry& b = own.geometry;
      b.batch = s.batch;
      b.block = post_ops_.block;
      b.in_blocks = s.in_channels / b.block;
      b.out_blocks = s.out_channels / b.block;
      b.in_h = g.input[0];
      b.in_w = g.input[1];
      b.out_h = g.output[0];
      b.out_w = g.output[1];
      b.kernel_h = g.kernel[0];
      b.kernel_w = g.kernel[1];
      b.stride_h = g.strides[0];
      b.stride_w = g.strides[1];
      b.pad_top = g.pad_begin[0];
      b.pad_left = g.pad_begin[1];
      const float* weights = constant_weights_->data_as<float>();
      own.packed_weights = *algorithm == OwnBlockedConv::Algorithm::kWinograd
                               ? PackWinogradWeights(b, weights)
                               : PackBlockedConvWeights(b, weights);
      entry->own = std::move(own);
      return entry;
    }
    memory::dims dilations;
    for (int64_t d : g.dilations) dilations.push_back(d - 1);  // oneDNN counts the gaps
    const memory::desc weights_any(ToDnnlDims(w_dims), memory::data_type::f32,
                                   memory::format_tag::any);
    // Blocked activation layouts give direct (not im2col+GEMM) convolutions, which are faster
    // and compute every output channel with the same summation order.
    // Activations kept blocked between convolutions (cpu_layout.h) fix the layout instead.
    const memory::desc src =
        post_ops_.x_blocked
            ? ChannelBlockedDesc(x_dims, post_ops_.block)
            : memory::desc(ToDnnlDims(x_dims), memory::data_type::f32, memory::format_tag::any);
    const memory::desc dst =
        post_ops_.y_blocked
            ? ChannelBlockedDesc(y_dims, post_ops_.block)
            : memory::desc(ToDnnlDims(y_dims), memory::data_type::f32, memory::format_tag::any);
    const memory::dims strides = ToDnnlDims(g.strides);
    const memory::dims pad_l = ToDnnlDims(g.pad_begin);
    const memory::dims pad_r = ToDnnlDims(g.pad_end);
    dnnl::primitive_attr attr = ConcurrentAttr();
    AppendPostOps(post_ops_, attr);
    try {
      const auto desc =
          has_bias
              ? dnnl::convolution_forward::desc(
                    dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                    weights_any, PlainDesc({s.out_channels}), dst, strides, dilations, pad_l, pad_r)
              : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                dnnl::algorithm::convolution_direct, src,
                                                weights_any, dst, strides, dilations, pad_l, pad_r);
      entry->pd = dnnl::convolution_forward::primitive_desc(desc, attr, engine);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error)) return nullptr;
      throw;
    }
    entry->primitive = dnnl::convolution_forward(entry->pd);
    entry->user_weights_desc = PlainDesc(w_dims);
    if (constant_weights_) {
      entry->packed_weights =
          ReorderTo(engine, WrapMemory(entry->user_weights_desc, engine, constant_weights_->data()),
                    entry->pd.weights_desc());
    }
    return entry;
  }

  const DnnlEnginePtr engine_;
  const WindowAttributes window_;
  const int64_t group_;
  const ConvPostOps post_ops_;
  const std::optional<Tensor> constant_weights_;  // keeps the initializer alive
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<ConvPrimitive> cache_;
};

hal::SupportResult SupportsConv(const hal::KernelCreateInfo& info) {
  if (!InputIsF32(info, 0) || !InputIsF32(info, 1) ||
      (info.node.has_input(2) && !InputIsF32(info, 2))) {
    return hal::SupportResult::No("oneDNN Conv takes float32 X, W and B only");
  }
  const std::optional<size_t> rank = InputRank(info, 0);
  if (!rank || *rank < 3 || *rank > 5) {
    return hal::SupportResult::No("oneDNN Conv needs X of known rank 3, 4 or 5");
  }
  return hal::SupportResult::Yes("onednn");
}

Result<std::unique_ptr<hal::Kernel>> CreateDnnlConv(const DnnlEnginePtr& engine,
                                                    const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(WindowAttributes window, ParseWindowAttributes(info.node, false));
  window.ceil_mode = false;  // Conv has no ceil_mode
  UH_ASSIGN_OR_RETURN(int64_t group, info.node.GetInt("group", 1));
  UH_ASSIGN_OR_RETURN(ConvPostOps post_ops, ParseConvPostOps(info.node));
  UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> fallback, CreateReferenceConv(info));
  std::optional<Tensor> weights;
  if (const Tensor* w = info.ConstantInput(1); w && w->dtype() == DType::kF32) weights = *w;
  auto kernel = std::make_unique<DnnlConv>(engine, std::move(window), group, std::move(post_ops),
                                           weights, std::move(fallback));
  const std::optional<Shape> x_shape = InputStaticShape(info, 0);
  const std::optional<Shape> bias_shape = InputStaticShape(info, 2);
  if (weights && x_shape && (!info.node.has_input(2) || bias_shape)) {
    UH_RETURN_IF_ERROR(kernel->Prepare(info.node, *x_shape, bias_shape ? &*bias_shape : nullptr));
  }
  return std::unique_ptr<hal::Kernel>(std::move(kernel));
}

hal::SupportResult SupportsFusedConv(const hal::KernelCreateInfo& info) {
  if (info.node.has_input(3) && !InputIsF32(info, 3)) {
    return hal::SupportResult::No("oneDNN FusedConv takes a float32 sum input only");
  }
  if (!ParseConvPostOps(info.node).ok()) {
    return hal::SupportResult::No("oneDNN FusedConv: unknown activation");
  }
  return SupportsConv(info);
}

}  // namespace

void RegisterDnnlConv(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  auto create = [engine](const hal::KernelCreateInfo& info) {
    return CreateDnnlConv(engine, info);
  };
  RegisterDnnlKernel(registry, "Conv", 1, SupportsConv, create);
  registry.Register(hal::KernelDef{kFusedConvOp, kCpuFusionDomain, 1, INT_MAX, "onednn", 10,
                                   SupportsFusedConv, create});
}

}  // namespace unihal::cpu
