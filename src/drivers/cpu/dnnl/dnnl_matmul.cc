// oneDNN MatMul (batched, with the batch broadcasting oneDNN expresses) and Gemm (a 2-D
// matmul: transposes as strided descriptors, alpha as output scale, beta * C as a sum
// post-op over a destination pre-filled with broadcast C). Constant B is packed once per
// input shape into the layout the primitive prefers.
#include <optional>

#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/kernels/nn_ref.h"
#include "drivers/cpu/kernels/nn_shapes.h"

namespace unihal::cpu {
namespace {

struct MatMulPrimitive {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul primitive;
  dnnl::memory::desc user_weights_desc;        // B as the caller stores it
  std::optional<dnnl::memory> packed_weights;  // constant B in pd's layout
};

// Builds a matmul for the given operand descriptors; nullptr when oneDNN has no
// implementation. `constant_weights` (B's data) is packed into the chosen layout.
std::shared_ptr<MatMulPrimitive> BuildMatMul(const dnnl::engine& engine,
                                             const dnnl::memory::desc& src,
                                             const dnnl::memory::desc& user_weights,
                                             const dnnl::memory::desc& dst,
                                             const dnnl::primitive_attr& attr,
                                             const Tensor* constant_weights) {
  auto entry = std::make_shared<MatMulPrimitive>();
  entry->user_weights_desc = user_weights;
  const dnnl::memory::desc weights =
      constant_weights ? dnnl::memory::desc(user_weights.dims(), dnnl::memory::data_type::f32,
                                            dnnl::memory::format_tag::any)
                       : user_weights;
  try {
    entry->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, engine);
  } catch (const dnnl::error& error) {
    if (IsUnimplemented(error)) return nullptr;
    throw;
  }
  entry->primitive = dnnl::matmul(entry->pd);
  if (constant_weights) {
    entry->packed_weights =
        ReorderTo(engine, WrapMemory(user_weights, engine, constant_weights->data()),
                  entry->pd.weights_desc());
  }
  return entry;
}

void RunMatMul(const dnnl::engine& engine, const MatMulPrimitive& entry, const void* a,
               const void* b, void* y) {
  dnnl::memory weights =
      entry.packed_weights
          ? *entry.packed_weights
          : ReorderToScratch(engine, WrapMemory(entry.user_weights_desc, engine, b),
                             entry.pd.weights_desc(), ScratchSlot::kWeights);
  ExecuteAndWait(engine, entry.primitive, entry.pd,
                 {{DNNL_ARG_SRC, WrapMemory(entry.pd.src_desc(), engine, a)},
                  {DNNL_ARG_WEIGHTS, weights},
                  {DNNL_ARG_DST, WrapMemory(entry.pd.dst_desc(), engine, y)}});
}

class DnnlMatMul final : public hal::Kernel {
 public:
  DnnlMatMul(DnnlEnginePtr engine, std::optional<Tensor> constant_b,
             std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        constant_b_(std::move(constant_b)),
        fallback_(std::move(fallback)) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running MatMul");
    }
  }

 private:
  Status ComputeOrThrow(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(context, 0, "A"));
    UH_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(context, 1, "B"));
    if (a->dtype() != DType::kF32 || b->dtype() != DType::kF32) {
      return fallback_->Compute(context);
    }
    UH_ASSIGN_OR_RETURN(MatMulShapes s, ResolveMatMulShapes(node, a->shape(), b->shape()));
    UH_ASSIGN_OR_RETURN(std::shared_ptr<const MatMulPrimitive> entry,
                        Lookup(node, a->shape(), b->shape()));
    if (!entry) return fallback_->Compute(context);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, s.output));
    if (y->num_elements() == 0) return Status::Ok();
    RunMatMul(*engine_, *entry, a->data(), b->data(), y->data());
    return Status::Ok();
  }

 public:
  // The cached primitive for these shapes (built, and constant B packed, on first use);
  // nullptr when oneDNN cannot do them. dnnl errors other than "unimplemented" are thrown.
  Result<std::shared_ptr<const MatMulPrimitive>> Lookup(const ir::Node& node, const Shape& a,
                                                        const Shape& b) const {
    UH_ASSIGN_OR_RETURN(MatMulShapes s, ResolveMatMulShapes(node, a, b));
    if (s.batch.size() + 2 > DNNL_MAX_NDIMS) return std::shared_ptr<const MatMulPrimitive>();
    Shape a_dims = s.a_batch, b_dims = s.b_batch, y_dims = s.batch;
    a_dims.insert(a_dims.end(), {s.m, s.k});
    b_dims.insert(b_dims.end(), {s.k, s.n});
    y_dims.insert(y_dims.end(), {s.m, s.n});
    return cache_.GetOrBuild({a, b}, [&] {
      return BuildMatMul(*engine_, PlainDesc(a_dims), PlainDesc(b_dims), PlainDesc(y_dims),
                         ConcurrentAttr(), constant_b_ ? &*constant_b_ : nullptr);
    });
  }

 private:
  const DnnlEnginePtr engine_;
  const std::optional<Tensor> constant_b_;
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<MatMulPrimitive> cache_;
};

class DnnlGemm final : public hal::Kernel {
 public:
  DnnlGemm(DnnlEnginePtr engine, bool trans_a, bool trans_b, float alpha, float beta,
           std::optional<Tensor> constant_b, std::unique_ptr<hal::Kernel> fallback)
      : engine_(std::move(engine)),
        trans_a_(trans_a),
        trans_b_(trans_b),
        alpha_(alpha),
        beta_(beta),
        constant_b_(std::move(constant_b)),
        fallback_(std::move(fallback)) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running Gemm");
    }
  }

 private:
  Status ComputeOrThrow(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(context, 0, "A"));
    UH_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(context, 1, "B"));
    const Tensor* c = context.input(2);
    if (a->dtype() != DType::kF32 || b->dtype() != DType::kF32 ||
        (c && c->dtype() != DType::kF32)) {
      return fallback_->Compute(context);
    }
    UH_ASSIGN_OR_RETURN(GemmShapes s,
                        CheckGemmShapes(node, a->shape(), b->shape(), c ? &c->shape() : nullptr,
                                        trans_a_, trans_b_));
    const bool add_c = c != nullptr && beta_ != 0.0f;
    UH_ASSIGN_OR_RETURN(std::shared_ptr<const MatMulPrimitive> entry,
                        Lookup(node, a->shape(), b->shape(), add_c));
    if (!entry) return fallback_->Compute(context);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, Shape{s.m, s.n}));
    if (y->num_elements() == 0) return Status::Ok();
    if (add_c) FillWithBroadcastC(*c, s, y->data_as<float>());
    RunMatMul(*engine_, *entry, a->data(), b->data(), y->data());
    return Status::Ok();
  }

 public:
  // As DnnlMatMul::Lookup; `add_c` says whether beta * C is added.
  Result<std::shared_ptr<const MatMulPrimitive>> Lookup(const ir::Node& node, const Shape& a,
                                                        const Shape& b, bool add_c) const {
    UH_ASSIGN_OR_RETURN(GemmShapes s, CheckGemmShapes(node, a, b, nullptr, trans_a_, trans_b_));
    return cache_.GetOrBuild({a, b, Shape{add_c ? 1 : 0}}, [&] { return Build(s, add_c); });
  }

 private:
  std::shared_ptr<MatMulPrimitive> Build(const GemmShapes& s, bool add_c) const {
    using dnnl::memory;
    // Transposed operands are the same bytes read with swapped strides.
    const memory::desc src({s.m, s.k}, memory::data_type::f32,
                           trans_a_ ? memory::dims{1, s.m} : memory::dims{s.k, 1});
    const memory::desc weights({s.k, s.n}, memory::data_type::f32,
                               trans_b_ ? memory::dims{1, s.k} : memory::dims{s.n, 1});
    dnnl::primitive_attr attr = ConcurrentAttr();
    if (alpha_ != 1.0f) attr.set_output_scales(0, {alpha_});
    if (add_c) {
      dnnl::post_ops post_ops;
      post_ops.append_sum(beta_);  // y = alpha * A B + beta * (y pre-filled with C)
      attr.set_post_ops(post_ops);
    }
    return BuildMatMul(*engine_, src, weights, PlainDesc({s.m, s.n}), attr,
                       constant_b_ ? &*constant_b_ : nullptr);
  }

  static void FillWithBroadcastC(const Tensor& c, const GemmShapes& s, float* y) {
    const float* data = c.data_as<float>();
    const int64_t col_stride = c.rank() >= 1 && c.shape().back() != 1 ? 1 : 0;
    const int64_t row_stride = c.rank() == 2 && c.dim(0) != 1 ? c.dim(1) : 0;
    for (int64_t i = 0; i < s.m; ++i) {
      for (int64_t j = 0; j < s.n; ++j) y[i * s.n + j] = data[i * row_stride + j * col_stride];
    }
  }

  const DnnlEnginePtr engine_;
  const bool trans_a_;
  const bool trans_b_;
  const float alpha_;
  const float beta_;
  const std::optional<Tensor> constant_b_;
  const std::unique_ptr<hal::Kernel> fallback_;
  mutable PrimitiveCache<MatMulPrimitive> cache_;
};

std::optional<Tensor> ConstantF32(const hal::KernelCreateInfo& info, size_t i) {
  const Tensor* t = info.ConstantInput(i);
  if (t && t->dtype() == DType::kF32) return *t;
  return std::nullopt;
}

// Builds a primitive at kernel creation (packing constant B), turning dnnl errors into a
// Status.
Status PrepareOrStatus(const ir::Node& node, const std::function<Status()>& prepare) {
  try {
    return prepare();
  } catch (const dnnl::error& error) {
    return DnnlErrorStatus(node, error, "creating the " + node.op_type + " primitive");
  }
}

hal::SupportResult SupportsMatMul(const hal::KernelCreateInfo& info) {
  // Unknown dtypes and ranks (e.g. after a Reshape to a computed shape) are checked when the
  // kernel runs, which falls back to the reference kernel for what oneDNN cannot take.
  for (size_t i = 0; i < 2; ++i) {
    const DType dtype = info.InputDType(i);
    if (dtype != DType::kF32 && dtype != DType::kUndefined) {
      return hal::SupportResult::No("oneDNN MatMul takes float32 A and B only");
    }
    const std::optional<size_t> rank = InputRank(info, i);
    if (rank && *rank > DNNL_MAX_NDIMS) {
      return hal::SupportResult::No("oneDNN MatMul needs A and B of rank <= " +
                                    std::to_string(DNNL_MAX_NDIMS));
    }
  }
  return hal::SupportResult::Yes("onednn");
}

hal::SupportResult SupportsGemm(const hal::KernelCreateInfo& info) {
  if (!InputIsF32(info, 0) || !InputIsF32(info, 1) ||
      (info.node.has_input(2) && !InputIsF32(info, 2))) {
    return hal::SupportResult::No("oneDNN Gemm takes float32 A, B and C only");
  }
  return hal::SupportResult::Yes("onednn");
}

}  // namespace

void RegisterDnnlMatMulAndGemm(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  RegisterDnnlKernel(
      registry, "MatMul", 1, SupportsMatMul,
      [engine](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
        UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> fallback, CreateReferenceMatMul(info));
        auto kernel =
            std::make_unique<DnnlMatMul>(engine, ConstantF32(info, 1), std::move(fallback));
        const std::optional<Shape> a = InputStaticShape(info, 0);
        const std::optional<Shape> b = InputStaticShape(info, 1);
        if (a && b && info.ConstantInput(1)) {
          UH_RETURN_IF_ERROR(PrepareOrStatus(
              info.node, [&] { return kernel->Lookup(info.node, *a, *b).status(); }));
        }
        return std::unique_ptr<hal::Kernel>(std::move(kernel));
      });
  RegisterDnnlKernel(
      registry, "Gemm", 7, SupportsGemm,
      [engine](const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
        UH_ASSIGN_OR_RETURN(int64_t trans_a, info.node.GetInt("transA", 0));
        UH_ASSIGN_OR_RETURN(int64_t trans_b, info.node.GetInt("transB", 0));
        UH_ASSIGN_OR_RETURN(float alpha, info.node.GetFloat("alpha", 1.0f));
        UH_ASSIGN_OR_RETURN(float beta, info.node.GetFloat("beta", 1.0f));
        UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> fallback, CreateReferenceGemm(info));
        auto kernel = std::make_unique<DnnlGemm>(engine, trans_a != 0, trans_b != 0, alpha, beta,
                                                 ConstantF32(info, 1), std::move(fallback));
        const std::optional<Shape> a = InputStaticShape(info, 0);
        const std::optional<Shape> b = InputStaticShape(info, 1);
        if (a && b && info.ConstantInput(1)) {
          const bool add_c = info.node.has_input(2) && beta != 0.0f;
          UH_RETURN_IF_ERROR(PrepareOrStatus(
              info.node, [&] { return kernel->Lookup(info.node, *a, *b, add_c).status(); }));
        }
        return std::unique_ptr<hal::Kernel>(std::move(kernel));
      });
}

}  // namespace unihal::cpu
