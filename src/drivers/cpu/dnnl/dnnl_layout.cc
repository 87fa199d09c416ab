#include "drivers/cpu/dnnl/dnnl_layout.h"

#include <cstring>
#include <optional>

#include "drivers/cpu/cpu_layout.h"
#include "drivers/cpu/dnnl/dnnl_common.h"

namespace unihal::cpu {
namespace {

// Converts between the bytes of a tensor in one layout (0 plain, else the channel block) and
// those of another.
void Convert(const dnnl::engine& engine, const Tensor& from, int64_t from_block, Tensor& to,
             int64_t to_block) {
  ReorderInto(engine, WrapMemory(LayoutDesc(from.shape(), from_block), engine, from.data()),
              WrapMemory(LayoutDesc(to.shape(), to_block), engine, to.data()));
}

bool IsChannelBlock(int64_t block) { return block == 8 || block == 16; }

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

int64_t PreferredChannelBlock() {
  const auto avx512_core = static_cast<unsigned>(dnnl::cpu_isa::avx512_core);
  const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
  return (isa & avx512_core) == avx512_core ? 16 : 8;
}

Result<int64_t> ParseBlockedLayout(const ir::Node& node, const char* attr) {
  UH_ASSIGN_OR_RETURN(int64_t layout, node.GetInt(attr, 0));
  if (layout != 0 && !IsChannelBlock(layout)) {
    return InvalidArgumentError(node.Describe() + ": unknown " + attr + " " +
                                std::to_string(layout) + " (0 plain, 8 nChw8c, 16 nChw16c)");
  }
  return layout;
}

Result<XYLayouts> ParseXYLayouts(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(int64_t x, ParseBlockedLayout(node, kXLayoutAttr));
  UH_ASSIGN_OR_RETURN(int64_t y, ParseBlockedLayout(node, kYLayoutAttr));
  if (x != 0 && y != 0 && x != y) {
    return InvalidArgumentError(node.Describe() + ": x_layout " + std::to_string(x) +
                                " and y_layout " + std::to_string(y) +
                                " name different channel blocks");
  }
  XYLayouts layouts;
  layouts.x_blocked = x != 0;
  layouts.y_blocked = y != 0;
  layouts.block = x != 0 ? x : y != 0 ? y : PreferredChannelBlock();
  return layouts;
}

bool HasBlockableChannels(const hal::KernelCreateInfo& info, int64_t block) {
  const ir::ValueInfo* x = info.InputInfo(0);
  return x && x->shape && x->shape->size() == 4 && (*x->shape)[1].is_static() &&
         (*x->shape)[1].value % block == 0;
}

dnnl::memory::desc ChannelBlockedDesc(const Shape& shape, int64_t block) {
  using tag = dnnl::memory::format_tag;
  const bool wide = block == 16;
  const tag format = shape.size() == 3   ? (wide ? tag::aBc16b : tag::aBc8b)
                     : shape.size() == 5 ? (wide ? tag::aBcde16b : tag::aBcde8b)
                                         : (wide ? tag::aBcd16b : tag::aBcd8b);
  return dnnl::memory::desc(ToDnnlDims(shape), dnnl::memory::data_type::f32, format);
}

dnnl::memory::desc LayoutDesc(const Shape& shape, int64_t block) {
  return block != 0 ? ChannelBlockedDesc(shape, block) : PlainDesc(shape);
}

bool BlockedIsPlain(const Shape& shape, int64_t block) {
  if (shape.size() < 3 || shape[1] % block != 0) return false;
  for (size_t i = 2; i < shape.size(); ++i) {
    if (shape[i] != 1) return false;
  }
  return true;
}

Status ComputeOnPlainCopies(const dnnl::engine& engine, const hal::Kernel& plain_kernel,
                            const std::vector<bool>& blocked_inputs, bool blocked_output,
                            int64_t block, hal::KernelContext& context,
                            const std::function<void(Tensor&)>& finish) {
  std::vector<std::optional<Tensor>> copies(context.num_inputs());
  for (size_t i = 0; i < copies.size() && i < blocked_inputs.size(); ++i) {
    const Tensor* x = context.input(i);
    if (!blocked_inputs[i] || !x) continue;
    if (x->dtype() != DType::kF32 || x->rank() < 3 || x->rank() > 5 || x->dim(1) % block != 0) {
      return InternalError(context.node().Describe() + ": blocked input " + std::to_string(i) +
                           " must be float32 of rank 3 to 5 with channels a multiple of " +
                           std::to_string(block) + ", is " + x->Describe());
    }
    UH_ASSIGN_OR_RETURN(Tensor plain, Tensor::Allocate(DType::kF32, x->shape()));
    Convert(engine, *x, block, plain, 0);
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
  if (y.dtype() != DType::kF32 || y.rank() < 3 || y.rank() > 5 || y.dim(1) % block != 0) {
    return InternalError(context.node().Describe() + ": blocked output must be float32 of rank " +
                         "3 to 5 with channels a multiple of " + std::to_string(block) + ", is " +
                         y.Describe());
  }
  Convert(engine, y, 0, *out, block);
  return Status::Ok();
}

}  // namespace unihal::cpu
