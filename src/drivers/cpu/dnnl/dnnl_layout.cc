#include "drivers/cpu/dnnl/dnnl_layout.h"

#include <cstring>
#include <optional>

#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/dnnl/dnnl_common.h"

namespace unihal::cpu {
namespace {

// Converts between the plain bytes of a tensor and the blocked bytes of another.
void Convert(const dnnl::engine& engine, const Tensor& from, bool from_blocked, Tensor& to,
             bool to_blocked) {
  ReorderInto(engine, WrapMemory(LayoutDesc(from.shape(), from_blocked), engine, from.data()),
              WrapMemory(LayoutDesc(to.shape(), to_blocked), engine, to.data()));
}

// Shows the inner kernel plain copies of the blocked inputs and a plain output 0.
class PlainCopiesContext final : public hal::KernelContext {
 public:
  PlainCopiesContext(hal::KernelContext& inner, std::vector<std::optional<Tensor>> copies)
      : inner_(inner), copies_(std::move(copies)) {}
  const ir::Node& node() const override { return inner_.node(); }
  size_t num_inputs() const override { return inner_.num_inputs(); }
  const Tensor* input(size_t i) const override {
    if (i < copies_.size() && copies_[i]) return &*copies_[i];
    return inner_.input(i);
  }
  size_t num_outputs() const override { return inner_.num_outputs(); }
  Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) override {
    if (i != 0) return inner_.AllocateOutput(i, dtype, std::move(shape));
    UH_ASSIGN_OR_RETURN(Tensor plain, Tensor::Allocate(dtype, std::move(shape)));
    output_ = std::move(plain);
    return &output_;
  }
  Status SetOutput(size_t i, Tensor tensor) override {
    if (i != 0) return inner_.SetOutput(i, std::move(tensor));
    output_ = std::move(tensor);
    return Status::Ok();
  }
  hal::ThreadPool& thread_pool() override { return inner_.thread_pool(); }
  const Tensor& output() const { return output_; }

 private:
  hal::KernelContext& inner_;
  std::vector<std::optional<Tensor>> copies_;
  Tensor output_;
};

}  // namespace

Result<bool> ParseBlockedLayout(const ir::Node& node, const char* attr) {
  UH_ASSIGN_OR_RETURN(int64_t layout, node.GetInt(attr, 0));
  if (layout != 0 && layout != kBlockedChannels) {
    return InvalidArgumentError(node.Describe() + ": unknown " + attr + " " +
                                std::to_string(layout) + " (0 plain, 8 nChw8c)");
  }
  return layout == kBlockedChannels;
}

dnnl::memory::desc ChannelBlockedDesc(const Shape& shape) {
  using tag = dnnl::memory::format_tag;
  const tag format = shape.size() == 3   ? tag::aBc8b
                     : shape.size() == 5 ? tag::aBcde8b
                                         : tag::aBcd8b;
  return dnnl::memory::desc(ToDnnlDims(shape), dnnl::memory::data_type::f32, format);
}

dnnl::memory::desc LayoutDesc(const Shape& shape, bool blocked) {
  return blocked ? ChannelBlockedDesc(shape) : PlainDesc(shape);
}

bool BlockedIsPlain(const Shape& shape) {
  if (shape.size() < 3 || shape[1] % kBlockedChannels != 0) return false;
  for (size_t i = 2; i < shape.size(); ++i) {
    if (shape[i] != 1) return false;
  }
  return true;
}

Status ComputeOnPlainCopies(const dnnl::engine& engine, const hal::Kernel& plain_kernel,
                            const std::vector<bool>& blocked_inputs, bool blocked_output,
                            hal::KernelContext& context,
                            const std::function<void(Tensor&)>& finish) {
  std::vector<std::optional<Tensor>> copies(context.num_inputs());
  for (size_t i = 0; i < copies.size() && i < blocked_inputs.size(); ++i) {
    const Tensor* x = context.input(i);
    if (!blocked_inputs[i] || !x) continue;
    if (x->dtype() != DType::kF32 || x->rank() < 3 || x->rank() > 5 ||
        x->dim(1) % kBlockedChannels != 0) {
      return InternalError(context.node().Describe() + ": blocked input " + std::to_string(i) +
                           " must be float32 of rank 3 to 5 with channels a multiple of 8, is " +
                           x->Describe());
    }
    UH_ASSIGN_OR_RETURN(Tensor plain, Tensor::Allocate(DType::kF32, x->shape()));
    Convert(engine, *x, true, plain, false);
    copies[i] = std::move(plain);
  }
  PlainCopiesContext plain_context(context, std::move(copies));
  UH_RETURN_IF_ERROR(plain_kernel.Compute(plain_context));
  Tensor y = plain_context.output();
  if (!y.defined()) return Status::Ok();
  if (finish) finish(y);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, y.dtype(), y.shape()));
  if (!blocked_output) {
    std::memcpy(out->data(), y.data(), y.nbytes());
    return Status::Ok();
  }
  if (y.dtype() != DType::kF32 || y.rank() < 3 || y.rank() > 5 ||
      y.dim(1) % kBlockedChannels != 0) {
    return InternalError(context.node().Describe() + ": blocked output must be float32 of rank " +
                         "3 to 5 with channels a multiple of 8, is " + y.Describe());
  }
  Convert(engine, y, false, *out, true);
  return Status::Ok();
}

}  // namespace unihal::cpu
