#include "drivers/cpu/dnnl/dnnl_common.h"

#include <array>
#include <cstdlib>

namespace unihal::cpu {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

struct ScratchBlock {
  std::unique_ptr<std::byte, FreeDeleter> data;
  size_t bytes = 0;
};

struct ThreadStreamEntry {
  dnnl::engine engine;  // keeps the engine alive as long as its stream
  dnnl::stream stream;
};

}  // namespace

void* ThreadScratch(ScratchSlot slot, size_t bytes) {
  thread_local std::array<ScratchBlock, static_cast<size_t>(ScratchSlot::kCount)> blocks;
  ScratchBlock& block = blocks[static_cast<size_t>(slot)];
  if (block.bytes < bytes) {
    constexpr size_t kAlignment = 64;
    const size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    block.data.reset(static_cast<std::byte*>(std::aligned_alloc(kAlignment, rounded)));
    block.bytes = block.data ? rounded : 0;
  }
  return block.data.get();
}

float* SourceScratchFloats(int64_t floats) {
  return static_cast<float*>(ThreadScratch(ScratchSlot::kSource, floats * sizeof(float)));
}

dnnl::stream& ThreadStream(const dnnl::engine& engine) {
  thread_local std::vector<ThreadStreamEntry> streams;
  for (ThreadStreamEntry& entry : streams) {
    if (entry.engine.get() == engine.get()) return entry.stream;
  }
  streams.push_back(ThreadStreamEntry{engine, dnnl::stream(engine)});
  return streams.back().stream;
}

dnnl::memory::dims ToDnnlDims(const Shape& shape) {
  return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::desc PlainDesc(const Shape& shape) {
  const std::vector<int64_t> strides = StridesOf(shape);
  return dnnl::memory::desc(ToDnnlDims(shape), dnnl::memory::data_type::f32,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory WrapMemory(const dnnl::memory::desc& desc, const dnnl::engine& engine,
                        const void* data) {
  // oneDNN takes a non-const handle even for inputs it only reads.
  return dnnl::memory(desc, engine, const_cast<void*>(data));
}

Status DnnlErrorStatus(const ir::Node& node, const dnnl::error& error, const std::string& doing) {
  const std::string message = node.Describe() + ": oneDNN failed " + doing + ": " + error.what() +
                              " (status " + std::to_string(error.status) + ")";
  if (error.status == dnnl_invalid_arguments) return InvalidArgumentError(message);
  if (error.status == dnnl_out_of_memory) return ResourceExhaustedError(message);
  return InternalError(message);
}

dnnl::primitive_attr ConcurrentAttr() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

void ExecuteAndWait(const dnnl::engine& engine, const dnnl::primitive& primitive,
                    const dnnl::primitive_desc_base& pd,
                    std::unordered_map<int, dnnl::memory> args) {
  const dnnl::memory::desc scratchpad_desc = pd.scratchpad_desc();
  if (scratchpad_desc.get_size() > 0) {
    args.emplace(DNNL_ARG_SCRATCHPAD,
                 ScratchMemory(engine, scratchpad_desc, ScratchSlot::kScratchpad));
  }
  dnnl::stream& stream = ThreadStream(engine);
  primitive.execute(stream, args);
  stream.wait();
}

dnnl::memory ReorderTo(const dnnl::engine& engine, const dnnl::memory& source,
                       const dnnl::memory::desc& layout) {
  if (source.get_desc() == layout) return source;
  dnnl::memory converted(layout, engine);
  ReorderInto(engine, source, converted);
  return converted;
}

dnnl::memory ReorderToScratch(const dnnl::engine& engine, const dnnl::memory& source,
                              const dnnl::memory::desc& layout, ScratchSlot slot) {
  if (source.get_desc() == layout) return source;
  dnnl::memory converted = ScratchMemory(engine, layout, slot);
  ReorderInto(engine, source, converted);
  return converted;
}

dnnl::memory ScratchMemory(const dnnl::engine& engine, const dnnl::memory::desc& desc,
                           ScratchSlot slot) {
  void* data = ThreadScratch(slot, desc.get_size());
  if (!data) throw dnnl::error(dnnl_out_of_memory, "no memory for a scratch buffer");
  return dnnl::memory(desc, engine, data);
}

void ReorderInto(const dnnl::engine& engine, const dnnl::memory& source,
                 const dnnl::memory& destination) {
  dnnl::stream& stream = ThreadStream(engine);
  dnnl::memory& from = const_cast<dnnl::memory&>(source);
  dnnl::memory& to = const_cast<dnnl::memory&>(destination);
  dnnl::reorder(from, to).execute(stream, from, to);
  stream.wait();
}

bool IsUnimplemented(const dnnl::error& error) { return error.status == dnnl_unimplemented; }

bool InputIsF32(const hal::KernelCreateInfo& info, size_t i) {
  return info.InputDType(i) == DType::kF32;
}

std::optional<size_t> InputRank(const hal::KernelCreateInfo& info, size_t i) {
  if (const Tensor* constant = info.ConstantInput(i)) return constant->shape().size();
  const ir::ValueInfo* value = info.InputInfo(i);
  if (!value || !value->shape) return std::nullopt;
  return value->shape->size();
}

std::optional<Shape> InputStaticShape(const hal::KernelCreateInfo& info, size_t i) {
  if (const Tensor* constant = info.ConstantInput(i)) return constant->shape();
  const ir::ValueInfo* value = info.InputInfo(i);
  if (!value) return std::nullopt;
  return value->StaticShape();
}

void RegisterDnnlKernel(hal::KernelRegistry& registry, const char* op_type, int min_opset,
                        std::function<hal::SupportResult(const hal::KernelCreateInfo&)> supports,
                        hal::KernelFactory create) {
  registry.Register(hal::KernelDef{op_type, "", min_opset, INT_MAX, "onednn", 10,
                                   std::move(supports), std::move(create)});
}

}  // namespace unihal::cpu
