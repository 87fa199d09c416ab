// The layout pass (cpu_layout.h): which values stay blocked through pools, Concat and
// layout-transparent ops, and that the blocked graphs compute what the plain graphs compute
// with the reference kernels alone.
#include "drivers/cpu/cpu_layout.h"

#include <gtest/gtest.h>

#include "drivers/cpu/cpu_kernels.h"
#include "testing/op_test_util.h"
#include "unihal/hal/kernel_executable.h"

namespace unihal::cpu {
namespace {

// The layout pass runs with nChw8c here (what the driver picks on AVX2 machines); tests that
// name a block of their own use nChw16c as well.
constexpr int64_t kBlock = 8;

using unihal::testing::AllClose;
using unihal::testing::AllCpuKernels;
using unihal::testing::AttrInt;
using unihal::testing::AttrInts;
using unihal::testing::CompileAndRun;
using unihal::testing::CpuKernelsCanRun;
using unihal::testing::F32Value;
using unihal::testing::MakeNode;
using unihal::testing::RandomTensor;

// The cpu device's passes, as in its Compile.
ir::Graph Optimized(const ir::Graph& g, int64_t block = kBlock) {
  ir::Graph t = g;
  EXPECT_TRUE(FuseConvPostOps(t, CpuKernelsCanRun).ok());
  EXPECT_TRUE(KeepConvActivationsBlocked(t, CpuKernelsCanRun, block).ok());
  return t;
}

// Runs `g` plain on the reference kernels and optimized on all cpu kernels; outputs must agree.
void ExpectSameResults(const ir::Graph& g, const ir::Graph& optimized, const Shape& x_shape) {
  hal::KernelRegistry reference;
  RegisterReferenceCpuKernels(reference);
  const Tensor x = RandomTensor(DType::kF32, x_shape, 7);
  Result<std::vector<Tensor>> expected = CompileAndRun(g, reference, {x});
  Result<std::vector<Tensor>> actual = CompileAndRun(optimized, AllCpuKernels(), {x});
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  ASSERT_TRUE(actual.ok()) << actual.status().ToString();
  ASSERT_EQ(actual->size(), expected->size());
  for (size_t i = 0; i < actual->size(); ++i) {
    EXPECT_TRUE(AllClose((*actual)[i], (*expected)[i], 1e-4, 1e-5)) << "output " << i;
  }
}

const ir::Node& NodeWithOutput(const ir::Graph& g, const std::string& output) {
  for (const ir::Node& node : g.nodes) {
    if (node.outputs[0] == output) return node;
  }
  ADD_FAILURE() << "no node writes " << output;
  return g.nodes.front();
}

int64_t Layout(const ir::Graph& g, const std::string& output, const char* attr) {
  return *NodeWithOutput(g, output).GetInt(attr, 0);
}

// Builder of small CNN graphs with 3x3 (padded) convolutions.
class CnnBuilder {
 public:
  explicit CnnBuilder(Shape x_shape) { g_.inputs.push_back(F32Value("X", x_shape)); }
  // y = Conv(x) with `out` channels (+ Relu when `relu`), spatial size kept.
  void Conv(const std::string& x, const std::string& y, int64_t in, int64_t out, Shape hw,
            bool relu = true) {
    const std::string w = "W_" + y;
    g_.initializers[w] = RandomTensor(DType::kF32, {out, in, 3, 3}, seed_++, -0.3, 0.3);
    const std::string c = relu ? y + "_pre" : y;
    g_.nodes.push_back(MakeNode("Conv", {x, w}, {c}, {{"pads", AttrInts({1, 1, 1, 1})}}));
    Value(c, {1, out, hw[0], hw[1]});
    if (relu) {
      g_.nodes.push_back(MakeNode("Relu", {c}, {y}));
      Value(y, {1, out, hw[0], hw[1]});
    }
  }
  void Node(ir::Node node, Shape y_shape) {
    Value(node.outputs[0], y_shape);
    g_.nodes.push_back(std::move(node));
  }
  void Value(const std::string& name, Shape shape) { g_.value_info[name] = F32Value(name, shape); }
  void Output(const std::string& name) { g_.outputs.push_back(g_.value_info.at(name)); }
  const ir::Graph& graph() const { return g_; }

 private:
  ir::Graph g_;
  uint64_t seed_ = 1;
};

TEST(CpuLayoutTest, PoolsConcatAndEltwiseStayBlockedBetweenConvs) {
  // conv a (16) -> MaxPool 3x3 s2 -> conv b (8) and conv c (16) -> Concat (24) -> Sigmoid
  // -> AveragePool -> conv d (8) -> Mul(d, d) -> GlobalAveragePool -> Y.
  CnnBuilder b({1, 8, 12, 12});
  b.Conv("X", "a", 8, 16, {12, 12});
  b.Node(MakeNode("MaxPool", {"a"}, {"p"},
                  {{"kernel_shape", AttrInts({3, 3})},
                   {"strides", AttrInts({2, 2})},
                   {"pads", AttrInts({1, 1, 1, 1})}}),
         {1, 16, 6, 6});
  b.Conv("p", "b", 16, 8, {6, 6});
  b.Conv("p", "c", 16, 16, {6, 6});
  b.Node(MakeNode("Concat", {"b", "c"}, {"cat"}, {{"axis", AttrInt(1)}}), {1, 24, 6, 6});
  b.Node(MakeNode("Sigmoid", {"cat"}, {"s"}), {1, 24, 6, 6});
  b.Node(MakeNode("AveragePool", {"s"}, {"avg"},
                  {{"kernel_shape", AttrInts({2, 2})}, {"strides", AttrInts({2, 2})}}),
         {1, 24, 3, 3});
  b.Conv("avg", "d", 24, 8, {3, 3}, false);
  b.Node(MakeNode("Mul", {"d", "d"}, {"dd"}), {1, 8, 3, 3});
  b.Node(MakeNode("GlobalAveragePool", {"dd"}, {"Y"}), {1, 8, 1, 1});
  b.Output("Y");
  const ir::Graph t = Optimized(b.graph());
  EXPECT_EQ(Layout(t, "a", kYLayoutAttr), kBlock);
  const ir::Node& max_pool = NodeWithOutput(t, "p");
  EXPECT_EQ(max_pool.domain, kCpuFusionDomain);
  EXPECT_EQ(*max_pool.GetInt(kXLayoutAttr, 0), kBlock);
  EXPECT_EQ(*max_pool.GetInt(kYLayoutAttr, 0), kBlock);
  for (const char* v : {"b", "c", "d"}) EXPECT_EQ(Layout(t, v, kYLayoutAttr), kBlock);
  EXPECT_EQ(NodeWithOutput(t, "cat").op_type, "Concat");  // layout-transparent: unchanged
  EXPECT_EQ(NodeWithOutput(t, "cat").domain, "");
  EXPECT_EQ(Layout(t, "avg", kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t, "d", kXLayoutAttr), kBlock);
  // The graph output Y is plain; the global pool reads dd blocked.
  EXPECT_EQ(Layout(t, "Y", kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t, "Y", kYLayoutAttr), 0);
  ExpectSameResults(b.graph(), t, {1, 8, 12, 12});
}

// nChw16c, the block of AVX-512 machines: 32- and 16-channel values stay blocked through a
// pool, a Concat (48), a Relu and an average pool; the 24-channel values (a multiple of 8, not of
// 16) and the Add that ties them stay plain.
TEST(CpuLayoutTest, SixteenChannelBlocksStayEquivalent) {
  CnnBuilder b({1, 16, 12, 12});
  b.Conv("X", "a", 16, 32, {12, 12});
  b.Node(MakeNode("MaxPool", {"a"}, {"p"},
                  {{"kernel_shape", AttrInts({3, 3})},
                   {"strides", AttrInts({2, 2})},
                   {"pads", AttrInts({1, 1, 1, 1})}}),
         {1, 32, 6, 6});
  b.Conv("p", "b", 32, 16, {6, 6});
  b.Conv("p", "c", 32, 32, {6, 6});
  b.Node(MakeNode("Concat", {"b", "c"}, {"cat"}, {{"axis", AttrInt(1)}}), {1, 48, 6, 6});
  b.Node(MakeNode("Relu", {"cat"}, {"s"}), {1, 48, 6, 6});
  b.Node(MakeNode("AveragePool", {"s"}, {"avg"},
                  {{"kernel_shape", AttrInts({2, 2})}, {"strides", AttrInts({2, 2})}}),
         {1, 48, 3, 3});
  b.Conv("avg", "d", 48, 24, {3, 3});
  b.Conv("avg", "e", 48, 24, {3, 3});
  b.Node(MakeNode("Add", {"d", "e"}, {"de"}), {1, 24, 3, 3});
  b.Conv("de", "f", 24, 16, {3, 3}, false);
  b.Node(MakeNode("GlobalAveragePool", {"f"}, {"Y"}), {1, 16, 1, 1});
  b.Output("Y");
  const ir::Graph t = Optimized(b.graph(), 16);
  EXPECT_EQ(Layout(t, "a", kYLayoutAttr), 16);
  EXPECT_EQ(*NodeWithOutput(t, "p").GetInt(kXLayoutAttr, 0), 16);
  EXPECT_EQ(*NodeWithOutput(t, "p").GetInt(kYLayoutAttr, 0), 16);
  for (const char* v : {"b", "c"}) EXPECT_EQ(Layout(t, v, kYLayoutAttr), 16);
  EXPECT_EQ(Layout(t, "avg", kXLayoutAttr), 16);
  EXPECT_EQ(Layout(t, "avg", kYLayoutAttr), 16);
  EXPECT_EQ(Layout(t, "d", kXLayoutAttr), 16);
  EXPECT_EQ(Layout(t, "d", kYLayoutAttr), 0);  // 24 channels
  EXPECT_EQ(Layout(t, "f", kXLayoutAttr), 0);
  EXPECT_EQ(Layout(t, "f", kYLayoutAttr), 16);
  EXPECT_EQ(Layout(t, "Y", kXLayoutAttr), 16);
  ExpectSameResults(b.graph(), t, {1, 16, 12, 12});
  // With nChw8c the 24-channel values are blocked too.
  const ir::Graph t8 = Optimized(b.graph(), 8);
  EXPECT_EQ(Layout(t8, "d", kYLayoutAttr), 8);
  ExpectSameResults(b.graph(), t8, {1, 16, 12, 12});
}

TEST(CpuLayoutTest, ConcatWithChannelsNotAMultipleOf8StaysPlain) {
  CnnBuilder b({1, 8, 6, 6});
  b.Conv("X", "a", 8, 8, {6, 6});
  b.Conv("X", "c", 8, 12, {6, 6});
  b.Node(MakeNode("Concat", {"a", "c"}, {"cat"}, {{"axis", AttrInt(1)}}), {1, 20, 6, 6});
  b.Conv("cat", "Y", 20, 8, {6, 6});
  b.Output("Y");
  const ir::Graph t = Optimized(b.graph());
  EXPECT_EQ(Layout(t, "a", kYLayoutAttr), 0);  // tied to c and cat, which cannot be blocked
  EXPECT_EQ(Layout(t, "c", kYLayoutAttr), 0);
  EXPECT_EQ(Layout(t, "Y", kXLayoutAttr), 0);
  ExpectSameResults(b.graph(), t, {1, 8, 6, 6});
}

TEST(CpuLayoutTest, ConcatAlongAnotherAxisStaysPlain) {
  CnnBuilder b({1, 8, 6, 6});
  b.Conv("X", "a", 8, 8, {6, 6});
  b.Conv("X", "c", 8, 8, {6, 6});
  b.Node(MakeNode("Concat", {"a", "c"}, {"cat"}, {{"axis", AttrInt(2)}}), {1, 8, 12, 6});
  b.Conv("cat", "Y", 8, 8, {12, 6});
  b.Output("Y");
  const ir::Graph t = Optimized(b.graph());
  EXPECT_EQ(Layout(t, "a", kYLayoutAttr), 0);
  EXPECT_EQ(Layout(t, "Y", kXLayoutAttr), 0);
  ExpectSameResults(b.graph(), t, {1, 8, 6, 6});
}

TEST(CpuLayoutTest, ValuesReadByGraphOutputsOrPlainOpsStayPlain) {
  // p is also a graph output; q is read by a broadcasting Mul (per channel), which is not
  // layout-transparent; r is read by a Softmax.
  CnnBuilder b({1, 8, 8, 8});
  b.Conv("X", "a", 8, 8, {8, 8});
  b.Node(MakeNode("MaxPool", {"a"}, {"p"},
                  {{"kernel_shape", AttrInts({2, 2})}, {"strides", AttrInts({2, 2})}}),
         {1, 8, 4, 4});
  b.Conv("p", "q", 8, 8, {4, 4});
  ir::Graph g = b.graph();
  g.initializers["scale"] = RandomTensor(DType::kF32, {8, 1, 1}, 5);
  g.nodes.push_back(MakeNode("Mul", {"q", "scale"}, {"m"}));
  g.value_info["m"] = F32Value("m", {1, 8, 4, 4});
  g.nodes.push_back(MakeNode("Conv", {"m", "W_q"}, {"r"}, {{"pads", AttrInts({1, 1, 1, 1})}}));
  g.value_info["r"] = F32Value("r", {1, 8, 4, 4});
  g.nodes.push_back(MakeNode("Softmax", {"r"}, {"Y"}, {{"axis", AttrInt(1)}}));
  g.value_info["Y"] = F32Value("Y", {1, 8, 4, 4});
  g.outputs = {g.value_info.at("Y"), g.value_info.at("p")};
  const ir::Graph t = Optimized(g);
  EXPECT_EQ(Layout(t, "a", kYLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t, "p", kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t, "p", kYLayoutAttr), 0);
  EXPECT_EQ(Layout(t, "q", kYLayoutAttr), 0);
  EXPECT_EQ(Layout(t, "r", kXLayoutAttr), 0);
  EXPECT_EQ(Layout(t, "r", kYLayoutAttr), 0);
  ExpectSameResults(g, t, {1, 8, 8, 8});
}

TEST(CpuLayoutTest, BlockedPoolThatOneDnnDeclinesRunsOnPlainCopies) {
  // ceil_mode with count_include_pad: oneDNN would count the extra padding, so the reference
  // kernel computes it on plain copies of the blocked input.
  CnnBuilder b({1, 8, 7, 7});
  b.Conv("X", "a", 8, 16, {7, 7});
  b.Node(MakeNode("AveragePool", {"a"}, {"p"},
                  {{"kernel_shape", AttrInts({3, 3})},
                   {"strides", AttrInts({2, 2})},
                   {"pads", AttrInts({1, 1, 1, 1})},
                   {"ceil_mode", AttrInt(1)},
                   {"count_include_pad", AttrInt(1)}}),
         {1, 16, 4, 4});
  b.Conv("p", "Y", 16, 8, {4, 4});
  b.Output("Y");
  const ir::Graph t = Optimized(b.graph());
  EXPECT_EQ(Layout(t, "p", kXLayoutAttr), kBlock);
  EXPECT_EQ(Layout(t, "p", kYLayoutAttr), kBlock);
  ExpectSameResults(b.graph(), t, {1, 8, 7, 7});
}

TEST(CpuLayoutTest, PlainPoolsMatchTheReference) {
  // Pools on a graph input (plain, channels not a multiple of 8): oneDNN pools through
  // blocked copies.
  for (const char* op : {"MaxPool", "AveragePool", "GlobalAveragePool"}) {
    ir::Graph g;
    g.inputs.push_back(F32Value("X", {2, 5, 9, 9}));
    std::map<std::string, ir::Attribute> attrs;
    Shape y{2, 5, 1, 1};
    if (std::string(op) != "GlobalAveragePool") {
      attrs = {{"kernel_shape", AttrInts({3, 3})}, {"strides", AttrInts({2, 2})}};
      y = {2, 5, 4, 4};
    }
    g.nodes.push_back(MakeNode(op, {"X"}, {"Y"}, attrs));
    g.outputs.push_back(F32Value("Y", y));
    SCOPED_TRACE(op);
    ExpectSameResults(g, Optimized(g), {2, 5, 9, 9});
  }
}

TEST(CpuLayoutTest, LrnStaysBlockedBetweenConvs) {
  for (int64_t size : {5, 4}) {  // oneDNN takes odd sizes; even ones run on plain copies
    SCOPED_TRACE(size);
    CnnBuilder b({1, 8, 6, 6});
    b.Conv("X", "a", 8, 16, {6, 6});
    b.Node(MakeNode("LRN", {"a"}, {"n"},
                    {{"size", AttrInt(size)},
                     {"alpha", unihal::testing::AttrFloat(0.5f)},
                     {"beta", unihal::testing::AttrFloat(0.75f)},
                     {"bias", unihal::testing::AttrFloat(2.f)}}),
           {1, 16, 6, 6});
    b.Conv("n", "Y", 16, 8, {6, 6});
    b.Output("Y");
    const ir::Graph t = Optimized(b.graph());
    EXPECT_EQ(NodeWithOutput(t, "n").domain, kCpuFusionDomain);
    EXPECT_EQ(Layout(t, "n", kXLayoutAttr), kBlock);
    EXPECT_EQ(Layout(t, "Y", kXLayoutAttr), kBlock);
    ExpectSameResults(b.graph(), t, {1, 8, 6, 6});
  }
}

TEST(CpuLayoutTest, PlainLrnMatchesTheReference) {
  for (int64_t c : {5, 16}) {
    ir::Graph g;
    g.inputs.push_back(F32Value("X", {2, c, 5, 7}));
    g.nodes.push_back(MakeNode("LRN", {"X"}, {"Y"}, {{"size", AttrInt(3)}}));
    g.outputs.push_back(F32Value("Y", {2, c, 5, 7}));
    SCOPED_TRACE(c);
    ExpectSameResults(g, Optimized(g), {2, c, 5, 7});
  }
}

TEST(CpuLayoutTest, GraphsWithSubgraphsAreLeftAlone) {
  CnnBuilder b({1, 8, 6, 6});
  b.Conv("X", "a", 8, 8, {6, 6});
  b.Conv("a", "Y", 8, 8, {6, 6});
  b.Output("Y");
  ir::Graph g = b.graph();
  auto body = std::make_shared<ir::Graph>();
  ir::Node node = MakeNode("If", {"cond"}, {"unused"});
  node.attributes["then_branch"] = ir::Attribute(std::shared_ptr<const ir::Graph>(body));
  g.nodes.push_back(node);
  ir::Graph t = g;
  ASSERT_TRUE(KeepConvActivationsBlocked(t, CpuKernelsCanRun, kBlock).ok());
  for (const ir::Node& n : t.nodes) EXPECT_EQ(n.domain, "") << n.op_type;
}

}  // namespace
}  // namespace unihal::cpu
