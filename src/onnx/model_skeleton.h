// Splits a serialized ModelProto into a small "skeleton" (the model with the raw_data of its
// large main-graph initializers cut out) and those raw_data byte ranges, left where they are.
// Protobuf then parses only the skeleton, so the weights are not copied into strings; the
// loader copies them once into their tensors, or wraps them in place (see mapped_file.h).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace unihal::onnx_import {

struct ModelSkeleton {
  std::string bytes;  // a ModelProto: the input with the cut raw_data fields left out
  // Index in graph.initializer -> that initializer's raw_data, a range of the input bytes.
  std::unordered_map<int, std::string_view> raw_data;
};

// Cuts out every main-graph initializer's raw_data of at least `min_bytes`. Returns nullopt
// when `model` is not wire-format protobuf this splitter follows exactly (truncated, corrupt,
// groups, a graph or raw_data field given twice, ...): the caller then parses the bytes whole,
// which reports the error or merges the repeated fields as protobuf defines.
std::optional<ModelSkeleton> SplitLargeRawData(std::string_view model, size_t min_bytes);

}  // namespace unihal::onnx_import
