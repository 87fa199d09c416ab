// Value: what flows along a graph edge. Most values are tensors; ONNX also has sequences of
// tensors and optionals (none, or a tensor, or a sequence). An optional that holds something
// is that thing itself, as in ONNX Runtime: only the empty optional ("none") is a value kind of
// its own. Copies are cheap and share the tensors' storage.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "unihal/dtype.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal {

enum class ValueKind { kTensor, kSequence, kNone };
std::string_view ValueKindName(ValueKind kind);  // "tensor", "sequence", "none"

class Value {
 public:
  // An undefined tensor: no value yet (a graph slot nothing wrote).
  Value() = default;
  // Every tensor is a value (implicit, so tensor code reads naturally).
  Value(Tensor tensor) : tensor_(std::move(tensor)) {}  // NOLINT(google-explicit-constructor)
  // A sequence of host tensors that all have `element_dtype` (their shapes may differ). With
  // kUndefined the first element's dtype is taken; an empty sequence needs a dtype.
  static Result<Value> Sequence(DType element_dtype, std::vector<Tensor> elements);
  // The empty optional.
  static Value None();

  ValueKind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == ValueKind::kTensor; }
  bool is_sequence() const { return kind_ == ValueKind::kSequence; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  // False only for an undefined tensor.
  bool defined() const { return kind_ != ValueKind::kTensor || tensor_.defined(); }

  // The tensor; an undefined one when this is not a tensor.
  const Tensor& tensor() const { return tensor_; }
  Tensor& mutable_tensor() { return tensor_; }
  // The elements of a sequence; empty when this is not a sequence.
  const std::vector<Tensor>& elements() const { return elements_; }
  // A sequence's element dtype; a tensor's dtype; kUndefined for none.
  DType element_dtype() const { return is_tensor() ? tensor_.dtype() : element_dtype_; }

  // "float32[2, 3]", "sequence<float32>(float32[2], float32[3])", "none"
  std::string Describe() const;

 private:
  ValueKind kind_ = ValueKind::kTensor;
  Tensor tensor_;
  std::vector<Tensor> elements_;
  DType element_dtype_ = DType::kUndefined;
};

}  // namespace unihal
