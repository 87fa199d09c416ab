// SequenceMap (ai.onnx opset 17): runs its body once per element of the input sequence. Body
// input j is element i of node input j when that input is a sequence (every sequence input has
// the same length), else the whole tensor; body output k, per element, makes output sequence k.
#include <climits>
#include <memory>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/compiled_subgraph.h"
#include "drivers/cpu/kernels/kernel_util.h"
#include "drivers/cpu/kernels/sequence_util.h"

namespace unihal::cpu {
namespace {

class SequenceMapKernel final : public hal::Kernel {
 public:
  static Result<std::unique_ptr<hal::Kernel>> Create(const hal::KernelCreateInfo& info,
                                                     const hal::KernelRegistry& registry) {
    const ir::Node& node = info.node;
    UH_ASSIGN_OR_RETURN(const size_t num_explicit, NumExplicitInputs(node));
    UH_ASSIGN_OR_RETURN(CompiledSubgraph body,
                        CompiledSubgraph::Compile(info, "body", num_explicit, registry));
    if (num_explicit < 1 || body.num_inputs() != num_explicit) {
      return InvalidArgumentError(node.Describe() + " has " + std::to_string(num_explicit) +
                                  " inputs, but its body takes " +
                                  std::to_string(body.num_inputs()) +
                                  "; it needs one input per body input, the first a sequence");
    }
    UH_RETURN_IF_ERROR(CheckOutputCount(node, "the body", body.num_outputs()));
    return std::unique_ptr<hal::Kernel>(new SequenceMapKernel(std::move(body), num_explicit));
  }

  Status Compute(hal::KernelContext& context) const override {
    const ir::Node& node = context.node();
    UH_ASSIGN_OR_RETURN(const Value* first, NeedSequence(context, 0));
    const size_t length = first->elements().size();
    std::vector<const Value*> inputs;
    for (size_t j = 0; j < num_inputs_; ++j) {
      const Value* input = context.input_value(j);
      if (!input || input->is_none()) {
        return InvalidArgumentError(node.Describe() + ": input " + std::to_string(j) +
                                    " needs a sequence or a tensor");
      }
      if (input->is_sequence() && input->elements().size() != length) {
        return InvalidArgumentError(node.Describe() + ": input " + std::to_string(j) + " has " +
                                    std::to_string(input->elements().size()) +
                                    " elements and input 0 has " + std::to_string(length) +
                                    "; every sequence input needs the same length");
      }
      inputs.push_back(input);
    }
    std::vector<std::vector<Tensor>> mapped(body_.num_outputs());
    for (size_t i = 0; i < length; ++i) {
      std::vector<Value> body_inputs;
      for (const Value* input : inputs) {
        body_inputs.push_back(input->is_sequence() ? Value(input->elements()[i]) : *input);
      }
      std::vector<Value> outputs;
      Status run = body_.Run(context, std::move(body_inputs), outputs);
      if (!run.ok())
        return std::move(run).WithContext(node.Describe() + ", element " + std::to_string(i));
      for (size_t k = 0; k < outputs.size(); ++k) {
        if (!outputs[k].is_tensor()) {
          return InvalidArgumentError(node.Describe() + ": body output " + std::to_string(k) +
                                      " is " + outputs[k].Describe() +
                                      "; each must be a tensor (an element of output " +
                                      std::to_string(k) + ")");
        }
        mapped[k].push_back(std::move(outputs[k].mutable_tensor()));
      }
    }
    for (size_t k = 0; k < mapped.size(); ++k) {
      UH_ASSIGN_OR_RETURN(Value sequence, OutputSequence(node, k, std::move(mapped[k])));
      UH_RETURN_IF_ERROR(context.SetOutputValue(k, std::move(sequence)));
    }
    return Status::Ok();
  }

 private:
  SequenceMapKernel(CompiledSubgraph body, size_t num_inputs)
      : body_(std::move(body)), num_inputs_(num_inputs) {}

  // Output k; after zero elements its dtype is the body output's declared one.
  Result<Value> OutputSequence(const ir::Node& node, size_t k, std::vector<Tensor> elements) const {
    const DType declared = body_.graph().outputs[k].dtype;
    if (elements.empty() && declared == DType::kUndefined) {
      return UnimplementedError(node.Describe() +
                                ": mapped an empty sequence, and the body does not declare the "
                                "dtype of output '" +
                                body_.graph().outputs[k].name + "'");
    }
    Result<Value> sequence =
        Value::Sequence(elements.empty() ? declared : DType::kUndefined, std::move(elements));
    if (!sequence.ok())
      return sequence.status().WithContext(node.Describe() + ", output " + std::to_string(k));
    return sequence;
  }

  CompiledSubgraph body_;
  size_t num_inputs_;
};

}  // namespace

void RegisterSequenceMapKernel(hal::KernelRegistry& registry) {
  // The kernel compiles its body with the registry it is registered in, which outlives it.
  const hal::KernelRegistry* kernels = &registry;
  hal::KernelDef def = ReferenceKernelDef(
      "SequenceMap", 17, INT_MAX,
      [kernels](const hal::KernelCreateInfo& info) {
        return SequenceMapKernel::Create(info, *kernels);
      },
      [kernels](const hal::KernelCreateInfo& info) { return SubgraphsSupported(info, *kernels); });
  def.accepts_non_tensor_values = true;
  registry.Register(std::move(def));
}

}  // namespace unihal::cpu
