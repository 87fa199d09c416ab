#include "unihal/value.h"

namespace unihal {

std::string_view ValueKindName(ValueKind kind) {
  switch (kind) {
    case ValueKind::kTensor:
      return "tensor";
    case ValueKind::kSequence:
      return "sequence";
    case ValueKind::kNone:
      return "none";
  }
  return "unknown";
}

Result<Value> Value::Sequence(DType element_dtype, std::vector<Tensor> elements) {
  if (element_dtype == DType::kUndefined && !elements.empty()) {
    element_dtype = elements.front().dtype();
  }
  if (element_dtype == DType::kUndefined) {
    return InvalidArgumentError("an empty sequence needs an element dtype");
  }
  for (size_t i = 0; i < elements.size(); ++i) {
    const Tensor& element = elements[i];
    if (!element.defined() || !element.is_host()) {
      return InvalidArgumentError("sequence element " + std::to_string(i) +
                                  (element.defined() ? " is not in host memory" : " has no value"));
    }
    if (element.dtype() != element_dtype) {
      return InvalidArgumentError("sequence element " + std::to_string(i) + " is " +
                                  element.Describe() + ", but the sequence holds " +
                                  std::string(DTypeName(element_dtype)) +
                                  " tensors; every element must have the same dtype");
    }
  }
  Value value;
  value.kind_ = ValueKind::kSequence;
  value.elements_ = std::move(elements);
  value.element_dtype_ = element_dtype;
  return value;
}

Value Value::None() {
  Value value;
  value.kind_ = ValueKind::kNone;
  return value;
}

std::string Value::Describe() const {
  switch (kind_) {
    case ValueKind::kTensor:
      return tensor_.defined() ? tensor_.Describe() : "undefined";
    case ValueKind::kNone:
      return "none";
    case ValueKind::kSequence:
      break;
  }
  // Long sequences list their first elements only: this is for error messages.
  constexpr size_t kShown = 4;
  std::string out = "sequence<" + std::string(DTypeName(element_dtype_)) + ">(";
  for (size_t i = 0; i < elements_.size() && i < kShown; ++i) {
    out += (i ? ", " : "") + elements_[i].Describe();
  }
  if (elements_.size() > kShown) {
    out += ", ... " + std::to_string(elements_.size()) + " elements";
  }
  return out + ")";
}

}  // namespace unihal
