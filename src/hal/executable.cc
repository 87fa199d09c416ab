#include "unihal/hal/executable.h"

namespace unihal::hal {

Status Executable::RunValues(std::span<const Value> inputs, std::vector<Value>& outputs) {
  std::vector<Tensor> tensors;
  tensors.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].is_tensor()) {
      const std::string name = i < this->inputs().size() ? this->inputs()[i].name : "";
      return UnimplementedError("input " + std::to_string(i) + " ('" + name + "') is " +
                                inputs[i].Describe() +
                                ", but this executable takes tensor values only");
    }
    tensors.push_back(inputs[i].tensor());
  }
  std::vector<Tensor> results;
  UH_RETURN_IF_ERROR(Run(tensors, results));
  outputs.assign(results.begin(), results.end());
  return Status::Ok();
}

}  // namespace unihal::hal
