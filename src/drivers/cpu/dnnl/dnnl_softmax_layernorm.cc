// oneDNN Softmax / LogSoftmax over the innermost axis and LayerNormalization over trailing
// axes, float32: jit kernels with a vectorised exp and one pass per statistic, where the
// reference kernels call libm's expf per element and accumulate in double. Other cases
// (another softmax axis, other dtypes, LayerNormalization's Mean and InvStdDev outputs) run
// the reference kernels.
#include <string_view>

#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/math_ref.h"

namespace unihal::cpu {
namespace {

// x viewed as [rows, cols] with the op working along cols; nullopt when it is not a 2-D view.
struct RowView {
  int64_t rows = 1;
  int64_t cols = 1;
};

template <typename Primitive>
struct RowPrimitive {
  typename Primitive::primitive_desc pd;
  Primitive primitive;
};

// The node's "axis" (default `default_axis`) normalised for `shape`; nullopt when invalid (the
// reference kernel then explains).
std::optional<int64_t> Axis(const ir::Node& node, const Shape& shape, int64_t default_axis) {
  Result<int64_t> axis = node.GetInt("axis", default_axis);
  if (!axis.ok()) return std::nullopt;
  Result<int64_t> normalized = NormalizeAxis(node, *axis, static_cast<int64_t>(shape.size()));
  if (!normalized.ok()) return std::nullopt;
  return *normalized;
}

// `shape` flattened to [rows, cols] with the dims before `axis` as rows.
RowView SplitAt(const Shape& shape, int64_t axis) {
  RowView view;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    (d < axis ? view.rows : view.cols) *= shape[static_cast<size_t>(d)];
  }
  return view;
}

// Softmax along the innermost axis (or, before opset 13, along the flattened trailing axes).
std::optional<RowView> SoftmaxRows(const ir::Node& node, const Shape& shape) {
  const bool coerce_2d = node.opset < 13;
  const std::optional<int64_t> axis = Axis(node, shape, coerce_2d ? 1 : -1);
  if (!axis || (!coerce_2d && *axis + 1 != static_cast<int64_t>(shape.size()))) {
    return std::nullopt;
  }
  return SplitAt(shape, *axis);
}

class DnnlSoftmax final : public hal::Kernel {
 public:
  DnnlSoftmax(DnnlEnginePtr engine, bool log) : engine_(std::move(engine)), log_(log) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error,
                             log_ ? "running LogSoftmax" : "running Softmax");
    }
  }

 private:
  using Entry = RowPrimitive<dnnl::softmax_v2_forward>;

  Status ComputeOrThrow(hal::KernelContext& context) const {
    const Tensor* x = context.input(0);
    if (!x || x->dtype() != DType::kF32 || x->num_elements() == 0) {
      return ReferenceSoftmax(context, log_);
    }
    const std::optional<RowView> view = SoftmaxRows(context.node(), x->shape());
    if (!view) return ReferenceSoftmax(context, log_);
    std::shared_ptr<const Entry> entry =
        cache_.GetOrBuild({x->shape()}, [&] { return Build(*view); });
    if (!entry) return ReferenceSoftmax(context, log_);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, x->shape()));
    ExecuteAndWait(*engine_, entry->primitive, entry->pd,
                   {{DNNL_ARG_SRC, WrapMemory(entry->pd.src_desc(), *engine_, x->data())},
                    {DNNL_ARG_DST, WrapMemory(entry->pd.dst_desc(), *engine_, y->data())}});
    return Status::Ok();
  }

  std::shared_ptr<Entry> Build(const RowView& view) const {
    const dnnl::memory::desc desc = PlainDesc({view.rows, view.cols});
    auto entry = std::make_shared<Entry>();
    try {
      entry->pd = dnnl::softmax_v2_forward::primitive_desc(
          dnnl::softmax_v2_forward::desc(
              dnnl::prop_kind::forward_inference,
              log_ ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate, desc, desc,
              1),
          ConcurrentAttr(), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error)) return nullptr;
      throw;
    }
    // The reference kernel beats oneDNN's own reference implementation.
    if (std::string_view(entry->pd.impl_info_str()).substr(0, 3) != "jit") return nullptr;
    entry->primitive = dnnl::softmax_v2_forward(entry->pd);
    return entry;
  }

  const DnnlEnginePtr engine_;
  const bool log_;
  mutable PrimitiveCache<Entry> cache_;
};

class DnnlLayerNormalization final : public hal::Kernel {
 public:
  explicit DnnlLayerNormalization(DnnlEnginePtr engine) : engine_(std::move(engine)) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running LayerNormalization");
    }
  }

 private:
  using Entry = RowPrimitive<dnnl::layer_normalization_forward>;

  Status ComputeOrThrow(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    const Tensor* x = context.input(0);
    const Tensor* scale = context.input(1);
    const Tensor* bias = context.input(2);
    const std::optional<RowView> view = x ? Rows(node, x->shape()) : std::nullopt;
    auto is_row_parameter = [&](const Tensor* t) {
      return t->dtype() == DType::kF32 && t->num_elements() == view->cols;
    };
    if (!view || x->dtype() != DType::kF32 || x->num_elements() == 0 || !scale ||
        !is_row_parameter(scale) || (bias && !is_row_parameter(bias)) || StatisticsWanted(node)) {
      return ReferenceLayerNormalization(context);
    }
    UH_ASSIGN_OR_RETURN(const float epsilon, node.GetFloat("epsilon", 1e-5f));
    std::shared_ptr<const Entry> entry = cache_.GetOrBuild(
        {x->shape(), Shape{bias ? 1 : 0}}, [&] { return Build(*view, epsilon, bias != nullptr); });
    if (!entry) return ReferenceLayerNormalization(context);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, x->shape()));
    const dnnl::memory::desc row_desc = PlainDesc({view->cols});
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, WrapMemory(entry->pd.src_desc(), *engine_, x->data())},
        {DNNL_ARG_SCALE, WrapMemory(row_desc, *engine_, scale->data())},
        {DNNL_ARG_DST, WrapMemory(entry->pd.dst_desc(), *engine_, y->data())}};
    if (bias) args.emplace(DNNL_ARG_SHIFT, WrapMemory(row_desc, *engine_, bias->data()));
    ExecuteAndWait(*engine_, entry->primitive, entry->pd, std::move(args));
    return Status::Ok();
  }

  static std::optional<RowView> Rows(const ir::Node& node, const Shape& shape) {
    const std::optional<int64_t> axis = Axis(node, shape, -1);
    if (!axis) return std::nullopt;
    return SplitAt(shape, *axis);
  }

  // Mean / InvStdDev outputs, or statistics in another precision: the reference kernel.
  static bool StatisticsWanted(const ir::Node& node) {
    for (size_t i = 1; i < node.outputs.size(); ++i) {
      if (!node.outputs[i].empty()) return true;
    }
    Result<int64_t> stash_type = node.GetInt("stash_type", 1);
    return !stash_type.ok() || *stash_type != 1;
  }

  std::shared_ptr<Entry> Build(const RowView& view, float epsilon, bool with_bias) const {
    const dnnl::memory::desc desc = PlainDesc({view.rows, view.cols});
    dnnl::normalization_flags flags = dnnl::normalization_flags::use_scale;
    if (with_bias) flags |= dnnl::normalization_flags::use_shift;
    auto entry = std::make_shared<Entry>();
    try {
      entry->pd = dnnl::layer_normalization_forward::primitive_desc(
          dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, desc, epsilon,
                                                  flags),
          ConcurrentAttr(), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error)) return nullptr;
      throw;
    }
    entry->primitive = dnnl::layer_normalization_forward(entry->pd);
    return entry;
  }

  const DnnlEnginePtr engine_;
  mutable PrimitiveCache<Entry> cache_;
};

hal::SupportResult SupportsFloat32Input(const hal::KernelCreateInfo& info) {
  if (!InputIsF32(info, 0)) return hal::SupportResult::No("oneDNN takes float32 X only");
  return hal::SupportResult::Yes("onednn");
}

}  // namespace

void RegisterDnnlSoftmaxAndLayerNorm(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  for (const bool log : {false, true}) {
    RegisterDnnlKernel(
        registry, log ? "LogSoftmax" : "Softmax", 1, SupportsFloat32Input,
        [engine, log](const hal::KernelCreateInfo&) {
          return Result<std::unique_ptr<hal::Kernel>>(std::make_unique<DnnlSoftmax>(engine, log));
        });
  }
  RegisterDnnlKernel(registry, "LayerNormalization", 17, SupportsFloat32Input,
                     [engine](const hal::KernelCreateInfo&) {
                       return Result<std::unique_ptr<hal::Kernel>>(
                           std::make_unique<DnnlLayerNormalization>(engine));
                     });
}

}  // namespace unihal::cpu
