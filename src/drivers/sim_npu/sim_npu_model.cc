#include "drivers/sim_npu/sim_npu_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace unihal::sim_npu {
namespace {

double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

const ir::ValueInfo* Info(const ir::Graph& g, const std::string& name) {
  return name.empty() ? nullptr : g.FindValueInfo(name);
}

double Elements(const ir::Graph& g, const std::string& name) {
  if (const Tensor* t = g.FindInitializer(name)) return static_cast<double>(t->num_elements());
  const ir::ValueInfo* vi = Info(g, name);
  if (!vi) return 0;
  std::optional<Shape> s = vi->StaticShape();
  if (!s) return 0;
  double n = 1;
  for (int64_t d : *s) n *= static_cast<double>(d);
  return n;
}

DType TypeOf(const ir::Graph& g, const std::string& name) {
  if (const Tensor* t = g.FindInitializer(name)) return t->dtype();
  const ir::ValueInfo* vi = Info(g, name);
  return vi ? vi->dtype : DType::kUndefined;
}

// Multiply-accumulates per output element of the heavy ops; 1 op per element for the rest.
double OpsOf(const ir::Graph& g, const ir::Node& n, double out_elems) {
  const std::string& op = n.op_type;
  bool conv = op == "Conv" || op == "ConvInteger" || op == "QLinearConv";
  bool matmul = op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul" || op == "Gemm";
  if (conv) {
    size_t w = op == "QLinearConv" ? 3 : 1;
    const ir::ValueInfo* wi = w < n.inputs.size() ? Info(g, n.inputs[w]) : nullptr;
    const Tensor* wt = w < n.inputs.size() ? g.FindInitializer(n.inputs[w]) : nullptr;
    double per_out = 1;
    if (wt) {
      for (int64_t i = 1; i < wt->rank(); ++i) per_out *= static_cast<double>(wt->dim(i));
    } else if (wi && wi->StaticShape()) {
      Shape s = *wi->StaticShape();
      for (size_t i = 1; i < s.size(); ++i) per_out *= static_cast<double>(s[i]);
    }
    return 2 * out_elems * per_out;
  }
  if (matmul) {
    size_t b = op == "QLinearMatMul" ? 3 : 1;
    double k = 1;
    std::string bname = b < n.inputs.size() ? n.inputs[b] : "";
    std::optional<Shape> bs;
    if (const Tensor* t = g.FindInitializer(bname))
      bs = t->shape();
    else if (const ir::ValueInfo* vi = Info(g, bname))
      bs = vi->StaticShape();
    if (bs && !bs->empty()) {
      Result<int64_t> tb = n.GetInt("transB", 0);
      bool trans_b = op == "Gemm" && tb.ok() && *tb != 0;
      k = static_cast<double>(bs->size() >= 2 && !trans_b ? (*bs)[bs->size() - 2] : bs->back());
    }
    return 2 * out_elems * k;
  }
  return out_elems;
}

}  // namespace

std::vector<NodeCost> EstimateGraphCost(const ir::Graph& graph, int64_t* max_working_set_bytes) {
  std::vector<NodeCost> costs;
  int64_t max_ws = 0;
  for (const ir::Node& n : graph.nodes) {
    NodeCost c;
    double out_elems = 0;
    DType compute = DType::kUndefined;
    for (const std::string& v : n.inputs) {
      if (v.empty()) continue;
      DType t = TypeOf(graph, v);
      c.bytes += Elements(graph, v) * static_cast<double>(DTypeSize(t));
      if (compute == DType::kUndefined &&
          (t == DType::kI8 || t == DType::kU8 || t == DType::kF16)) {
        compute = t;
      }
    }
    for (const std::string& v : n.outputs) {
      if (v.empty()) continue;
      out_elems += Elements(graph, v);
      c.bytes += Elements(graph, v) * static_cast<double>(DTypeSize(TypeOf(graph, v)));
    }
    c.ops = OpsOf(graph, n, out_elems);
    c.dtype = compute == DType::kUndefined ? DType::kI8 : compute;
    max_ws = std::max(max_ws, static_cast<int64_t>(c.bytes));
    costs.push_back(c);
  }
  if (max_working_set_bytes) *max_working_set_bytes = max_ws;
  return costs;
}

SimModel::SimModel(const SimNpuProfile& profile, std::function<double()> clock)
    : profile_(profile),
      clock_(clock ? std::move(clock) : std::function<double()>(SteadySeconds)),
      temperature_c_(profile.ambient_c + profile.idle_w * profile.resistance_c_per_w),
      last_t_(clock_()),
      sample_t_(last_t_),
      power_w_(profile.idle_w) {}

double SimModel::ClockFractionLocked() const {
  double f = state_ == hal::PowerState::kPerformance ? 1.0
             : state_ == hal::PowerState::kBalanced  ? 0.75
                                                     : 0.5;
  return throttling_ ? f * profile_.throttle_clock_fraction : f;
}

double SimModel::BusyPowerLocked() const {
  // Dynamic power scales roughly with f * V^2, and V with f: about f^2 here.
  double f = ClockFractionLocked();
  return profile_.idle_w + (profile_.tdp_w - profile_.idle_w) * f * f;
}

double SimModel::LatencyLocked(const std::vector<NodeCost>& costs) const {
  double f = ClockFractionLocked();
  double total = profile_.launch_overhead_s / f;
  for (const NodeCost& c : costs) {
    auto it = profile_.peak_ops_per_s.find(c.dtype);
    double peak =
        it != profile_.peak_ops_per_s.end() ? it->second : profile_.peak_ops_per_s.begin()->second;
    total += std::max(c.ops / (peak * f), c.bytes / profile_.bandwidth_bytes_per_s) +
             profile_.node_overhead_s / f;
  }
  return total;
}

double SimModel::Latency(const std::vector<NodeCost>& costs) const {
  std::lock_guard<std::mutex> lock(mu_);
  return LatencyLocked(costs);
}

void SimModel::IntegrateLocked(double dt, double power_w) {
  if (dt <= 0) return;
  double tau = profile_.resistance_c_per_w * profile_.capacitance_j_per_c;
  double t_inf = profile_.ambient_c + power_w * profile_.resistance_c_per_w;
  temperature_c_ = t_inf + (temperature_c_ - t_inf) * std::exp(-dt / tau);
  energy_j_ += power_w * dt;
  power_w_ = power_w;
  if (!throttling_ && temperature_c_ >= profile_.throttle_c) throttling_ = true;
  if (throttling_ && temperature_c_ <= profile_.throttle_c - profile_.hysteresis_c) {
    throttling_ = false;
  }
}

void SimModel::IdleUntilLocked(double t) {
  if (t <= last_t_) return;
  IntegrateLocked(t - last_t_, profile_.idle_w);
  last_t_ = t;
}

double SimModel::RecordRun(const std::vector<NodeCost>& costs) {
  std::lock_guard<std::mutex> lock(mu_);
  IdleUntilLocked(clock_());  // cool down over the idle gap; later work queues behind earlier
  double latency = LatencyLocked(costs);
  IntegrateLocked(latency, BusyPowerLocked());
  last_t_ += latency;
  busy_s_ += latency;
  return latency;
}

void SimModel::SetPowerState(hal::PowerState state) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = state;
}

hal::PowerState SimModel::power_state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

double SimModel::busy_s() const {
  std::lock_guard<std::mutex> lock(mu_);
  return busy_s_;
}

ModelSample SimModel::Sample() {
  std::lock_guard<std::mutex> lock(mu_);
  IdleUntilLocked(clock_());
  ModelSample s;
  s.temperature_c = temperature_c_;
  s.power_w = power_w_;
  s.energy_j = energy_j_;
  double window = last_t_ - sample_t_;
  s.utilization = window > 0 ? std::clamp((busy_s_ - sample_busy_s_) / window, 0.0, 1.0) : 0.0;
  sample_t_ = last_t_;
  sample_busy_s_ = busy_s_;
  s.clock_mhz = profile_.clock_mhz * ClockFractionLocked();
  s.throttling = throttling_;
  s.model_time_s = last_t_;
  s.busy_s = busy_s_;
  return s;
}

}  // namespace unihal::sim_npu
