#include "api/value_inputs.h"

namespace unihal::api {
namespace {

// Whether a value of `kind` may be bound where `declared` is expected.
bool KindFits(ir::TypeKind declared, ValueKind kind) {
  switch (declared) {
    case ir::TypeKind::kTensor:
      return kind == ValueKind::kTensor;
    case ir::TypeKind::kSequence:
      return kind == ValueKind::kSequence;
    case ir::TypeKind::kOptionalTensor:
      return kind == ValueKind::kTensor || kind == ValueKind::kNone;
    case ir::TypeKind::kOptionalSequence:
      return kind == ValueKind::kSequence || kind == ValueKind::kNone;
  }
  return false;
}

std::string Expected(const std::vector<ir::ValueInfo>& declared) {
  std::string expected;
  for (const auto& info : declared) expected += "\n  " + info.Describe();
  return expected;
}

}  // namespace

Status RequireTensorInterface(const std::vector<ir::ValueInfo>& inputs,
                              const std::vector<ir::ValueInfo>& outputs) {
  for (const auto& [role, values] : {std::pair{"input", &inputs}, std::pair{"output", &outputs}}) {
    for (const ir::ValueInfo& info : *values) {
      if (info.is_tensor()) continue;
      return InvalidArgumentError(std::string("the model's ") + role + " '" + info.name + "' is " +
                                  std::string(ir::TypeKindName(info.kind)) + " (" +
                                  info.Describe() +
                                  "), and Session::Run carries tensors only; use "
                                  "Session::RunValues");
    }
  }
  return Status::Ok();
}

Status CheckValueInputs(const std::vector<ir::ValueInfo>& declared,
                        const std::map<std::string, Value>& inputs) {
  for (const auto& [name, value] : inputs) {
    bool known = false;
    for (const auto& info : declared) known = known || info.name == name;
    if (!known) {
      return InvalidArgumentError("the model has no input named '" + name +
                                  "'; its inputs are:" + Expected(declared));
    }
  }
  for (const ir::ValueInfo& info : declared) {
    auto it = inputs.find(info.name);
    if (it == inputs.end() || !it->second.defined()) {
      return InvalidArgumentError(
          "input '" + info.name + "' is missing" +
          (IsOptionalType(info.kind) ? " (pass Value::None() for none)" : "") +
          "; the model expects:" + Expected(declared));
    }
    const Value& value = it->second;
    if (!KindFits(info.kind, value.kind())) {
      return InvalidArgumentError("input '" + info.name + "' is " + value.Describe() +
                                  " but the model expects " + info.Describe());
    }
    if (!value.is_none() && info.dtype != DType::kUndefined &&
        value.element_dtype() != info.dtype) {
      return InvalidArgumentError("input '" + info.name + "' holds " +
                                  std::string(DTypeName(value.element_dtype())) +
                                  " but the model expects " + info.Describe());
    }
  }
  return Status::Ok();
}

}  // namespace unihal::api
