#include "onnx/model_skeleton.h"

#include <gtest/gtest.h>

#include "onnx/test_model_builder.h"
#include "testing/op_test_util.h"

namespace unihal::onnx_import {
namespace {

using namespace unihal::onnx_import::testing;  // NOLINT: the model builder
using onnx::TensorProto;

constexpr size_t kMin = 1024;

// A length-delimited field: tag, varint length, payload.
std::string Field(int number, const std::string& payload) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  for (uint64_t n = payload.size();; n >>= 7) {
    out.push_back(static_cast<char>((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)));
    if (n < 0x80) break;
  }
  return out + payload;
}

// X[8,64] -> MatMul(big W) -> Add(small B) -> Y, plus a big initializer in float_data and a
// Constant node whose big tensor attribute must stay in the skeleton.
onnx::ModelProto ModelWithWeights() {
  onnx::ModelProto model = NewModel();
  auto* g = model.mutable_graph();
  AddInput(g, "X", TensorProto::FLOAT, {8, 64});
  AddInitializer(g, "W", unihal::testing::RandomTensor(DType::kF32, {64, 32}, 1));  // 8 KiB
  AddInitializer(g, "B", unihal::testing::RandomTensor(DType::kF32, {32}, 2));      // 128 B
  auto* typed = g->add_initializer();
  typed->set_name("T");
  typed->set_data_type(TensorProto::FLOAT);
  typed->add_dims(512);
  for (int i = 0; i < 512; ++i) typed->add_float_data(static_cast<float>(i));
  AddInitializer(g, "W2", unihal::testing::RandomTensor(DType::kF32, {16, 32}, 3));  // 2 KiB
  auto* constant = AddNode(g, "Constant", {}, {"K"});
  auto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = *TensorToProto(unihal::testing::RandomTensor(DType::kF32, {1024}, 4), "k");
  AddNode(g, "MatMul", {"X", "W"}, {"H"});
  AddNode(g, "Add", {"H", "B"}, {"Y"});
  AddOutput(g, "Y", TensorProto::FLOAT, {8, 32});
  return model;
}

TEST(ModelSkeletonTest, CutsLargeRawDataOutAndKeepsEverythingElse) {
  const onnx::ModelProto original = ModelWithWeights();
  const std::string bytes = Serialize(original);
  std::optional<ModelSkeleton> skeleton = SplitLargeRawData(bytes, kMin);
  ASSERT_TRUE(skeleton.has_value());
  EXPECT_LT(skeleton->bytes.size(), bytes.size() - 10 * 1024 + 200);

  // W (index 0) and W2 (index 3) are cut out, as views into the input bytes.
  ASSERT_EQ(skeleton->raw_data.size(), 2u);
  ASSERT_TRUE(skeleton->raw_data.count(0) && skeleton->raw_data.count(3));
  EXPECT_EQ(skeleton->raw_data.at(0), original.graph().initializer(0).raw_data());
  EXPECT_EQ(skeleton->raw_data.at(3), original.graph().initializer(3).raw_data());
  for (const auto& [index, raw] : skeleton->raw_data) {
    EXPECT_GE(raw.data(), bytes.data());
    EXPECT_LE(raw.data() + raw.size(), bytes.data() + bytes.size());
  }

  // The skeleton parses, lacks exactly those raw_data fields, and putting them back gives
  // the original model.
  onnx::ModelProto parsed;
  ASSERT_TRUE(parsed.ParseFromString(skeleton->bytes));
  EXPECT_FALSE(parsed.graph().initializer(0).has_raw_data());
  EXPECT_FALSE(parsed.graph().initializer(3).has_raw_data());
  EXPECT_TRUE(parsed.graph().initializer(1).has_raw_data());
  EXPECT_EQ(parsed.graph().initializer(2).float_data_size(), 512);
  EXPECT_EQ(parsed.graph().node(0).attribute(0).t().raw_data(),
            original.graph().node(0).attribute(0).t().raw_data());
  for (const auto& [index, raw] : skeleton->raw_data) {
    parsed.mutable_graph()->mutable_initializer(index)->set_raw_data(std::string(raw));
  }
  EXPECT_EQ(Serialize(parsed), bytes);
}

TEST(ModelSkeletonTest, NothingLargeLeavesTheBytesAsTheyAre) {
  const std::string bytes = Serialize(ModelWithWeights());
  std::optional<ModelSkeleton> skeleton = SplitLargeRawData(bytes, 1 << 20);
  ASSERT_TRUE(skeleton.has_value());
  EXPECT_TRUE(skeleton->raw_data.empty());
  EXPECT_EQ(skeleton->bytes, bytes);
  std::optional<ModelSkeleton> empty = SplitLargeRawData("", kMin);
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->bytes.empty());
}

TEST(ModelSkeletonTest, RefusesWhatItDoesNotFollowExactly) {
  const std::string bytes = Serialize(ModelWithWeights());
  // Truncated inside the graph: its length runs past the end.
  EXPECT_FALSE(SplitLargeRawData(std::string_view(bytes).substr(0, bytes.size() / 2), kMin));
  EXPECT_FALSE(SplitLargeRawData(std::string_view(bytes).substr(0, bytes.size() - 1), kMin));
  // A group (wire type 3), an invalid wire type 7, field number 0, an unterminated varint.
  EXPECT_FALSE(SplitLargeRawData(std::string("\x0b\x0c", 2), kMin));
  EXPECT_FALSE(SplitLargeRawData(std::string("\x0f\x00", 2), kMin));
  EXPECT_FALSE(SplitLargeRawData(std::string("\x02\x00", 2), kMin));
  EXPECT_FALSE(SplitLargeRawData(std::string("\x08\xff\xff", 3), kMin));
  // The graph twice (protobuf merges the two): left to protobuf.
  EXPECT_FALSE(SplitLargeRawData(bytes + bytes, kMin));
  // The graph with the wrong wire type (protobuf keeps it as an unknown field): left to it.
  EXPECT_FALSE(SplitLargeRawData(std::string("\x38\x01", 2), kMin));
  // raw_data twice in one initializer (protobuf keeps the last): left to protobuf.
  const std::string raw(2048, '\x01');
  const std::string tensor = Field(9, raw) + Field(9, raw);
  const std::string model_bytes = Field(7, Field(5, tensor));
  EXPECT_FALSE(SplitLargeRawData(model_bytes, kMin));
}

TEST(ModelSkeletonTest, EveryPrefixOfAModelIsRefusedOrSplitsWithoutCrashing) {
  const std::string bytes = Serialize(ModelWithWeights());
  for (size_t keep = 0; keep < bytes.size(); keep += 7) {
    std::optional<ModelSkeleton> skeleton =
        SplitLargeRawData(std::string_view(bytes).substr(0, keep), kMin);
    if (skeleton) {
      EXPECT_LE(skeleton->bytes.size(), keep);
    }
  }
}

}  // namespace
}  // namespace unihal::onnx_import
