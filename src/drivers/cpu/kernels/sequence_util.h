// Helpers shared by the sequence and optional kernels (sequence_ops.cc, sequence_map.cc,
// optional_ops.cc): reading sequence inputs and positions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "unihal/hal/kernel.h"
#include "unihal/status.h"
#include "unihal/value.h"

namespace unihal::cpu {

// Input i as a sequence, or an error naming the node, the input and what it is instead.
Result<const Value*> NeedSequence(const hal::KernelContext& context, size_t i);

// A position input (an int32 or int64 tensor with one element) as an index into a sequence of
// `size` elements. Negative positions count from the back. Valid positions are [-size, size)
// or, when `past_end_ok` (an insertion point), [-size, size]; others are kOutOfRange naming the
// node.
Result<size_t> SequencePosition(const ir::Node& node, const Tensor& position, size_t size,
                                bool past_end_ok);

// A sequence with the dtype `like` has and `elements`.
Result<Value> SequenceLike(const ir::Node& node, const Value& like, std::vector<Tensor> elements);

}  // namespace unihal::cpu
