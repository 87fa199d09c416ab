// Optional kernels (ai.onnx opset 15+): Optional OptionalHasElement OptionalGetElement. An
// optional that holds a value is that value (a tensor or a sequence); only the empty optional
// is a value of its own kind, none (see unihal/value.h).
#include <climits>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

using hal::KernelContext;

// Optional(x) is x; Optional() with a `type` attribute is none.
Status ComputeOptional(KernelContext& context) {
  const ir::Node& node = context.node();
  if (const Value* element = context.input_value(0)) {
    if (element->is_none()) {
      return InvalidArgumentError(node.Describe() +
                                  ": the input is itself an empty optional; Optional wraps a "
                                  "tensor or a sequence");
    }
    return context.SetOutputValue(0, *element);
  }
  if (!node.has_input(0) && !node.HasAttribute("type")) {
    return InvalidArgumentError(node.Describe() +
                                " has neither an input nor a 'type' attribute; an empty "
                                "Optional needs its type");
  }
  if (node.has_input(0)) {
    return InvalidArgumentError(node.Describe() + ": input '" + node.inputs[0] + "' has no value");
  }
  return context.SetOutputValue(0, Value::None());
}

// True unless the input is none or (opset 18) absent.
Status ComputeOptionalHasElement(KernelContext& context) {
  const Value* input = context.input_value(0);
  UH_ASSIGN_OR_RETURN(Tensor * out, context.AllocateOutput(0, DType::kBool, {}));
  *out->data_as<bool>() = input != nullptr && !input->is_none();
  return Status::Ok();
}

// The optional's element; a tensor or sequence input (opset 18) passes through.
Status ComputeOptionalGetElement(KernelContext& context) {
  const ir::Node& node = context.node();
  const Value* input = context.input_value(0);
  if (!input) {
    return InvalidArgumentError(node.Describe() + " needs its input (an optional)");
  }
  if (input->is_none()) {
    return InvalidArgumentError(node.Describe() + ": input '" + node.inputs[0] +
                                "' is an empty optional (none); it has no element to get. "
                                "Check it with OptionalHasElement first");
  }
  return context.SetOutputValue(0, *input);
}

void Register(hal::KernelRegistry& registry, const char* op, hal::FunctionKernel::Fn fn) {
  hal::KernelDef def = ReferenceKernelDef(op, 15, INT_MAX, StatelessKernel(std::move(fn)));
  def.accepts_non_tensor_values = true;
  def.accepts_storage_only_dtypes = true;  // whole values move; no element is read
  registry.Register(std::move(def));
}

}  // namespace

void RegisterOptionalKernels(hal::KernelRegistry& registry) {
  Register(registry, "Optional", ComputeOptional);
  Register(registry, "OptionalHasElement", ComputeOptionalHasElement);
  Register(registry, "OptionalGetElement", ComputeOptionalGetElement);
}

}  // namespace unihal::cpu
