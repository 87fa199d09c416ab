#include "planner/cost_model.h"

#include <algorithm>

namespace unihal::planner {
namespace {

DType TypeOf(const ir::Graph& graph, const std::string& value) {
  if (const Tensor* t = graph.FindInitializer(value)) return t->dtype();
  const ir::ValueInfo* info = graph.FindValueInfo(value);
  return info ? info->dtype : DType::kUndefined;
}

std::optional<Shape> ShapeOf(const ir::Graph& graph, const std::string& value) {
  if (const Tensor* t = graph.FindInitializer(value)) return t->shape();
  const ir::ValueInfo* info = graph.FindValueInfo(value);
  if (!info) return std::nullopt;
  return info->StaticShape();
}

double Product(const Shape& shape, size_t from = 0) {
  double n = 1;
  for (size_t i = from; i < shape.size(); ++i) n *= static_cast<double>(shape[i]);
  return n;
}

// Multiply-adds per output element of the heavy ops (2 ops each); 1 op per element otherwise.
double OpsOf(const ir::Graph& graph, const ir::Node& node, double out_elements) {
  const std::string& op = node.op_type;
  const bool conv = op == "Conv" || op == "ConvInteger" || op == "QLinearConv" || op == "FusedConv";
  const bool matmul =
      op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "Gemm";
  if (!conv && !matmul) return out_elements;
  const size_t weight = (op == "QLinearConv" || op == "QLinearMatMul") ? 3 : 1;
  if (!node.has_input(weight)) return out_elements;
  std::optional<Shape> w = ShapeOf(graph, node.inputs[weight]);
  if (!w || w->empty()) return out_elements;
  if (conv) return 2 * out_elements * Product(*w, 1);  // C/group x kernel elements
  Result<int64_t> trans_b = node.GetInt("transB", 0);
  const bool transposed = op == "Gemm" && trans_b.ok() && *trans_b != 0;
  const double k =
      static_cast<double>(w->size() >= 2 && !transposed ? (*w)[w->size() - 2] : w->back());
  return 2 * out_elements * k;
}

}  // namespace

std::optional<double> ValueBytes(const ir::Graph& graph, const std::string& value) {
  if (value.empty()) return 0.0;
  std::optional<Shape> shape = ShapeOf(graph, value);
  const DType dtype = TypeOf(graph, value);
  if (!shape || dtype == DType::kUndefined) return std::nullopt;
  return static_cast<double>(StorageBytes(dtype, static_cast<int64_t>(Product(*shape))));
}

NodeWork EstimateNodeWork(const ir::Node& node, const ir::Graph& graph) {
  NodeWork work;
  for (const std::string& value : node.inputs) {
    if (value.empty()) continue;
    std::optional<double> bytes = ValueBytes(graph, value);
    work.shapes_known = work.shapes_known && bytes.has_value();
    work.bytes += bytes.value_or(0);
    if (work.dtype == DType::kUndefined && !graph.FindInitializer(value)) {
      work.dtype = TypeOf(graph, value);
    }
  }
  double out_elements = 0;
  for (const std::string& value : node.outputs) {
    if (value.empty()) continue;
    std::optional<double> bytes = ValueBytes(graph, value);
    std::optional<Shape> shape = ShapeOf(graph, value);
    work.shapes_known = work.shapes_known && bytes.has_value();
    work.bytes += bytes.value_or(0);
    if (shape) out_elements += Product(*shape);
    if (work.dtype == DType::kUndefined) work.dtype = TypeOf(graph, value);
  }
  work.ops = OpsOf(graph, node, out_elements);
  return work;
}

Estimate& Estimate::operator+=(const Estimate& other) {
  seconds += other.seconds;
  assumptions.insert(other.assumptions.begin(), other.assumptions.end());
  return *this;
}

double CostModel::Bandwidth(const hal::DeviceInfo& device, Estimate& estimate) const {
  if (device.memory_bandwidth_bytes_per_s && *device.memory_bandwidth_bytes_per_s > 0) {
    return *device.memory_bandwidth_bytes_per_s;
  }
  estimate.assumptions.insert(device.id + " memory bandwidth");
  return options_.assumed_bandwidth_bytes_per_s;
}

Estimate CostModel::NodeSeconds(const hal::DeviceInfo& device, const ir::Node& node,
                                const NodeWork& work) const {
  Estimate estimate;
  if (auto dev = options_.measured_node_seconds.find(device.id);
      dev != options_.measured_node_seconds.end()) {
    if (auto it = dev->second.find(node.name); it != dev->second.end()) {
      estimate.seconds = it->second;
      return estimate;
    }
  }
  double rate = options_.assumed_ops_per_s;
  if (auto it = device.peak_ops_per_s.find(work.dtype);
      it != device.peak_ops_per_s.end() && it->second > 0) {
    rate = it->second;
  } else {
    estimate.assumptions.insert(device.id + " " + std::string(DTypeName(work.dtype)) + " rate");
  }
  const double bandwidth = Bandwidth(device, estimate);
  if (!work.shapes_known) estimate.assumptions.insert("unknown shapes counted as empty");
  estimate.seconds = std::max(work.ops / rate, work.bytes / bandwidth);
  return estimate;
}

Estimate CostModel::CopySeconds(const hal::DeviceInfo& from, const hal::DeviceInfo& to,
                                double bytes) const {
  Estimate estimate;
  // The slower side of the two memories bounds the copy.
  const double bandwidth = std::min(Bandwidth(from, estimate), Bandwidth(to, estimate));
  estimate.seconds = bytes / bandwidth + options_.assumed_copy_overhead_s;
  estimate.assumptions.insert("copy overhead");
  return estimate;
}

Estimate CostModel::LaunchSeconds(const hal::DeviceInfo& device) const {
  Estimate estimate;
  estimate.seconds = options_.assumed_launch_s;
  estimate.assumptions.insert(device.id + " launch cost");
  return estimate;
}

}  // namespace unihal::planner
