// The cpu device's FusedMatMul (cpu_matmul_fusion.h): A (rank >= 1, its leading dims folded
// into rows) times a constant B packed once into the primitive's layout, with the bias as
// oneDNN's bias argument, the residual as a binary-add post-op and the erf GELU as an eltwise
// post-op, so the epilogue costs no extra pass over the output.
//
// On AVX2 oneDNN 2.6 has only its gemm-based matmul (B re-packed inside every call; 30-60
// GFLOP/s per core on BERT's projections), while its 1x1 convolution over channels-last (nwc)
// data is the same product of row-major A [rows, K] and B, with B packed once, at about 75
// GFLOP/s per core. So the product runs as that convolution when oneDNN has a jit one for it,
// and as a matmul otherwise.
#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "drivers/cpu/cpu_matmul_fusion.h"
#include "drivers/cpu/dnnl/dnnl_common.h"
#include "drivers/cpu/kernels/broadcast.h"

namespace unihal::cpu {
namespace {

struct FusedMatMulPrimitive {
  dnnl::primitive_desc_base pd;  // a 1x1 convolution or a matmul
  dnnl::primitive primitive;
  dnnl::memory packed_weights;
};

struct Epilogue {
  bool sum = false;
  bool gelu = false;
};

class DnnlFusedMatMul final : public hal::Kernel {
 public:
  DnnlFusedMatMul(DnnlEnginePtr engine, Tensor weights, Tensor bias, Epilogue epilogue)
      : engine_(std::move(engine)),
        weights_(std::move(weights)),
        bias_(std::move(bias)),
        epilogue_(epilogue) {}

  Status Compute(hal::KernelContext& context) const override {
    try {
      return ComputeOrThrow(context);
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(context.node(), error, "running FusedMatMul");
    }
  }

  // The primitive for A of `a_shape`, with or without the residual sum (built, and B packed,
  // on first use); nullptr when oneDNN cannot do it.
  Result<std::shared_ptr<const FusedMatMulPrimitive>> Lookup(const ir::Node& node,
                                                             const Shape& a_shape,
                                                             bool with_sum) const {
    if (a_shape.empty() || a_shape.back() != weights_.dim(0)) {
      return InvalidArgumentError(node.Describe() + ": A " + ShapeToString(a_shape) +
                                  " does not match B " + ShapeToString(weights_.shape()));
    }
    return cache_.GetOrBuild({a_shape, Shape{with_sum ? 1 : 0}},
                             [&] { return Build(Rows(a_shape), with_sum); });
  }

 private:
  int64_t k() const { return weights_.dim(0); }
  int64_t n() const { return weights_.dim(1); }
  static int64_t Rows(const Shape& a) {
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < a.size(); ++i) rows *= a[i];
    return rows;
  }

  dnnl::primitive_attr EpilogueAttr(const dnnl::memory::desc& dst, bool with_sum) const {
    dnnl::primitive_attr attr = ConcurrentAttr();
    dnnl::post_ops post_ops;
    if (with_sum) post_ops.append_binary(dnnl::algorithm::binary_add, dst);
    if (epilogue_.gelu) post_ops.append_eltwise(1.f, dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f);
    attr.set_post_ops(post_ops);
    return attr;
  }

  std::shared_ptr<FusedMatMulPrimitive> Build(int64_t rows, bool with_sum) const {
    std::shared_ptr<FusedMatMulPrimitive> entry = BuildAsConvolution(rows, with_sum);
    return entry ? entry : BuildAsMatMul(rows, with_sum);
  }

  // Y [rows, N] = A [rows, K] B as a 1x1 convolution over a 1-D image of `rows` pixels with K
  // input and N output channels, in nwc: the very same bytes as A and Y. nullptr unless oneDNN
  // has a jit implementation.
  std::shared_ptr<FusedMatMulPrimitive> BuildAsConvolution(int64_t rows, bool with_sum) const {
    using dnnl::memory;
    using tag = memory::format_tag;
    const memory::desc src({1, k(), rows}, memory::data_type::f32, tag::nwc);
    const memory::desc weights({n(), k(), 1}, memory::data_type::f32, tag::any);
    const memory::desc bias({n()}, memory::data_type::f32, tag::a);
    const memory::desc dst({1, n(), rows}, memory::data_type::f32, tag::nwc);
    dnnl::convolution_forward::primitive_desc pd;
    try {
      pd = dnnl::convolution_forward::primitive_desc(
          dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                          dnnl::algorithm::convolution_direct, src, weights, bias,
                                          dst, {1}, {0}, {0}),
          EpilogueAttr(dst, with_sum), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error)) return nullptr;
      throw;
    }
    if (std::string_view(pd.impl_info_str()).substr(0, 3) != "jit") return nullptr;
    auto entry = std::make_shared<FusedMatMulPrimitive>();
    entry->pd = pd;
    entry->primitive = dnnl::convolution_forward(pd);
    // B [K, N] row-major read as oiw weights: o (= n) strides 1, i (= k) strides N.
    const memory::desc user_weights({n(), k(), 1}, memory::data_type::f32,
                                    memory::dims{1, n(), n() * k()});
    entry->packed_weights =
        ReorderTo(*engine_, WrapMemory(user_weights, *engine_, weights_.data()), pd.weights_desc());
    return entry;
  }

  std::shared_ptr<FusedMatMulPrimitive> BuildAsMatMul(int64_t rows, bool with_sum) const {
    using dnnl::memory;
    const memory::desc src = PlainDesc({rows, k()});
    const memory::desc weights({k(), n()}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc bias = PlainDesc({1, n()});
    const memory::desc dst = PlainDesc({rows, n()});
    dnnl::matmul::primitive_desc pd;
    try {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, bias, dst),
                                        EpilogueAttr(dst, with_sum), *engine_);
    } catch (const dnnl::error& error) {
      if (IsUnimplemented(error)) return nullptr;
      throw;
    }
    auto entry = std::make_shared<FusedMatMulPrimitive>();
    entry->pd = pd;
    entry->primitive = dnnl::matmul(pd);
    entry->packed_weights = ReorderTo(
        *engine_, WrapMemory(PlainDesc({k(), n()}), *engine_, weights_.data()), pd.weights_desc());
    return entry;
  }

  Status ComputeOrThrow(hal::KernelContext& context) const {
    const ir::Node& node = context.node();
    const Tensor* a = context.input(0);
    const Tensor* sum = epilogue_.sum ? context.input(3) : nullptr;
    if (!a || a->dtype() != DType::kF32 ||
        (epilogue_.sum && (!sum || sum->dtype() != DType::kF32))) {
      return InvalidArgumentError(node.Describe() + ": FusedMatMul needs float32 A (and Sum)");
    }
    Shape y_shape = a->shape();
    if (y_shape.empty()) return InvalidArgumentError(node.Describe() + ": A must have rank >= 1");
    y_shape.back() = n();  // a 1-D A is one row whose output is 1-D, as in MatMul
    if (sum && sum->shape() != y_shape) return ComputeWithBroadcastSum(context, *a, *sum, y_shape);
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, y_shape));
    return Product(node, *a, sum, *y);
  }

  // y = A B + bias [+ sum, of y's shape] [GELU].
  Status Product(const ir::Node& node, const Tensor& a, const Tensor* sum, Tensor& y) const {
    if (y.num_elements() == 0) return Status::Ok();
    UH_ASSIGN_OR_RETURN(std::shared_ptr<const FusedMatMulPrimitive> entry,
                        Lookup(node, a.shape(), sum != nullptr));
    if (!entry) {
      ComputeReference(a, sum, y);
      return Status::Ok();
    }
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, WrapMemory(entry->pd.src_desc(0), *engine_, a.data())},
        {DNNL_ARG_WEIGHTS, entry->packed_weights},
        {DNNL_ARG_BIAS, WrapMemory(entry->pd.weights_desc(1), *engine_, bias_.data())},
        {DNNL_ARG_DST, WrapMemory(entry->pd.dst_desc(0), *engine_, y.data())}};
    if (sum) {
      args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                   WrapMemory(entry->pd.dst_desc(0), *engine_, sum->data()));
    }
    ExecuteAndWait(*engine_, entry->primitive, entry->pd, std::move(args));
    return Status::Ok();
  }

  // The fusion took the residual Add where shapes were not known at compile time; here the
  // Sum broadcasts, so the product comes first and the Add follows NumPy broadcasting.
  Status ComputeWithBroadcastSum(hal::KernelContext& context, const Tensor& a, const Tensor& sum,
                                 const Shape& y_shape) const {
    const ir::Node& node = context.node();
    const Shape shapes[] = {y_shape, sum.shape()};
    Result<Shape> out_shape = BroadcastShapes(shapes);
    if (!out_shape.ok()) {
      return std::move(out_shape).status().WithContext(node.Describe() + ": the residual Add");
    }
    UH_ASSIGN_OR_RETURN(Tensor product, Tensor::Allocate(DType::kF32, y_shape));
    UH_RETURN_IF_ERROR(Product(node, a, nullptr, product));
    UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, *out_shape));
    const std::vector<int64_t> product_strides = BroadcastStrides(y_shape, *out_shape);
    const std::vector<int64_t> sum_strides = BroadcastStrides(sum.shape(), *out_shape);
    const float* p = product.data_as<float>();
    const float* s = sum.data_as<float>();
    float* out = y->data_as<float>();
    std::vector<int64_t> index(out_shape->size(), 0);
    int64_t p_at = 0, s_at = 0;
    for (int64_t i = 0; i < y->num_elements(); ++i) {
      out[i] = p[p_at] + s[s_at];
      for (size_t d = index.size(); d-- > 0;) {  // odometer over the output's dims
        p_at += product_strides[d];
        s_at += sum_strides[d];
        if (++index[d] < (*out_shape)[d]) break;
        p_at -= product_strides[d] * index[d];
        s_at -= sum_strides[d] * index[d];
        index[d] = 0;
      }
    }
    return Status::Ok();
  }

  // Plain loops, for shapes oneDNN declines.
  void ComputeReference(const Tensor& a, const Tensor* sum, Tensor& y) const {
    const int64_t rows = Rows(a.shape());
    const float* av = a.data_as<float>();
    const float* bv = weights_.data_as<float>();
    const float* bias = bias_.data_as<float>();
    float* yv = y.data_as<float>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < n(); ++j) {
        double acc = bias[j];
        for (int64_t i = 0; i < k(); ++i) acc += double{av[r * k() + i]} * bv[i * n() + j];
        if (sum) acc += sum->data_as<float>()[r * n() + j];
        if (epilogue_.gelu) acc = 0.5 * acc * (1.0 + std::erf(acc * M_SQRT1_2));
        yv[r * n() + j] = static_cast<float>(acc);
      }
    }
  }

  const DnnlEnginePtr engine_;
  const Tensor weights_;
  const Tensor bias_;
  const Epilogue epilogue_;
  mutable PrimitiveCache<FusedMatMulPrimitive> cache_;
};

Result<Epilogue> ParseEpilogue(const ir::Node& node) {
  Epilogue epilogue;
  epilogue.sum = node.has_input(3);
  Result<std::string> activation = node.GetString("activation", "");
  if (!activation.ok()) return activation.status();
  if (!activation->empty() && *activation != "Gelu") {
    return InvalidArgumentError(node.Describe() + ": unknown fused activation '" + *activation +
                                "'");
  }
  epilogue.gelu = *activation == "Gelu";
  return epilogue;
}

hal::SupportResult SupportsFusedMatMul(const hal::KernelCreateInfo& info) {
  const Tensor* b = info.ConstantInput(1);
  const Tensor* bias = info.ConstantInput(2);
  if (!b || b->dtype() != DType::kF32 || b->rank() != 2) {
    return hal::SupportResult::No("oneDNN FusedMatMul needs a constant float32 2-D B");
  }
  if (info.node.has_input(2) &&
      (!bias || bias->dtype() != DType::kF32 || bias->num_elements() != b->dim(1))) {
    return hal::SupportResult::No("oneDNN FusedMatMul needs a constant float32 bias of N values");
  }
  const DType a = info.InputDType(0);
  if ((a != DType::kF32 && a != DType::kUndefined) ||
      (info.node.has_input(3) && !InputIsF32(info, 3))) {
    return hal::SupportResult::No("oneDNN FusedMatMul takes float32 A and Sum only");
  }
  if (!ParseEpilogue(info.node).ok()) {
    return hal::SupportResult::No("oneDNN FusedMatMul: unknown activation");
  }
  return hal::SupportResult::Yes("onednn");
}

Result<std::unique_ptr<hal::Kernel>> CreateFusedMatMul(const DnnlEnginePtr& engine,
                                                       const hal::KernelCreateInfo& info) {
  const Tensor* b = info.ConstantInput(1);
  const Tensor* bias = info.ConstantInput(2);
  if (!b || (info.node.has_input(2) && !bias)) {
    return InvalidArgumentError(info.node.Describe() +
                                ": FusedMatMul needs a constant B and a constant bias if any");
  }
  UH_ASSIGN_OR_RETURN(Epilogue epilogue, ParseEpilogue(info.node));
  // Without a bias, zeros: the primitive adds them in its epilogue at no extra pass.
  Tensor bias_or_zeros;
  if (bias) {
    bias_or_zeros = *bias;
  } else {
    UH_ASSIGN_OR_RETURN(bias_or_zeros, Tensor::Allocate(DType::kF32, {b->dim(1)}));
    std::fill_n(bias_or_zeros.data_as<float>(), b->dim(1), 0.0f);
  }
  auto kernel = std::make_unique<DnnlFusedMatMul>(engine, *b, bias_or_zeros, epilogue);
  if (const std::optional<Shape> a = InputStaticShape(info, 0)) {
    try {
      UH_RETURN_IF_ERROR(kernel->Lookup(info.node, *a, epilogue.sum).status());
    } catch (const dnnl::error& error) {
      return DnnlErrorStatus(info.node, error, "creating the FusedMatMul primitive");
    }
  }
  return std::unique_ptr<hal::Kernel>(std::move(kernel));
}

}  // namespace

void RegisterDnnlFusedMatMul(hal::KernelRegistry& registry, const DnnlEnginePtr& engine) {
  registry.Register(hal::KernelDef{
      kFusedMatMulOp, kCpuFusionDomain, 1, INT_MAX, "onednn", 10, SupportsFusedMatMul,
      [engine](const hal::KernelCreateInfo& info) { return CreateFusedMatMul(engine, info); }});
}

}  // namespace unihal::cpu
