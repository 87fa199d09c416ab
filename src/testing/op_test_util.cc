#include "testing/op_test_util.h"

#include <cmath>
#include <random>

#include "drivers/cpu/cpu_kernels.h"
#include "unihal/hal/kernel_executable.h"
#include "unihal/low_precision.h"

namespace unihal::testing {

ir::Node MakeNode(std::string op_type, std::vector<std::string> inputs,
                  std::vector<std::string> outputs, std::map<std::string, ir::Attribute> attributes,
                  int opset) {
  ir::Node node;
  node.name = op_type + "_under_test";
  node.op_type = std::move(op_type);
  node.opset = opset;
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  node.attributes = std::move(attributes);
  return node;
}

ir::Attribute AttrInt(int64_t v) { return ir::Attribute(v); }
ir::Attribute AttrFloat(float v) { return ir::Attribute(v); }
ir::Attribute AttrString(std::string v) { return ir::Attribute(std::move(v)); }
ir::Attribute AttrInts(std::vector<int64_t> v) { return ir::Attribute(std::move(v)); }
ir::Attribute AttrFloats(std::vector<float> v) { return ir::Attribute(std::move(v)); }
ir::Attribute AttrTensor(Tensor v) { return ir::Attribute(std::move(v)); }

Result<std::vector<Tensor>> RunNode(const hal::KernelRegistry& registry, const ir::Node& node,
                                    const std::vector<Tensor>& inputs,
                                    const RunNodeOptions& options) {
  ir::Graph graph;
  graph.name = "test:" + node.name;
  graph.nodes.push_back(node);
  std::vector<Tensor> runtime_inputs;
  for (size_t i = 0; i < node.inputs.size() && i < inputs.size(); ++i) {
    if (node.inputs[i].empty() || !inputs[i].defined()) continue;
    if (options.constant_inputs.count(i)) {
      graph.initializers[node.inputs[i]] = inputs[i];
      continue;
    }
    ir::SymbolicShape shape;
    for (int64_t d : inputs[i].shape()) shape.push_back(ir::Dim::Static(d));
    graph.inputs.push_back(ir::ValueInfo{node.inputs[i], inputs[i].dtype(), shape});
    runtime_inputs.push_back(inputs[i]);
  }
  for (const auto& out : node.outputs) {
    if (!out.empty()) graph.outputs.push_back(ir::ValueInfo{out, DType::kUndefined, {}});
  }
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Executable> exe,
                      hal::CompileWithKernels(graph, registry, hal::ThreadPool::Process()));
  std::vector<Tensor> outputs;
  UH_RETURN_IF_ERROR(exe->Run(runtime_inputs, outputs));
  return outputs;
}

const hal::KernelRegistry& AllCpuKernels() {
  static const hal::KernelRegistry* registry = [] {
    static hal::KernelRegistry r;
    cpu::RegisterAllCpuKernels(r);
    return &r;
  }();
  return *registry;
}

Tensor FromDoubles(DType dtype, const Shape& shape, const std::vector<double>& values) {
  Tensor t = *Tensor::Allocate(dtype, shape);
  VisitDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
        t.data_as<T>()[i] = T(static_cast<float>(values[i]));
      } else if constexpr (std::is_same_v<T, bool>) {
        t.data_as<T>()[i] = values[i] != 0;
      } else {
        t.data_as<T>()[i] = static_cast<T>(values[i]);
      }
    }
  });
  return t;
}

ir::ValueInfo F32Value(const std::string& name, const Shape& shape) {
  ir::SymbolicShape dims;
  for (int64_t d : shape) dims.push_back(ir::Dim::Static(d));
  return ir::ValueInfo{name, DType::kF32, dims};
}

bool CpuKernelsCanRun(const ir::Node& node, const ir::Graph& graph) {
  return AllCpuKernels().Supports(hal::KernelCreateInfo{node, graph}).supported;
}

Result<std::vector<Tensor>> CompileAndRun(const ir::Graph& graph,
                                          const hal::KernelRegistry& kernels,
                                          const std::vector<Tensor>& inputs) {
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Executable> exe,
                      hal::CompileWithKernels(graph, kernels, hal::ThreadPool::Process()));
  std::vector<Tensor> outputs;
  UH_RETURN_IF_ERROR(exe->Run(inputs, outputs));
  return outputs;
}

Tensor RandomTensor(DType dtype, Shape shape, uint64_t seed, double lo, double hi) {
  Tensor t = *Tensor::Allocate(dtype, std::move(shape));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  const int64_t n = t.num_elements();
  VisitDType(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* data = t.data_as<T>();
    for (int64_t i = 0; i < n; ++i) {
      const double v = dist(rng);
      if constexpr (std::is_same_v<T, bool>) {
        data[i] = v > (lo + hi) / 2;
      } else if constexpr (std::is_integral_v<T>) {
        data[i] = static_cast<T>(std::llround(v));
      } else {
        data[i] = T(static_cast<float>(v));
        if constexpr (std::is_same_v<T, double>) data[i] = v;
      }
    }
  });
  return t;
}

double ElementAsDouble(const Tensor& t, int64_t i) {
  if (IsStorageOnly(t.dtype())) {
    return DecodeLowPrecision(t.dtype(), LoadCode(t.data(), t.dtype(), i));
  }
  double out = 0;
  VisitDType(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T v = t.data_as<T>()[i];
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
      out = static_cast<double>(static_cast<float>(v));
    } else {
      out = static_cast<double>(v);
    }
  });
  return out;
}

::testing::AssertionResult AllClose(const Tensor& actual, const Tensor& expected, double rtol,
                                    double atol) {
  if (actual.dtype() != expected.dtype()) {
    return ::testing::AssertionFailure() << "dtype " << DTypeName(actual.dtype()) << " != expected "
                                         << DTypeName(expected.dtype());
  }
  if (actual.shape() != expected.shape()) {
    return ::testing::AssertionFailure() << "shape " << ShapeToString(actual.shape())
                                         << " != expected " << ShapeToString(expected.shape());
  }
  int64_t bad = 0;
  std::string first;
  for (int64_t i = 0; i < actual.num_elements(); ++i) {
    const double a = ElementAsDouble(actual, i);
    const double e = ElementAsDouble(expected, i);
    const bool ok =
        (std::isnan(a) && std::isnan(e)) || a == e || std::abs(a - e) <= atol + rtol * std::abs(e);
    if (!ok && bad++ == 0) {
      first = "element " + std::to_string(i) + ": " + std::to_string(a) + " vs expected " +
              std::to_string(e);
    }
  }
  if (bad) {
    return ::testing::AssertionFailure()
           << bad << " of " << actual.num_elements() << " elements differ (rtol " << rtol
           << ", atol " << atol << "); first " << first;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace unihal::testing
