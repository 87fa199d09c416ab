#include "api/working_memory.h"

#include <algorithm>
#include <set>

namespace unihal {

WorkingMemoryEstimate::WorkingMemoryEstimate(const ir::Graph& graph) : inputs_(graph.inputs) {
  std::set<std::string> external;  // inputs and weights: not the run's own memory
  for (const ir::ValueInfo& input : graph.inputs) external.insert(input.name);
  for (const auto& [name, weight] : graph.initializers) external.insert(name);
  std::set<std::string> outputs;
  for (const ir::ValueInfo& output : graph.outputs) outputs.insert(output.name);

  std::map<std::string, int> index;
  std::map<int, size_t> last_reader;
  steps_.resize(graph.nodes.size());
  bool needs_symbols = false;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& node = graph.nodes[n];
    for (const std::string& name : node.inputs) {
      auto it = index.find(name);
      if (it != index.end()) last_reader[it->second] = n;
    }
    for (const std::string& name : node.outputs) {
      if (name.empty() || external.count(name) || index.count(name)) continue;
      Value value;
      if (const ir::ValueInfo* info = graph.FindValueInfo(name)) {
        value.bits = DTypeBits(info->dtype);
        value.known_rank = info->shape.has_value();
        if (info->shape) value.dims = *info->shape;
        for (const ir::Dim& d : value.dims) needs_symbols = needs_symbols || !d.is_static();
      }
      const int id = static_cast<int>(values_.size());
      values_.push_back(std::move(value));
      index.emplace(name, id);
      last_reader[id] = n;  // an unread value dies after its producer
      steps_[n].made.push_back(id);
    }
  }
  for (const auto& [name, id] : index) {
    if (!outputs.count(name)) steps_[last_reader[id]].freed.push_back(id);
  }
  if (!needs_symbols) static_peak_ = Peak({});
}

int64_t WorkingMemoryEstimate::Bytes(const Value& value, const Symbols& symbols) const {
  if (value.bits == 0 || !value.known_rank) return 0;
  int64_t elements = 1;
  for (const ir::Dim& d : value.dims) {
    int64_t size = d.value;
    if (!d.is_static()) {
      auto it = d.symbol.empty() ? symbols.end() : symbols.find(d.symbol);
      if (it == symbols.end()) return 0;  // unknown: counted as nothing (a lower bound)
      size = it->second;
    }
    elements *= size;
  }
  return (elements * static_cast<int64_t>(value.bits) + 7) / 8;
}

int64_t WorkingMemoryEstimate::Peak(const Symbols& symbols) const {
  int64_t live = 0, peak = 0;
  for (const Step& step : steps_) {
    for (int id : step.made) live += Bytes(values_[static_cast<size_t>(id)], symbols);
    peak = std::max(peak, live);
    for (int id : step.freed) live -= Bytes(values_[static_cast<size_t>(id)], symbols);
  }
  return peak;
}

int64_t WorkingMemoryEstimate::PeakBytes(const std::map<std::string, Tensor>& inputs) const {
  if (static_peak_) return *static_peak_;
  Symbols symbols;
  for (const ir::ValueInfo& info : inputs_) {
    auto it = inputs.find(info.name);
    if (!info.shape || it == inputs.end()) continue;
    const Shape& shape = it->second.shape();
    for (size_t d = 0; d < info.shape->size() && d < shape.size(); ++d) {
      const ir::Dim& dim = (*info.shape)[d];
      if (!dim.is_static() && !dim.symbol.empty()) symbols.emplace(dim.symbol, shape[d]);
    }
  }
  return Peak(symbols);
}

}  // namespace unihal
