// Per-driver table of kernels by op. Several implementations of an op may be registered
// (e.g. oneDNN and reference); the highest-priority one whose `supports` accepts the node wins.
#pragma once

#include <climits>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unihal/hal/kernel.h"

namespace unihal::hal {

struct SupportResult {
  bool supported = false;
  std::string reason;  // why not (or which implementation, when supported)
  static SupportResult Yes(std::string why = {}) { return {true, std::move(why)}; }
  static SupportResult No(std::string why) { return {false, std::move(why)}; }
};

struct KernelDef {
  std::string op_type;
  std::string domain;  // "" = ai.onnx
  int min_opset = 1;
  int max_opset = INT_MAX;
  std::string implementation;  // "reference", "onednn", ...
  int priority = 0;            // higher is tried first
  // Optional: whether this implementation takes the node (dtypes, attributes). Absent = yes.
  std::function<SupportResult(const KernelCreateInfo&)> supports;
  KernelFactory create;
  // Whether the kernel handles the storage-only dtypes (float8, float4, int4, int2; see
  // IsStorageOnly). Without it the registry refuses nodes whose known input or output dtypes
  // are storage-only, and guards the kernel at compute time, so no arithmetic kernel ever
  // reads those bits as another type. Only Cast, CastLike, QuantizeLinear, DequantizeLinear and
  // data-movement kernels that move whole storage bytes set it.
  bool accepts_storage_only_dtypes = false;
  // Whether the kernel takes sequences and optionals (unihal/value.h) through
  // KernelContext::input_value and SetOutputValue. Without it the registry refuses nodes whose
  // known input or output types are not tensors, and guards the kernel at compute time, so a
  // tensor kernel never mistakes a sequence for an absent input.
  bool accepts_non_tensor_values = false;
};

class KernelRegistry {
 public:
  void Register(KernelDef def);
  // Whether some implementation accepts the node; the reason names what is missing.
  SupportResult Supports(const KernelCreateInfo& info) const;
  // Creates the best accepting implementation; errors name the node.
  Result<std::unique_ptr<Kernel>> Create(const KernelCreateInfo& info) const;
  // Op types with at least one kernel, sorted.
  std::vector<std::string> OpTypes() const;
  // The implementation name Create would pick, or "" when none.
  std::string SelectedImplementation(const KernelCreateInfo& info) const;
  // A device whose memory holds tensors only (sim-npu) refuses every node that takes or gives a
  // sequence or an optional, whatever its kernels accept. `device` names it in the reasons.
  void SetTensorValuesOnly(std::string device);
  bool tensor_values_only() const { return !tensor_only_device_.empty(); }

 private:
  const KernelDef* Select(const KernelCreateInfo& info, std::string* why_not) const;
  std::map<std::pair<std::string, std::string>, std::vector<KernelDef>> kernels_;
  std::string tensor_only_device_;  // empty: sequences and optionals are allowed
};

}  // namespace unihal::hal
