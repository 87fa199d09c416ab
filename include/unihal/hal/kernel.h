// Kernel: one op implementation. A kernel object is created once per node when its subgraph
// is compiled (parse attributes, check types, pack weights there) and then computes many times,
// possibly from several threads at once, so Compute must not mutate the kernel.
#pragma once

#include <functional>
#include <memory>

#include "unihal/hal/thread_pool.h"
#include "unihal/ir/graph.h"
#include "unihal/status.h"
#include "unihal/tensor.h"
#include "unihal/value.h"

namespace unihal::hal {

// What a kernel sees while computing one node.
class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual const ir::Node& node() const = 0;
  virtual size_t num_inputs() const = 0;
  // nullptr when input i is absent (optional and not given).
  virtual const Tensor* input(size_t i) const = 0;
  virtual size_t num_outputs() const = 0;
  // Host memory for output i, uninitialised (it may be reused from an earlier value).
  virtual Result<Tensor*> AllocateOutput(size_t i, DType dtype, Shape shape) = 0;
  // Output i in input `input`'s storage when nothing reads that input after this node and
  // nothing else holds its storage (same dtype and element count, not another input too), for a
  // kernel that reads each element before it writes it there (a residual sum); otherwise as
  // AllocateOutput. The default never reuses.
  virtual Result<Tensor*> AllocateOutputInPlace(size_t i, size_t /*input*/, DType dtype,
                                                Shape shape) {
    return AllocateOutput(i, dtype, std::move(shape));
  }
  // Makes output i an existing tensor, e.g. a view sharing an input's storage.
  virtual Status SetOutput(size_t i, Tensor tensor) = 0;
  virtual ThreadPool& thread_pool() = 0;

  // Sequences and optionals (unihal/value.h), for kernels whose KernelDef sets
  // accepts_non_tensor_values; the tensor accessors above are unchanged (input(i) is nullptr
  // for a value that is not a tensor). Input i as a value of any kind, nullptr when absent.
  virtual const Value* input_value(size_t /*i*/) const { return nullptr; }
  // Makes output i a value of any kind. The default takes tensors only.
  virtual Status SetOutputValue(size_t i, Value value) {
    if (value.is_tensor()) return SetOutput(i, std::move(value.mutable_tensor()));
    return UnimplementedError(node().Describe() + ": output " + std::to_string(i) + " is a " +
                              std::string(ValueKindName(value.kind())) +
                              ", and this kernel context holds tensors only");
  }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual Status Compute(KernelContext& context) const = 0;
};

// What is known about a node when its kernel is created.
struct KernelCreateInfo {
  const ir::Node& node;
  const ir::Graph& graph;  // for value types and initializers
  // Input i's value when it is a constant (initializer), else nullptr.
  const Tensor* ConstantInput(size_t i) const;
  // Input i's static type when known, else nullptr.
  const ir::ValueInfo* InputInfo(size_t i) const;
  // Input i's dtype when known, else kUndefined.
  DType InputDType(size_t i) const;
};

using KernelFactory = std::function<Result<std::unique_ptr<Kernel>>(const KernelCreateInfo&)>;

// A kernel that is just a function (attributes read at compute time).
class FunctionKernel final : public Kernel {
 public:
  using Fn = std::function<Status(KernelContext&)>;
  explicit FunctionKernel(Fn fn) : fn_(std::move(fn)) {}
  Status Compute(KernelContext& context) const override { return fn_(context); }

 private:
  Fn fn_;
};

}  // namespace unihal::hal
