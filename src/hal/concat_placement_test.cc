// Zero-copy Concat (MemoryPlan::placements): which values are placed where, and that runs with
// placed values (nested Concats, a placed value read by other nodes too) compute what plain
// copies would.
#include <gtest/gtest.h>

#include <cmath>

#include "hal/memory_plan.h"
#include "testing/op_test_util.h"

namespace unihal::hal {
namespace {

using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::CompileAndRun;
using ::unihal::testing::F32Value;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;

// a = Relu(X), b = Neg(X), c = Concat(a, b), d = Relu(c), s = Sigmoid(X),
// e = Concat(c, s, d), Y = Relu(e). X is [batch, 4, 2, 3].
ir::Graph NestedConcats(int64_t batch) {
  ir::Graph g;
  const std::map<std::string, ir::Attribute> axis1{{"axis", AttrInt(1)}};
  g.inputs.push_back(F32Value("X", {batch, 4, 2, 3}));
  g.nodes.push_back(MakeNode("Relu", {"X"}, {"a"}));
  g.nodes.push_back(MakeNode("Neg", {"X"}, {"b"}));
  g.nodes.push_back(MakeNode("Concat", {"a", "b"}, {"c"}, axis1));
  g.nodes.push_back(MakeNode("Relu", {"c"}, {"d"}));
  g.nodes.push_back(MakeNode("Sigmoid", {"X"}, {"s"}));
  g.nodes.push_back(MakeNode("Concat", {"c", "s", "d"}, {"e"}, axis1));
  g.nodes.push_back(MakeNode("Relu", {"e"}, {"Y"}));
  for (const char* v : {"a", "b", "s"}) g.value_info[v] = F32Value(v, {batch, 4, 2, 3});
  for (const char* v : {"c", "d"}) g.value_info[v] = F32Value(v, {batch, 8, 2, 3});
  g.value_info["e"] = F32Value("e", {batch, 20, 2, 3});
  g.outputs.push_back(F32Value("Y", {batch, 20, 2, 3}));
  int index = 0;
  for (ir::Node& node : g.nodes) node.name = std::string("n").append(std::to_string(index++));
  return g;
}

TEST(ConcatPlacementTest, ConcatInputsAreLaidOutInTheOutput) {
  const ir::Graph g = NestedConcats(1);
  Result<MemoryPlan> plan = PlanMemory(g);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto placed = [&](const char* name) { return plan->placements.at(plan->slot_of.at(name)); };
  const int c = plan->slot_of.at("c"), e = plan->slot_of.at("e");
  const size_t image = 4 * 2 * 3 * sizeof(float);  // bytes of one 4-channel input
  EXPECT_EQ(placed("a").parent, c);
  EXPECT_EQ(placed("a").byte_offset, 0u);
  EXPECT_EQ(placed("b").parent, c);
  EXPECT_EQ(placed("b").byte_offset, image);
  EXPECT_EQ(placed("c").parent, e);  // nested: c lives inside e
  EXPECT_EQ(placed("s").parent, e);
  EXPECT_EQ(placed("s").byte_offset, 2 * image);
  EXPECT_EQ(placed("d").byte_offset, 3 * image);
  EXPECT_EQ(placed("e").parent, MemoryPlan::kAbsent);
  EXPECT_FALSE(plan->placements.count(plan->slot_of.at("X")));  // a graph input
  EXPECT_FALSE(plan->placements.count(plan->slot_of.at("Y")));  // a graph output
}

TEST(ConcatPlacementTest, NothingIsPlacedWhenInputsAreNotContiguousInTheOutput) {
  Result<MemoryPlan> plan = PlanMemory(NestedConcats(2));  // two images: strided channels
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->placements.empty());
}

TEST(ConcatPlacementTest, PlacedRunsComputeWhatCopiesWould) {
  for (int64_t batch : {1, 2}) {
    SCOPED_TRACE(batch);
    const Tensor x = RandomTensor(DType::kF32, {batch, 4, 2, 3}, 5);
    for (int run = 0; run < 2; ++run) {  // the second run reuses pooled buffers
      Result<std::vector<Tensor>> out = CompileAndRun(NestedConcats(batch), AllCpuKernels(), {x});
      ASSERT_TRUE(out.ok()) << out.status().ToString();
      const Tensor& y = (*out)[0];
      ASSERT_EQ(y.shape(), (Shape{batch, 20, 2, 3}));
      const float* xv = x.data_as<float>();
      for (int64_t n = 0; n < batch; ++n) {
        for (int64_t ch = 0; ch < 20; ++ch) {
          for (int64_t p = 0; p < 6; ++p) {
            const float v = xv[(n * 4 + ch % 4) * 6 + p];
            // e's channels: a (relu x), b (-x), s (sigmoid x), d = relu(c) = (relu x, relu -x)
            const int64_t part = ch / 4;
            float want = part == 0   ? std::max(v, 0.f)
                         : part == 1 ? -v
                         : part == 2 ? 1.f / (1.f + std::exp(-v))
                         : part == 3 ? std::max(v, 0.f)
                                     : std::max(-v, 0.f);
            want = std::max(want, 0.f);  // Y = Relu(e)
            ASSERT_NEAR(y.data_as<float>()[(n * 20 + ch) * 6 + p], want, 1e-6)
                << "image " << n << " channel " << ch << " pixel " << p;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace unihal::hal
