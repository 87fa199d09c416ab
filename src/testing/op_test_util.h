// Helpers for kernel and executor tests: one-node graphs, random tensors, tolerant compares.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "unihal/hal/kernel_registry.h"
#include "unihal/ir/graph.h"
#include "unihal/tensor.h"

namespace unihal::testing {

// Builds an ai.onnx node. Inputs/outputs are value names; "" marks an absent optional input.
ir::Node MakeNode(std::string op_type, std::vector<std::string> inputs,
                  std::vector<std::string> outputs,
                  std::map<std::string, ir::Attribute> attributes = {}, int opset = 17);

// Attribute shorthands.
ir::Attribute AttrInt(int64_t v);
ir::Attribute AttrFloat(float v);
ir::Attribute AttrString(std::string v);
ir::Attribute AttrInts(std::vector<int64_t> v);
ir::Attribute AttrFloats(std::vector<float> v);
ir::Attribute AttrTensor(Tensor v);

struct RunNodeOptions {
  // Indices of inputs passed as initializers (constants known at compile time, e.g. weights).
  std::set<size_t> constant_inputs;
};

// Compiles `node` alone with the kernels of `registry` and runs it on `inputs` (by position;
// an undefined Tensor for an absent input). Returns the node's outputs.
Result<std::vector<Tensor>> RunNode(const hal::KernelRegistry& registry, const ir::Node& node,
                                    const std::vector<Tensor>& inputs,
                                    const RunNodeOptions& options = {});

// Registry with every cpu kernel (oneDNN and reference).
const hal::KernelRegistry& AllCpuKernels();

// Hand-built graphs: a float32 value of static `shape` (inputs, outputs, value_info).
ir::ValueInfo F32Value(const std::string& name, const Shape& shape);
// Whether the cpu's kernels accept `node` in `graph`: the FusionCheck of the cpu passes.
bool CpuKernelsCanRun(const ir::Node& node, const ir::Graph& graph);
// Compiles `graph` with `kernels` and runs it once on `inputs` (in graph input order).
Result<std::vector<Tensor>> CompileAndRun(const ir::Graph& graph,
                                          const hal::KernelRegistry& kernels,
                                          const std::vector<Tensor>& inputs);

// Deterministic uniform random values in [lo, hi) (integers: rounded), any dtype.
Tensor RandomTensor(DType dtype, Shape shape, uint64_t seed, double lo = -1.0, double hi = 1.0);

// A host tensor of `dtype` holding `values`, converted as C++ casts do (16-bit floats through
// float, bool as value != 0).
Tensor FromDoubles(DType dtype, const Shape& shape, const std::vector<double>& values);

// Element i of a host tensor as double (any dtype).
double ElementAsDouble(const Tensor& t, int64_t i);

// Same dtype and shape, and |a - e| <= atol + rtol * |e| everywhere (NaNs must match).
::testing::AssertionResult AllClose(const Tensor& actual, const Tensor& expected,
                                    double rtol = 1e-5, double atol = 1e-6);

}  // namespace unihal::testing
