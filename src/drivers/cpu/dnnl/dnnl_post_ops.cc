#include "drivers/cpu/dnnl/dnnl_post_ops.h"

#include <algorithm>
#include <cmath>

#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/dnnl/dnnl_layout.h"

namespace unihal::cpu {
namespace {

// Forwards to the real context and remembers where output 0 was written.
class CapturingContext final : public hal::KernelContext {
 public:
  explicit CapturingContext(hal::KernelContext& inner) : inner_(inner) {}
  const ir::Node& node() const override { return inner_.node(); }
  size_t num_inputs() const override { return inner_.num_inputs(); }
  const Tensor* input(size_t i) const override { return inner_.input(i); }
  size_t num_outputs() const override { return inner_.num_outputs(); }
  Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) override {
    UH_ASSIGN_OR_RETURN(Tensor * y, inner_.AllocateOutput(i, dtype, std::move(shape)));
    if (i == 0) output_ = y;
    return y;
  }
  Status SetOutput(size_t i, Tensor tensor) override {
    if (i == 0) return InternalError(node().Describe() + ": fused output must be allocated");
    return inner_.SetOutput(i, std::move(tensor));
  }
  hal::ThreadPool& thread_pool() override { return inner_.thread_pool(); }
  Tensor* output() const { return output_; }

 private:
  hal::KernelContext& inner_;
  Tensor* output_ = nullptr;
};

}  // namespace

Result<ConvPostOps> ParseConvPostOps(const ir::Node& node) {
  ConvPostOps ops;
  ops.sum = node.has_input(3);
  UH_ASSIGN_OR_RETURN(ops.activation, node.GetString("activation", ""));
  UH_ASSIGN_OR_RETURN(ops.alpha, node.GetFloat("activation_alpha", 0.f));
  UH_ASSIGN_OR_RETURN(ops.beta, node.GetFloat("activation_beta", 0.f));
  for (auto [key, flag] :
       {std::pair{kXLayoutAttr, &ops.x_blocked}, std::pair{kSumLayoutAttr, &ops.sum_blocked},
        std::pair{kYLayoutAttr, &ops.y_blocked}}) {
    UH_ASSIGN_OR_RETURN(int64_t layout, ParseBlockedLayout(node, key));
    if (layout != 0 && ops.block != 0 && layout != ops.block) {
      return InvalidArgumentError(node.Describe() + ": blocked inputs and outputs of " +
                                  "different channel blocks (" + std::to_string(layout) + ", " +
                                  std::to_string(ops.block) + ")");
    }
    *flag = layout != 0;
    if (layout != 0) ops.block = layout;
  }
  if (ops.activation.empty()) return ops;
  if (ops.activation == "Relu") {
    ops.eltwise = dnnl::algorithm::eltwise_relu;
    ops.alpha = 0.f;
  } else if (ops.activation == "LeakyRelu") {
    ops.eltwise = dnnl::algorithm::eltwise_relu;
  } else if (ops.activation == "Sigmoid") {
    ops.eltwise = dnnl::algorithm::eltwise_logistic;
  } else if (ops.activation == "Tanh") {
    ops.eltwise = dnnl::algorithm::eltwise_tanh;
  } else if (ops.activation == "Clip") {
    ops.eltwise = dnnl::algorithm::eltwise_clip;
  } else {
    return InvalidArgumentError(node.Describe() + ": unknown fused activation '" + ops.activation +
                                "'");
  }
  return ops;
}

void AppendPostOps(const ConvPostOps& ops, dnnl::primitive_attr& attr) {
  if (ops.empty()) return;
  dnnl::post_ops post_ops;
  if (ops.sum) post_ops.append_sum(1.f);
  if (ops.eltwise) post_ops.append_eltwise(1.f, *ops.eltwise, ops.alpha, ops.beta);
  attr.set_post_ops(post_ops);
}

void ApplyPostOps(const ConvPostOps& ops, float* data, const float* sum, int64_t n) {
  if (ops.sum && sum) {
    for (int64_t i = 0; i < n; ++i) data[i] += sum[i];
  }
  if (!ops.eltwise) return;
  const float alpha = ops.alpha, beta = ops.beta;
  switch (*ops.eltwise) {
    case dnnl::algorithm::eltwise_relu:  // Relu has alpha 0
      if (alpha == 0.f) {
        for (int64_t i = 0; i < n; ++i) data[i] = data[i] > 0.f ? data[i] : 0.f;
      } else {
        for (int64_t i = 0; i < n; ++i) data[i] = data[i] >= 0.f ? data[i] : alpha * data[i];
      }
      return;
    case dnnl::algorithm::eltwise_clip:
      for (int64_t i = 0; i < n; ++i) data[i] = std::min(std::max(data[i], alpha), beta);
      return;
    case dnnl::algorithm::eltwise_logistic:
      for (int64_t i = 0; i < n; ++i) data[i] = 1.f / (1.f + std::exp(-data[i]));
      return;
    case dnnl::algorithm::eltwise_tanh:
      for (int64_t i = 0; i < n; ++i) data[i] = std::tanh(data[i]);
      return;
    default:
      return;  // ParseConvPostOps makes no other
  }
}

Status ComputeWithReferencePostOps(const hal::Kernel& conv, const ConvPostOps& ops,
                                   hal::KernelContext& context) {
  if (ops.any_blocked()) {
    return InternalError(context.node().Describe() +
                         ": blocked activations need the oneDNN convolution, which declined");
  }
  CapturingContext capture(context);
  UH_RETURN_IF_ERROR(conv.Compute(capture));
  Tensor* y = capture.output();
  if (!y || ops.empty()) return Status::Ok();
  if (y->dtype() != DType::kF32) {
    return InvalidArgumentError(context.node().Describe() + ": fused post-ops need float32");
  }
  const Tensor* s = ops.sum ? context.input(3) : nullptr;
  if (ops.sum && (!s || s->shape() != y->shape() || s->dtype() != DType::kF32)) {
    return InvalidArgumentError(context.node().Describe() +
                                ": the fused sum input must match the output");
  }
  ApplyPostOps(ops, y->data_as<float>(), s ? s->data_as<float>() : nullptr, y->num_elements());
  return Status::Ok();
}

}  // namespace unihal::cpu
