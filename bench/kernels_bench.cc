// Google Benchmark of the cpu driver's heavy kernels: each op on a shape from a real model,
// with the kernel the cpu device picks (oneDNN) next to the reference kernel, in one run.
// Reports GFLOP/s (counter "flops", per wall-clock second: the kernels run on the thread pool).
// Run: build/bin/bench_kernels
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/hal/thread_pool.h"

namespace unihal {
namespace {

enum class Kernels { kBest, kReference };

const hal::KernelRegistry& Registry(Kernels kernels) {
  static const auto best = [] {
    auto r = std::make_unique<hal::KernelRegistry>();
    cpu::RegisterAllCpuKernels(*r);
    return r;
  }();
  static const auto reference = [] {
    auto r = std::make_unique<hal::KernelRegistry>();
    cpu::RegisterReferenceNnKernels(*r);
    return r;
  }();
  return kernels == Kernels::kBest ? *best : *reference;
}

Tensor Filled(DType dtype, const Shape& shape) {
  Tensor t = *Tensor::Allocate(dtype, shape);
  float* data = t.data_as<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) data[i] = static_cast<float>(i % 17) * 0.01f;
  return t;
}

// One node `op(X, W)` with W constant (packed at compile time, as in a real model).
void RunOp(benchmark::State& state, Kernels kernels, const std::string& op, const Shape& x_shape,
           const Shape& w_shape, std::map<std::string, ir::Attribute> attributes, double flops) {
  ir::Graph graph;
  ir::Node node;
  node.name = op;
  node.op_type = op;
  node.opset = 17;
  node.inputs = {"X", "W"};
  node.outputs = {"Y"};
  node.attributes = std::move(attributes);
  graph.nodes.push_back(node);
  ir::SymbolicShape x_dims;
  for (int64_t d : x_shape) x_dims.push_back(ir::Dim::Static(d));
  graph.inputs.push_back(ir::ValueInfo{"X", DType::kF32, x_dims});
  graph.initializers["W"] = Filled(DType::kF32, w_shape);
  graph.outputs.push_back(ir::ValueInfo{"Y", DType::kUndefined, {}});
  Result<std::shared_ptr<hal::Executable>> exe =
      hal::CompileWithKernels(graph, Registry(kernels), hal::ThreadPool::Process());
  if (!exe.ok()) {
    state.SkipWithError(exe.status().message().c_str());
    return;
  }
  const std::vector<Tensor> inputs = {Filled(DType::kF32, x_shape)};
  std::vector<Tensor> outputs;
  for (auto _ : state) {
    outputs.clear();
    const Status status = (*exe)->Run(inputs, outputs);
    if (!status.ok()) {
      state.SkipWithError(status.message().c_str());
      return;
    }
    benchmark::DoNotOptimize(outputs);
  }
  state.counters["flops"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

// ResNet-50's second-stage 3x3 convolution: 1x64x56x56 -> 64 channels.
void BM_Conv3x3(benchmark::State& state, Kernels kernels) {
  const double flops = 2.0 * 64 * 56 * 56 * 64 * 9;
  RunOp(state, kernels, "Conv", {1, 64, 56, 56}, {64, 64, 3, 3},
        {{"pads", ir::Attribute(std::vector<int64_t>{1, 1, 1, 1})}}, flops);
}

// A BERT-base projection at sequence 128: [128, 768] x [768, 768].
void BM_MatMul(benchmark::State& state, Kernels kernels) {
  RunOp(state, kernels, "MatMul", {128, 768}, {768, 768}, {}, 2.0 * 128 * 768 * 768);
}

BENCHMARK_CAPTURE(BM_Conv3x3, onednn, Kernels::kBest)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Conv3x3, reference, Kernels::kReference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatMul, onednn, Kernels::kBest)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_MatMul, reference, Kernels::kReference)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace unihal

BENCHMARK_MAIN();
