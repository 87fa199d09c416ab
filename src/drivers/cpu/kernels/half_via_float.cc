#include "drivers/cpu/kernels/half_via_float.h"

#include <optional>
#include <vector>

#include "drivers/cpu/kernels/nn_ref.h"

namespace unihal::cpu {
namespace {

// The context the float32 kernel sees: widened inputs, outputs collected for narrowing.
class FloatContext final : public hal::KernelContext {
 public:
  FloatContext(hal::KernelContext& outer, std::vector<Tensor> inputs)
      : outer_(outer), inputs_(std::move(inputs)), outputs_(outer.num_outputs()) {}

  const ir::Node& node() const override { return outer_.node(); }
  size_t num_inputs() const override { return inputs_.size(); }
  const Tensor* input(size_t i) const override {
    return i < inputs_.size() && inputs_[i].defined() ? &inputs_[i] : nullptr;
  }
  size_t num_outputs() const override { return outputs_.size(); }
  Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) override {
    if (i >= outputs_.size())
      return InternalError(node().Describe() + ": no output " + std::to_string(i));
    UH_ASSIGN_OR_RETURN(outputs_[i], Tensor::Allocate(dtype, std::move(shape)));
    return &outputs_[i];
  }
  Status SetOutput(size_t i, Tensor tensor) override {
    if (i >= outputs_.size())
      return InternalError(node().Describe() + ": no output " + std::to_string(i));
    outputs_[i] = std::move(tensor);
    return Status::Ok();
  }
  hal::ThreadPool& thread_pool() override { return outer_.thread_pool(); }

  // Hands every output to the real context, float32 ones narrowed to `half`.
  Status Narrow(DType half) {
    for (size_t i = 0; i < outputs_.size(); ++i) {
      const Tensor& out = outputs_[i];
      if (!out.defined()) continue;
      if (out.dtype() != DType::kF32) {
        UH_RETURN_IF_ERROR(outer_.SetOutput(i, out));
        continue;
      }
      UH_ASSIGN_OR_RETURN(Tensor * narrowed, outer_.AllocateOutput(i, half, out.shape()));
      const float* values = out.data_as<float>();
      NarrowFromFloat(std::vector<float>(values, values + out.num_elements()), *narrowed);
    }
    return Status::Ok();
  }

 private:
  hal::KernelContext& outer_;
  std::vector<Tensor> inputs_;
  std::vector<Tensor> outputs_;
};

class HalfViaFloatKernel final : public hal::Kernel {
 public:
  explicit HalfViaFloatKernel(std::unique_ptr<hal::Kernel> inner) : inner_(std::move(inner)) {}

  Status Compute(hal::KernelContext& context) const override {
    std::optional<DType> half;
    std::vector<Tensor> inputs(context.num_inputs());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor* in = context.input(i);
      if (in == nullptr) continue;
      if (!IsHalfFloat(in->dtype())) {
        inputs[i] = *in;
        continue;
      }
      if (!half) half = in->dtype();
      const std::vector<float> widened = WidenToFloat(*in);
      inputs[i] = Tensor::FromVector<float>(in->shape(), widened);
      if (!inputs[i].defined()) {
        return ResourceExhaustedError(context.node().Describe() +
                                      ": out of host memory widening input " + std::to_string(i));
      }
    }
    if (!half) return inner_->Compute(context);  // nothing to widen: no copies
    FloatContext float_context(context, std::move(inputs));
    UH_RETURN_IF_ERROR(inner_->Compute(float_context));
    return float_context.Narrow(*half);
  }

 private:
  std::unique_ptr<hal::Kernel> inner_;
};

}  // namespace

hal::KernelFactory HalfViaFloat(hal::KernelFactory float_kernel) {
  return [float_kernel = std::move(float_kernel)](
             const hal::KernelCreateInfo& info) -> Result<std::unique_ptr<hal::Kernel>> {
    UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Kernel> inner, float_kernel(info));
    return std::unique_ptr<hal::Kernel>(std::make_unique<HalfViaFloatKernel>(std::move(inner)));
  };
}

}  // namespace unihal::cpu
