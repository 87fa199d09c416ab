// unihal's own model IR, independent of protobuf: what the loader produces, the passes
// transform, the planner partitions and a device compiles.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::ir {

struct Graph;

// One dimension: a known size, or unknown with an optional symbol ("batch", "seq").
struct Dim {
  int64_t value = -1;  // -1 when not known statically
  std::string symbol;  // may be empty for an anonymous unknown dim
  static Dim Static(int64_t v) { return Dim{v, {}}; }
  static Dim Symbolic(std::string s) { return Dim{-1, std::move(s)}; }
  bool is_static() const { return value >= 0; }
  bool operator==(const Dim& o) const { return value == o.value && symbol == o.symbol; }
};

using SymbolicShape = std::vector<Dim>;
std::string SymbolicShapeToString(const SymbolicShape& shape);  // "[batch, 3, 224, 224]"

// ONNX's value types unihal carries (see unihal/value.h): a tensor, a sequence of tensors, and
// an optional of either.
enum class TypeKind { kTensor, kSequence, kOptionalTensor, kOptionalSequence };
// "tensor", "sequence", "optional(tensor)", "optional(sequence)"
std::string_view TypeKindName(TypeKind kind);
inline bool IsSequenceType(TypeKind kind) {
  return kind == TypeKind::kSequence || kind == TypeKind::kOptionalSequence;
}
inline bool IsOptionalType(TypeKind kind) {
  return kind == TypeKind::kOptionalTensor || kind == TypeKind::kOptionalSequence;
}

// A named value's static type; shape is nullopt when even the rank is unknown. For a sequence or
// an optional, dtype and shape describe the tensor inside (a sequence's every element).
struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  std::optional<SymbolicShape> shape;
  TypeKind kind = TypeKind::kTensor;
  // The concrete shape when every dim is static.
  std::optional<Shape> StaticShape() const;
  bool is_tensor() const { return kind == TypeKind::kTensor; }
  // "input: float32[batch, 3, 224, 224]", "seq: sequence(float32[2, ?])"
  std::string Describe() const;
};

class Attribute {
 public:
  using Value = std::variant<int64_t, float, std::string, Tensor, std::shared_ptr<const Graph>,
                             std::vector<int64_t>, std::vector<float>, std::vector<std::string>,
                             std::vector<Tensor>, ValueInfo>;  // ValueInfo: a TYPE_PROTO
  Attribute() = default;
  explicit Attribute(Value v) : value_(std::move(v)) {}
  const Value& value() const { return value_; }
  template <typename T>
  const T* get() const {
    return std::get_if<T>(&value_);
  }
  std::string TypeName() const;

 private:
  Value value_;
};

struct Node {
  std::string name;  // unique within the graph (the loader names unnamed nodes)
  std::string op_type;
  std::string domain;  // "" for ai.onnx
  int opset = 0;       // opset version of `domain` the model imports
  // "" marks an absent optional input. A node with subgraph attributes (If, Loop, Scan) lists
  // after its own inputs the values its subgraphs read from enclosing graphs, in the order of
  // ir::OuterScopeValues (the loader appends them).
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;  // "" marks an absent optional output
  std::map<std::string, Attribute> attributes;

  bool HasAttribute(const std::string& key) const { return attributes.count(key) != 0; }
  // Typed attribute lookups: the default when absent, an error when the type is wrong.
  Result<int64_t> GetInt(const std::string& key, std::optional<int64_t> fallback = {}) const;
  Result<float> GetFloat(const std::string& key, std::optional<float> fallback = {}) const;
  Result<std::string> GetString(const std::string& key,
                                std::optional<std::string> fallback = {}) const;
  Result<std::vector<int64_t>> GetInts(const std::string& key,
                                       std::optional<std::vector<int64_t>> fallback = {}) const;
  Result<std::vector<float>> GetFloats(const std::string& key,
                                       std::optional<std::vector<float>> fallback = {}) const;
  Result<Tensor> GetTensor(const std::string& key) const;
  // Number of inputs that are present (trailing absent ones dropped).
  size_t num_present_inputs() const;
  bool has_input(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
  // "node 'conv1' (Conv)" for error messages.
  std::string Describe() const;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;           // topologically sorted after loading
  std::vector<ValueInfo> inputs;     // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;          // constant weights
  std::map<std::string, ValueInfo> value_info;          // inferred types of intermediate values
  std::map<std::string, int> opset_imports;            // domain -> version ("" = ai.onnx)

  // Type of any value: input, output, initializer or intermediate; nullptr when unknown.
  const ValueInfo* FindValueInfo(const std::string& value_name) const;
  const Tensor* FindInitializer(const std::string& value_name) const;
};

struct Model {
  Graph graph;
  int64_t ir_version = 0;
  std::string producer_name;
  std::string producer_version;
  std::string path;  // file it came from, if any
};

// Orders nodes so every value is produced before it is used. Fails naming a node on a
// cycle or on an input nobody produces.
Status TopologicalSort(Graph& graph);

}  // namespace unihal::ir
