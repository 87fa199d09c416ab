#include "unihal/ir/graph.h"

#include <gtest/gtest.h>

namespace unihal::ir {
namespace {

Node MakeNode(std::string name, std::string op, std::vector<std::string> in,
              std::vector<std::string> out) {
  Node n;
  n.name = std::move(name);
  n.op_type = std::move(op);
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

TEST(GraphTest, TopologicalSortOrdersProducersFirstAndIsStable) {
  Graph g;
  g.inputs.push_back(ValueInfo{"x", DType::kF32, {}});
  g.nodes.push_back(MakeNode("c", "Relu", {"b"}, {"c"}));
  g.nodes.push_back(MakeNode("a", "Relu", {"x"}, {"a"}));
  g.nodes.push_back(MakeNode("b", "Add", {"a", "x"}, {"b"}));
  g.nodes.push_back(MakeNode("d", "Relu", {"x"}, {"d"}));
  ASSERT_TRUE(TopologicalSort(g).ok());
  std::vector<std::string> order;
  for (const auto& n : g.nodes) order.push_back(n.name);
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(GraphTest, CycleIsReportedWithANode) {
  Graph g;
  g.inputs.push_back(ValueInfo{"x", DType::kF32, {}});
  g.nodes.push_back(MakeNode("first", "Add", {"x", "loop_b"}, {"loop_a"}));
  g.nodes.push_back(MakeNode("second", "Relu", {"loop_a"}, {"loop_b"}));
  Status s = TopologicalSort(g);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cycle"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("node '"), std::string::npos) << s.message();
}

TEST(GraphTest, UndefinedInputNamesTheNodeAndValue) {
  Graph g;
  g.nodes.push_back(MakeNode("relu1", "Relu", {"nowhere"}, {"y"}));
  Status s = TopologicalSort(g);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("relu1"), std::string::npos);
  EXPECT_NE(s.message().find("nowhere"), std::string::npos);
}

TEST(GraphTest, DuplicateProducerIsAnError) {
  Graph g;
  g.inputs.push_back(ValueInfo{"x", DType::kF32, {}});
  g.nodes.push_back(MakeNode("one", "Relu", {"x"}, {"y"}));
  g.nodes.push_back(MakeNode("two", "Relu", {"x"}, {"y"}));
  EXPECT_FALSE(TopologicalSort(g).ok());
}

TEST(NodeTest, TypedAttributeLookups) {
  Node n = MakeNode("conv", "Conv", {}, {});
  n.attributes["group"] = Attribute(int64_t{2});
  n.attributes["pads"] = Attribute(std::vector<int64_t>{1, 1, 1, 1});
  n.attributes["alpha"] = Attribute(0.5f);
  n.attributes["mode"] = Attribute(std::string("constant"));
  EXPECT_EQ(*n.GetInt("group"), 2);
  EXPECT_EQ(*n.GetInt("missing", 7), 7);
  EXPECT_EQ(n.GetInts("pads")->size(), 4u);
  EXPECT_FLOAT_EQ(*n.GetFloat("alpha"), 0.5f);
  EXPECT_FLOAT_EQ(*n.GetFloat("group"), 2.0f);  // int stored where a float is expected
  EXPECT_EQ(*n.GetString("mode"), "constant");
  Result<int64_t> wrong = n.GetInt("pads");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("'pads' should be an int but is ints"),
            std::string::npos)
      << wrong.status().message();
  Result<int64_t> missing = n.GetInt("strides");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("node 'conv' (Conv)"), std::string::npos);
}

TEST(NodeTest, PresentInputs) {
  Node n = MakeNode("clip", "Clip", {"x", "", "max", ""}, {"y"});
  EXPECT_EQ(n.num_present_inputs(), 3u);
  EXPECT_TRUE(n.has_input(2));
  EXPECT_FALSE(n.has_input(1));
  EXPECT_FALSE(n.has_input(9));
}

TEST(ValueInfoTest, StaticShapeAndDescribe) {
  ValueInfo v{"input", DType::kF32, SymbolicShape{Dim::Symbolic("batch"), Dim::Static(3)}};
  EXPECT_FALSE(v.StaticShape().has_value());
  EXPECT_EQ(v.Describe(), "input: float32[batch, 3]");
  ValueInfo s{"w", DType::kI64, SymbolicShape{Dim::Static(2)}};
  EXPECT_EQ(*s.StaticShape(), (Shape{2}));
  ValueInfo u{"u", DType::kF16, std::nullopt};
  EXPECT_EQ(u.Describe(), "u: float16[unknown rank]");
}

}  // namespace
}  // namespace unihal::ir
