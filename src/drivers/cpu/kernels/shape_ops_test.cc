#include <gtest/gtest.h>

#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrFloats;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrTensor;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;
using ::unihal::testing::RunNodeOptions;

std::vector<Tensor> RunAll(const ir::Node& node, const std::vector<Tensor>& inputs,
                           const RunNodeOptions& options = {}) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs, options);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

Status RunStatus(const ir::Node& node, const std::vector<Tensor>& inputs) {
  return RunNode(AllCpuKernels(), node, inputs).status();
}

Tensor Int64s(std::vector<int64_t> v) {
  return Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
}

// Element `flat` of x gathered at per-dim source indices: out[i...] = x[index[0][i0], ...].
// The reference for Transpose/Slice/Gather-style ops, by explicit index lists.
Tensor GatherReference(const Tensor& x, const std::vector<std::vector<int64_t>>& index,
                       const std::vector<size_t>& source_dim) {
  Shape out_shape;
  for (const auto& list : index) out_shape.push_back(static_cast<int64_t>(list.size()));
  Tensor out = *Tensor::Allocate(x.dtype(), out_shape);
  const std::vector<int64_t> strides = StridesOf(x.shape());
  const size_t elem = DTypeSize(x.dtype());
  for (int64_t flat = 0; flat < out.num_elements(); ++flat) {
    int64_t rest = flat, src = 0;
    for (size_t d = out_shape.size(); d-- > 0;) {
      src += index[d][static_cast<size_t>(rest % out_shape[d])] * strides[source_dim[d]];
      rest /= out_shape[d];
    }
    std::memcpy(static_cast<std::byte*>(out.data()) + flat * elem,
                static_cast<const std::byte*>(x.data()) + src * elem, elem);
  }
  return out;
}

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(i);
  return v;
}

TEST(ShapeOpsTest, ReshapeResolvesZeroAndMinusOne) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 1);
  for (bool constant : {false, true}) {
    RunNodeOptions options;
    if (constant) options.constant_inputs = {1};
    const Tensor y =
        RunAll(MakeNode("Reshape", {"x", "s"}, {"y"}, {}, 14), {x, Int64s({0, -1, 2})}, options)[0];
    ASSERT_EQ(y.shape(), (Shape{2, 6, 2}));
    EXPECT_TRUE(AllClose(*y.Reshaped(x.shape()), x));
  }
  // Opset 1..4: the shape attribute.
  const Tensor y1 =
      RunAll(MakeNode("Reshape", {"x"}, {"y"}, {{"shape", AttrInts({4, -1})}}, 4), {x})[0];
  EXPECT_EQ(y1.shape(), (Shape{4, 6}));
  // allowzero: a 0 is a real zero-size dim.
  const Tensor empty = RandomTensor(DType::kI64, {0, 3}, 2);
  const Tensor y2 = RunAll(MakeNode("Reshape", {"x", "s"}, {"y"}, {{"allowzero", AttrInt(1)}}, 14),
                           {empty, Int64s({3, 0})})[0];
  EXPECT_EQ(y2.shape(), (Shape{3, 0}));
}

TEST(ShapeOpsTest, ReshapeErrorsNameTheNode) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 1);
  for (const std::vector<int64_t>& bad :
       std::vector<std::vector<int64_t>>{{-1, -1}, {5, 5}, {7, -1}, {0, 0, 0, 0}, {-2, 12}}) {
    const Status s = RunStatus(MakeNode("Reshape", {"x", "s"}, {"y"}, {}, 14), {x, Int64s(bad)});
    ASSERT_FALSE(s.ok()) << ShapeToString(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("node 'Reshape_under_test' (Reshape): cannot reshape [2, 3, 4]"),
              std::string::npos)
        << s.message();
  }
}

TEST(ShapeOpsTest, FlattenSqueezeUnsqueezeIdentity) {
  const Tensor x = RandomTensor(DType::kF16, {2, 3, 4}, 3);
  for (const auto& [axis, shape] : std::vector<std::pair<int64_t, Shape>>{
           {0, {1, 24}}, {1, {2, 12}}, {3, {24, 1}}, {-1, {6, 4}}}) {
    const Tensor y =
        RunAll(MakeNode("Flatten", {"x"}, {"y"}, {{"axis", AttrInt(axis)}}, 13), {x})[0];
    EXPECT_TRUE(AllClose(y, *x.Reshaped(shape))) << axis;
  }
  const Tensor z = RandomTensor(DType::kI32, {1, 3, 1, 2}, 4, -9, 9);
  // Unsqueeze: attribute (opset 11) and input (opset 13), negative axes count in the output.
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Unsqueeze", {"x"}, {"y"}, {{"axes", AttrInts({0, -1})}}, 11), {z})[0],
      *z.Reshaped({1, 1, 3, 1, 2, 1})));
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Unsqueeze", {"x", "a"}, {"y"}, {}, 13),
                              {z, Int64s({2, -2})}, {.constant_inputs = {1}})[0],
                       *z.Reshaped({1, 3, 1, 1, 2, 1}).value().Reshaped({1, 3, 1, 1, 1, 2})));
  // Squeeze: every 1 when no axes; listed axes; error on a non-1 axis.
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Squeeze", {"x"}, {"y"}, {}, 13), {z})[0], *z.Reshaped({3, 2})));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Squeeze", {"x"}, {"y"}, {{"axes", AttrInts({-2})}}, 11), {z})[0],
               *z.Reshaped({1, 3, 2})));
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Squeeze", {"x", "a"}, {"y"}, {}, 13), {z, Int64s({0})})[0],
                       *z.Reshaped({3, 1, 2})));
  const Status s = RunStatus(MakeNode("Squeeze", {"x", "a"}, {"y"}, {}, 13), {z, Int64s({1})});
  EXPECT_NE(s.message().find("cannot squeeze axis 1"), std::string::npos) << s.message();
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Identity", {"x"}, {"y"}), {x})[0], x));
  // Dropout at inference: the data, and an all-true mask.
  const Tensor r = RandomTensor(DType::kF32, {3, 5}, 5);
  std::vector<Tensor> d =
      RunAll(MakeNode("Dropout", {"x", "ratio", "training"}, {"y", "mask"}, {}, 13),
             {r, Tensor::Scalar<float>(0.5f), Tensor::Scalar<bool>(false)});
  EXPECT_TRUE(AllClose(d[0], r));
  EXPECT_TRUE(AllClose(d[1], Tensor::FromVector<bool>({3, 5}, std::vector<bool>(15, true))));
  d = RunAll(MakeNode("Dropout", {"x"}, {"y", "mask"}, {{"ratio", AttrFloat(0.3f)}}, 7), {r});
  EXPECT_TRUE(AllClose(d[1], Tensor::FromVector<float>({3, 5}, std::vector<float>(15, 1.0f))));
  const Status training = RunStatus(MakeNode("Dropout", {"x", "", "t"}, {"y"}, {}, 13),
                                    {r, Tensor(), Tensor::Scalar<bool>(true)});
  EXPECT_TRUE(training.ok()) << training.ToString();  // training mode: kernels/training.cc
}

TEST(ShapeOpsTest, TransposeAnyDTypeAndPerm) {
  uint64_t seed = 10;
  for (DType dtype : {DType::kF32, DType::kI64, DType::kF16, DType::kU8, DType::kBool}) {
    const Tensor x = RandomTensor(dtype, {2, 3, 4, 5}, seed++, -50, 50);
    for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{
             {3, 2, 1, 0}, {0, 2, 1, 3}, {1, 0, 2, 3}, {0, 1, 3, 2}, {2, 3, 0, 1}}) {
      std::map<std::string, ir::Attribute> attrs;
      const bool default_perm = perm == std::vector<int64_t>{3, 2, 1, 0};
      if (!default_perm) attrs["perm"] = AttrInts(perm);
      const Tensor y = RunAll(MakeNode("Transpose", {"x"}, {"y"}, attrs), {x})[0];
      std::vector<std::vector<int64_t>> index;
      std::vector<size_t> source;
      for (int64_t p : perm) {
        index.push_back(Iota(x.dim(p)));
        source.push_back(static_cast<size_t>(p));
      }
      EXPECT_TRUE(AllClose(y, GatherReference(x, index, source)))
          << DTypeName(dtype) << ShapeToString(perm);
    }
  }
  const Tensor big = RandomTensor(DType::kF32, {64, 96, 33}, 20);
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Transpose", {"x"}, {"y"}, {{"perm", AttrInts({2, 0, 1})}}), {big})[0],
      GatherReference(big, {Iota(33), Iota(64), Iota(96)}, {2, 0, 1})));
  const Status s =
      RunStatus(MakeNode("Transpose", {"x"}, {"y"}, {{"perm", AttrInts({0, 0, 1})}}), {big});
  EXPECT_NE(s.message().find("is not a permutation"), std::string::npos) << s.message();
}

TEST(ShapeOpsTest, ConcatAlongAnyAxis) {
  const Tensor a = RandomTensor(DType::kF32, {2, 3, 4}, 30);
  const Tensor b = RandomTensor(DType::kF32, {2, 1, 4}, 31);
  const Tensor c = RandomTensor(DType::kF32, {2, 0, 4}, 32);
  const Tensor y =
      RunAll(MakeNode("Concat", {"a", "b", "c"}, {"y"}, {{"axis", AttrInt(-2)}}), {a, b, c})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 4, 4}));
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      for (int64_t k = 0; k < 4; ++k) {
        const double expected =
            j < 3 ? ElementAsDouble(a, (i * 3 + j) * 4 + k) : ElementAsDouble(b, i * 4 + k);
        ASSERT_EQ(ElementAsDouble(y, (i * 4 + j) * 4 + k), expected);
      }
    }
  }
  const Tensor p = RandomTensor(DType::kI64, {3}, 33, -9, 9);
  const Tensor q = RandomTensor(DType::kI64, {2}, 34, -9, 9);
  const Tensor pq =
      RunAll(MakeNode("Concat", {"p", "q"}, {"y"}, {{"axis", AttrInt(0)}}), {p, q})[0];
  std::vector<int64_t> expected = p.ToInt64Vector().value();
  const std::vector<int64_t> tail = q.ToInt64Vector().value();
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_TRUE(AllClose(pq, Int64s(expected)));
  const Status s = RunStatus(MakeNode("Concat", {"a", "b"}, {"y"}, {{"axis", AttrInt(0)}}), {a, b});
  EXPECT_NE(s.message().find("equal dims except axis 0"), std::string::npos) << s.message();
}

TEST(ShapeOpsTest, GatherWithNegativeAndInt32Indices) {
  const Tensor x = RandomTensor(DType::kF32, {4, 5, 3}, 40);
  const Tensor idx64 = Tensor::FromVector<int64_t>({2, 2}, {0, -1, 2, -5});
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Gather", {"x", "i"}, {"y"}, {{"axis", AttrInt(1)}}), {x, idx64},
             {.constant_inputs = {1}})[0],
      *GatherReference(x, {Iota(4), {0, 4, 2, 0}, Iota(3)}, {0, 1, 2}).Reshaped({4, 2, 2, 3})));
  const Tensor idx32 = Tensor::FromVector<int32_t>({3}, {3, -4, 1});
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Gather", {"x", "i"}, {"y"}), {x, idx32})[0],
                       GatherReference(x, {{3, 0, 1}, Iota(5), Iota(3)}, {0, 1, 2})));
  // A scalar index drops the axis.
  EXPECT_TRUE(AllClose(RunAll(MakeNode("Gather", {"x", "i"}, {"y"}, {{"axis", AttrInt(-1)}}),
                              {x, Tensor::Scalar<int64_t>(2)})[0],
                       *GatherReference(x, {Iota(4), Iota(5), {2}}, {0, 1, 2}).Reshaped({4, 5})));
  const Status s = RunStatus(MakeNode("Gather", {"x", "i"}, {"y"}), {x, Int64s({4})});
  EXPECT_NE(s.message().find("index 4 is out of range"), std::string::npos) << s.message();
}

// Python slice semantics for one axis (an independent statement of the ONNX clamping rules).
std::vector<int64_t> SliceIndices(int64_t dim, int64_t start, int64_t end, int64_t step) {
  std::vector<int64_t> out;
  auto norm = [&](int64_t v, bool is_start) {
    if (v < 0) v = std::max<int64_t>(v + dim, step > 0 ? 0 : -1);
    if (v >= dim) v = step > 0 ? dim : dim - 1;
    (void)is_start;
    return v;
  };
  const int64_t s = norm(start, true), e = norm(end, false);
  for (int64_t i = s; step > 0 ? i < e : i > e; i += step) out.push_back(i);
  return out;
}

TEST(ShapeOpsTest, SliceOpsetVariants) {
  const Tensor x = RandomTensor(DType::kF32, {6, 7, 5}, 50);
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const std::vector<Case> cases = {
      {{1, 2}, {5, 100}, {0, 2}, {1, 1}},
      {{-1}, {-100}, {1}, {-1}},
      {{5, -2}, {0, 1}, {-3, -1}, {-2, -1}},
      {{0, 0, 0}, {6, 7, 5}, {0, 1, 2}, {2, 3, 4}},
      {{4}, {2}, {0}, {1}},                   // empty
      {{INT64_MAX}, {INT64_MIN}, {2}, {-2}},  // clamped both ways
      {{-100}, {INT64_MAX}, {1}, {3}},
  };
  for (const Case& c : cases) {
    std::vector<std::vector<int64_t>> index = {Iota(6), Iota(7), Iota(5)};
    for (size_t i = 0; i < c.axes.size(); ++i) {
      const size_t a = static_cast<size_t>(c.axes[i] < 0 ? c.axes[i] + 3 : c.axes[i]);
      index[a] = SliceIndices(x.dim(static_cast<int64_t>(a)), c.starts[i], c.ends[i], c.steps[i]);
    }
    const Tensor expected = GatherReference(x, index, {0, 1, 2});
    for (bool constant : {false, true}) {
      RunNodeOptions options;
      if (constant) options.constant_inputs = {1, 2, 3, 4};
      const Tensor y = RunAll(
          MakeNode("Slice", {"x", "s", "e", "a", "t"}, {"y"}, {}, 13),
          {x, Int64s(c.starts), Int64s(c.ends), Int64s(c.axes), Int64s(c.steps)}, options)[0];
      EXPECT_TRUE(AllClose(y, expected)) << ShapeToString(c.starts) << ShapeToString(c.ends);
    }
    bool unit_steps = true;
    for (int64_t s : c.steps) unit_steps = unit_steps && s == 1;
    if (unit_steps) {
      // Opset 1..9: attributes, no steps.
      const Tensor y = RunAll(MakeNode("Slice", {"x"}, {"y"},
                                       {{"starts", AttrInts(c.starts)},
                                        {"ends", AttrInts(c.ends)},
                                        {"axes", AttrInts(c.axes)}},
                                       9),
                              {x})[0];
      EXPECT_TRUE(AllClose(y, expected)) << "opset 9 " << ShapeToString(c.starts);
    }
  }
  // Default axes are 0..n-1; int32 starts/ends work too.
  const Tensor y = RunAll(
      MakeNode("Slice", {"x", "s", "e"}, {"y"}, {}, 13),
      {x, Tensor::FromVector<int32_t>({2}, {1, 1}), Tensor::FromVector<int32_t>({2}, {3, -1})})[0];
  EXPECT_TRUE(AllClose(y, GatherReference(x, {{1, 2}, {1, 2, 3, 4, 5}, Iota(5)}, {0, 1, 2})));
  const Status s = RunStatus(MakeNode("Slice", {"x", "s", "e", "a", "t"}, {"y"}, {}, 13),
                             {x, Int64s({0}), Int64s({1}), Int64s({0}), Int64s({0})});
  EXPECT_NE(s.message().find("steps must be non-zero"), std::string::npos) << s.message();
}

TEST(ShapeOpsTest, ExpandBroadcasts) {
  const Tensor x = RandomTensor(DType::kI32, {3, 1}, 60, -9, 9);
  const Tensor y = RunAll(MakeNode("Expand", {"x", "s"}, {"y"}), {x, Int64s({2, 1, 4})})[0];
  EXPECT_TRUE(AllClose(y, GatherReference(x, {{0, 0}, {0, 1, 2}, {0, 0, 0, 0}}, {0, 0, 1})
                              .Reshaped({2, 3, 4})
                              .value()));
}

TEST(ShapeOpsTest, ConstantsAndShapeQueries) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4, 5}, 70);
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Shape", {"x"}, {"y"}, {}, 13), {x})[0], Int64s({2, 3, 4, 5})));
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Shape", {"x"}, {"y"}, {{"start", AttrInt(1)}, {"end", AttrInt(-1)}}, 15),
             {x})[0],
      Int64s({3, 4})));
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Shape", {"x"}, {"y"}, {{"start", AttrInt(-10)}, {"end", AttrInt(10)}}, 15),
             {x})[0],
      Int64s({2, 3, 4, 5})));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Size", {"x"}, {"y"}), {x})[0], Tensor::Scalar<int64_t>(120)));
  EXPECT_TRUE(AllClose(RunAll(MakeNode("ConstantOfShape", {"s"}, {"y"}), {Int64s({2, 3})})[0],
                       Tensor::FromVector<float>({2, 3}, std::vector<float>(6, 0.0f))));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("ConstantOfShape", {"s"}, {"y"},
                               {{"value", AttrTensor(Tensor::FromVector<int64_t>({1}, {7}))}}),
                      {Int64s({4})}, {.constant_inputs = {0}})[0],
               Int64s({7, 7, 7, 7})));
  const Tensor value = RandomTensor(DType::kF64, {2, 2}, 71);
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Constant", {}, {"y"}, {{"value", AttrTensor(value)}}), {})[0], value));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Constant", {}, {"y"}, {{"value_float", AttrFloat(2.5f)}}), {})[0],
               Tensor::Scalar<float>(2.5f)));
  EXPECT_TRUE(
      AllClose(RunAll(MakeNode("Constant", {}, {"y"}, {{"value_ints", AttrInts({3, -1})}}), {})[0],
               Int64s({3, -1})));
  EXPECT_TRUE(AllClose(
      RunAll(MakeNode("Constant", {}, {"y"}, {{"value_floats", AttrFloats({1.5f, 2})}}), {})[0],
      Tensor::FromVector<float>({2}, {1.5f, 2.0f})));
}

// Views through the executor: Add -> Reshape (view) -> Add, with the intermediate released
// after Reshape must not be recycled while the view still reads it.
TEST(ShapeOpsTest, ViewsSurviveTheMemoryPlan) {
  ir::Graph g;
  g.name = "views";
  g.inputs.push_back(
      ir::ValueInfo{"x", DType::kF32, ir::SymbolicShape{ir::Dim::Static(2), ir::Dim::Static(6)}});
  g.initializers["shape"] = Int64s({3, 4});
  g.nodes.push_back(MakeNode("Add", {"x", "x"}, {"a"}));
  g.nodes.push_back(MakeNode("Reshape", {"a", "shape"}, {"r"}));
  g.nodes.push_back(MakeNode("Add", {"r", "r"}, {"b"}));
  g.nodes.push_back(MakeNode("Flatten", {"b"}, {"f"}));
  g.nodes.push_back(MakeNode("Mul", {"f", "f"}, {"y"}));
  const char* names[] = {"add1", "reshape", "add2", "flatten", "mul"};
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].name = names[i];
  g.outputs.push_back(ir::ValueInfo{"y", DType::kF32, {}});
  g.outputs.push_back(ir::ValueInfo{"r", DType::kF32, {}});
  Result<std::shared_ptr<hal::Executable>> exe =
      hal::CompileWithKernels(g, AllCpuKernels(), hal::ThreadPool::Process());
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const Tensor x = RandomTensor(DType::kF32, {2, 6}, 80 + seed);
    std::vector<Tensor> outputs;
    ASSERT_TRUE((*exe)->Run(std::vector<Tensor>{x}, outputs).ok());
    std::vector<float> y, r;
    for (int64_t i = 0; i < 12; ++i) {
      const double v = ElementAsDouble(x, i);
      r.push_back(static_cast<float>(2 * v));
      y.push_back(static_cast<float>(16 * v * v));
    }
    EXPECT_TRUE(AllClose(outputs[0], Tensor::FromVector<float>({3, 4}, y)));
    EXPECT_TRUE(AllClose(outputs[1], Tensor::FromVector<float>({3, 4}, r)));
  }
}

}  // namespace
}  // namespace unihal::cpu
