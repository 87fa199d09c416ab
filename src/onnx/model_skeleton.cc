#include "onnx/model_skeleton.h"

#include <cstdint>

namespace unihal::onnx_import {
namespace {

// Field numbers of onnx.proto (ModelProto.graph, GraphProto.initializer, TensorProto.raw_data).
constexpr uint64_t kModelGraph = 7;
constexpr uint64_t kGraphInitializer = 5;
constexpr uint64_t kTensorRawData = 9;
constexpr uint64_t kLengthDelimited = 2;

// One field of a message: its number, wire type, the whole field (tag included) and, for a
// length-delimited field, its payload.
struct Field {
  uint64_t number = 0;
  uint64_t wire_type = 0;
  std::string_view whole;
  std::string_view payload;
};

// Reads the fields of one message in order; ok() turns false at the first malformed byte.
class FieldReader {
 public:
  explicit FieldReader(std::string_view message) : rest_(message) {}

  bool ok() const { return ok_; }
  bool done() const { return rest_.empty(); }

  bool Next(Field& field) {
    const std::string_view start = rest_;
    uint64_t tag = 0;
    if (!ReadVarint(tag) || (tag >> 3) == 0) return Fail();
    field.number = tag >> 3;
    field.wire_type = tag & 7;
    field.payload = {};
    switch (field.wire_type) {
      case 0: {
        uint64_t ignored = 0;
        if (!ReadVarint(ignored)) return Fail();
        break;
      }
      case 1:
        if (!Skip(8)) return Fail();
        break;
      case kLengthDelimited: {
        uint64_t length = 0;
        if (!ReadVarint(length) || length > rest_.size()) return Fail();
        field.payload = rest_.substr(0, static_cast<size_t>(length));
        rest_.remove_prefix(static_cast<size_t>(length));
        break;
      }
      case 5:
        if (!Skip(4)) return Fail();
        break;
      default:  // groups (3, 4) and invalid wire types: not in ONNX files
        return Fail();
    }
    field.whole = start.substr(0, start.size() - rest_.size());
    return true;
  }

 private:
  bool ReadVarint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (rest_.empty()) return false;
      const auto byte = static_cast<uint8_t>(rest_.front());
      rest_.remove_prefix(1);
      value |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) return true;
    }
    return false;
  }
  bool Skip(size_t bytes) {
    if (rest_.size() < bytes) return false;
    rest_.remove_prefix(bytes);
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::string_view rest_;
  bool ok_ = true;
};

void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void AppendLengthDelimited(std::string& out, uint64_t number, std::string_view payload) {
  AppendVarint(out, (number << 3) | kLengthDelimited);
  AppendVarint(out, payload.size());
  out.append(payload);
}

// Writes `tensor` (a TensorProto) to `out` without a raw_data of at least `min_bytes`, which
// goes to `raw`. False when the tensor is malformed or has raw_data twice.
bool SplitTensor(std::string_view tensor, size_t min_bytes, std::string& out,
                 std::optional<std::string_view>& raw) {
  FieldReader reader(tensor);
  Field field;
  bool seen_raw_data = false;
  while (!reader.done()) {
    if (!reader.Next(field)) return false;
    if (field.number == kTensorRawData) {
      if (field.wire_type != kLengthDelimited || seen_raw_data) return false;
      seen_raw_data = true;
      if (field.payload.size() >= min_bytes) {
        raw = field.payload;
        continue;
      }
    }
    out.append(field.whole);
  }
  return true;
}

bool SplitGraph(std::string_view graph, size_t min_bytes, std::string& out,
                ModelSkeleton& skeleton) {
  FieldReader reader(graph);
  Field field;
  int initializer = 0;
  std::string tensor;
  while (!reader.done()) {
    if (!reader.Next(field)) return false;
    if (field.number != kGraphInitializer) {
      out.append(field.whole);
      continue;
    }
    if (field.wire_type != kLengthDelimited) return false;
    std::optional<std::string_view> raw;
    tensor.clear();
    if (!SplitTensor(field.payload, min_bytes, tensor, raw)) return false;
    if (raw) {
      skeleton.raw_data.emplace(initializer, *raw);
      AppendLengthDelimited(out, kGraphInitializer, tensor);
    } else {
      out.append(field.whole);
    }
    ++initializer;
  }
  return true;
}

}  // namespace

std::optional<ModelSkeleton> SplitLargeRawData(std::string_view model, size_t min_bytes) {
  ModelSkeleton skeleton;
  FieldReader reader(model);
  Field field;
  bool seen_graph = false;
  std::string graph;
  while (!reader.done()) {
    if (!reader.Next(field)) return std::nullopt;
    if (field.number != kModelGraph) {
      skeleton.bytes.append(field.whole);
      continue;
    }
    if (field.wire_type != kLengthDelimited || seen_graph) return std::nullopt;
    seen_graph = true;
    if (!SplitGraph(field.payload, min_bytes, graph, skeleton)) return std::nullopt;
    AppendLengthDelimited(skeleton.bytes, kModelGraph, graph);
  }
  return skeleton;
}

}  // namespace unihal::onnx_import
