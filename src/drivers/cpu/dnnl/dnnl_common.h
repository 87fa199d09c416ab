// Helpers shared by the oneDNN kernels: plain memory descriptors, error conversion, running a
// primitive on a fresh stream, and a thread-safe per-shape primitive cache.
#pragma once

#include <dnnl.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "unihal/hal/kernel.h"
#include "unihal/hal/kernel_registry.h"
#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cpu {

// The engine every oneDNN kernel of one registry shares (made by RegisterDnnlKernels).
using DnnlEnginePtr = std::shared_ptr<const dnnl::engine>;

dnnl::memory::dims ToDnnlDims(const Shape& shape);
// Row-major (plain: nc, ncw, nchw, ncdhw, ...) float32 descriptor of `shape`.
dnnl::memory::desc PlainDesc(const Shape& shape);
// A memory object over existing host data (not owned).
dnnl::memory WrapMemory(const dnnl::memory::desc& desc, const dnnl::engine& engine,
                        const void* data);

// A dnnl::error as a Status naming the node.
Status DnnlErrorStatus(const ir::Node& node, const dnnl::error& error, const std::string& doing);

// Primitive attributes with a user-managed scratchpad: each run brings its own, so one
// primitive can run from several threads at once.
dnnl::primitive_attr ConcurrentAttr();

// Per-thread reusable buffers, so a run allocates nothing: the scratchpad, converted inputs
// and outputs live in grow-only blocks owned by the calling thread. A slot's block stays valid
// until the same thread asks for that slot again.
enum class ScratchSlot { kScratchpad, kSource, kSource2, kWeights, kDestination, kCount };
void* ThreadScratch(ScratchSlot slot, size_t bytes);
// The calling thread's kSource slot as the cpu kernels' ThreadBufferFn (thread_buffer.h).
float* SourceScratchFloats(int64_t floats);

// The calling thread's stream on `engine` (made once per thread and engine).
dnnl::stream& ThreadStream(const dnnl::engine& engine);

// Runs `primitive` on the thread's stream (with the thread's scratchpad) and waits for it.
void ExecuteAndWait(const dnnl::engine& engine, const dnnl::primitive& primitive,
                    const dnnl::primitive_desc_base& pd,
                    std::unordered_map<int, dnnl::memory> args);

// `source` converted to `layout` (a new memory), or `source` itself when already in it.
dnnl::memory ReorderTo(const dnnl::engine& engine, const dnnl::memory& source,
                       const dnnl::memory::desc& layout);

// As ReorderTo, but a converted copy lives in the thread's `slot` (see ThreadScratch): valid
// until that slot is reused, so only for memory used within one Compute call.
dnnl::memory ReorderToScratch(const dnnl::engine& engine, const dnnl::memory& source,
                              const dnnl::memory::desc& layout, ScratchSlot slot);

// A memory of `desc` over the thread's `slot` (contents undefined).
dnnl::memory ScratchMemory(const dnnl::engine& engine, const dnnl::memory::desc& desc,
                           ScratchSlot slot);

// Converts `source` into the existing memory `destination` (its own layout).
void ReorderInto(const dnnl::engine& engine, const dnnl::memory& source,
                 const dnnl::memory& destination);

// Whether pd creation failed because oneDNN has no implementation for the case (so the
// reference kernel should take it) rather than because of a real error.
bool IsUnimplemented(const dnnl::error& error);

// supports() helpers: "yes" only when input i is known to be float32 / has a known rank in
// [min_rank, max_rank].
bool InputIsF32(const hal::KernelCreateInfo& info, size_t i);
std::optional<size_t> InputRank(const hal::KernelCreateInfo& info, size_t i);
std::optional<Shape> InputStaticShape(const hal::KernelCreateInfo& info, size_t i);

// Primitives (and whatever goes with them) by the input shapes they were built for. Entries
// are immutable once built; the map is guarded so concurrent Compute calls can share it.
template <typename Entry>
class PrimitiveCache {
 public:
  using Key = std::vector<Shape>;
  // The entry for `key`, built by `build` on first use. `build` may return nullptr to say
  // "oneDNN cannot do this shape"; that answer is cached too.
  std::shared_ptr<const Entry> GetOrBuild(const Key& key,
                                          const std::function<std::shared_ptr<Entry>()>& build) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
    std::shared_ptr<const Entry> entry = build();
    entries_.emplace(key, entry);
    return entry;
  }

 private:
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<const Entry>> entries_;
};

// Registers a oneDNN kernel at priority 10.
void RegisterDnnlKernel(hal::KernelRegistry& registry, const char* op_type, int min_opset,
                        std::function<hal::SupportResult(const hal::KernelCreateInfo&)> supports,
                        hal::KernelFactory create);

// Per-op registration (one file each).
void RegisterDnnlConv(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);
void RegisterDnnlMatMulAndGemm(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);
void RegisterDnnlPools(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);
void RegisterDnnlBatchNormalization(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);
void RegisterDnnlFusedMatMul(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);
void RegisterDnnlSoftmaxAndLayerNorm(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);
void RegisterDnnlLrn(hal::KernelRegistry& registry, const DnnlEnginePtr& engine);

}  // namespace unihal::cpu
