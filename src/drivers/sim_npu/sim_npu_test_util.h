// Helpers for the sim-npu tests: small IR graphs and devices on a manual clock.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/sim_npu/sim_npu_device.h"
#include "unihal/ir/graph.h"

namespace unihal::sim_npu::testing {

inline ir::ValueInfo Value(std::string name, DType dtype, std::vector<int64_t> dims) {
  ir::SymbolicShape shape;
  for (int64_t d : dims) shape.push_back(ir::Dim::Static(d));
  return ir::ValueInfo{std::move(name), dtype, shape};
}

// A manual clock: seconds that only move when a test moves them.
struct ManualClock {
  std::shared_ptr<std::atomic<double>> now = std::make_shared<std::atomic<double>>(0.0);
  std::function<double()> fn() const {
    auto n = now;
    return [n] { return n->load(); };
  }
  void Advance(double s) { now->store(now->load() + s); }
};

// y = Relu(x), int8 [n].
inline ir::Graph Int8ReluGraph(int64_t n = 16) {
  ir::Graph g;
  g.inputs.push_back(Value("x", DType::kI8, {n}));
  g.outputs.push_back(Value("y", DType::kI8, {n}));
  ir::Node node;
  node.name = "relu";
  node.op_type = "Relu";
  node.opset = 17;
  node.inputs = {"x"};
  node.outputs = {"y"};
  g.nodes.push_back(node);
  return g;
}

inline Status RunOnce(hal::Executable& exe, int64_t n = 16) {
  std::vector<Tensor> in = {*Tensor::Allocate(DType::kI8, {n})};
  std::vector<Tensor> out;
  return exe.Run(in, out);
}

inline SimNpuProfile Profile(const std::string& name) {
  hal::SimNpuOptions options;
  Result<SimNpuProfile> p = LoadSimNpuProfile(name, options);
  return p.ok() ? *p : SimNpuProfile{};
}

inline std::unique_ptr<SimNpuDevice> MakeDevice(const std::string& profile = "edge-34",
                                                hal::SimNpuOptions options = {},
                                                std::function<double()> clock = nullptr) {
  return std::make_unique<SimNpuDevice>(Profile(profile), options, 0,
                                        &cpu::RegisterReferenceCpuKernels, std::move(clock));
}

}  // namespace unihal::sim_npu::testing
