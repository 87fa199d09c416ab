// R5.7: what one run of a model holds at its peak besides its inputs, for the tenant's memory
// budget. Estimated from the inferred types in the order the nodes run: each intermediate
// value lives from its producer to its last reader, the outputs until the run ends (the
// liveness the memory plan reuses buffers by). Symbolic dims take their sizes from the run's
// inputs; a value whose size is still unknown counts 0, so the estimate is a lower bound.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/tensor.h"

namespace unihal {

class WorkingMemoryEstimate {
 public:
  explicit WorkingMemoryEstimate(const ir::Graph& graph);
  // Peak bytes of intermediate values and outputs alive at once during one run.
  int64_t PeakBytes(const std::map<std::string, Tensor>& inputs) const;

 private:
  struct Value {
    size_t bits = 0;  // per element; 0 when unknown
    ir::SymbolicShape dims;
    bool known_rank = false;
  };
  struct Step {
    std::vector<int> made;   // values the node produces
    std::vector<int> freed;  // values whose last reader it is
  };
  using Symbols = std::map<std::string, int64_t>;
  int64_t Bytes(const Value& value, const Symbols& symbols) const;
  int64_t Peak(const Symbols& symbols) const;

  std::vector<Value> values_;
  std::vector<Step> steps_;
  std::vector<ir::ValueInfo> inputs_;   // to learn symbols from the run's inputs
  std::optional<int64_t> static_peak_;  // when no value needs a symbol
};

}  // namespace unihal
