#include "unihal/value.h"

#include <gtest/gtest.h>

namespace unihal {
namespace {

Tensor F32(Shape shape, std::vector<float> values) {
  return Tensor::FromVector<float>(std::move(shape), values);
}

TEST(ValueTest, KindsAndDefinedness) {
  const Value undefined;
  EXPECT_TRUE(undefined.is_tensor());
  EXPECT_FALSE(undefined.defined());

  const Value tensor = F32({2}, {1, 2});
  EXPECT_TRUE(tensor.is_tensor());
  EXPECT_TRUE(tensor.defined());
  EXPECT_EQ(tensor.tensor().shape(), (Shape{2}));
  EXPECT_EQ(tensor.element_dtype(), DType::kF32);
  EXPECT_TRUE(tensor.elements().empty());

  const Value none = Value::None();
  EXPECT_TRUE(none.is_none());
  EXPECT_TRUE(none.defined());  // none is a value, unlike "nothing written yet"
  EXPECT_FALSE(none.tensor().defined());
  EXPECT_EQ(none.element_dtype(), DType::kUndefined);
  EXPECT_EQ(none.Describe(), "none");
  EXPECT_EQ(ValueKindName(ValueKind::kSequence), "sequence");
}

TEST(ValueTest, SequenceKeepsItsElementsAndTheirStorage) {
  const Tensor a = F32({2}, {1, 2});
  const Tensor b = F32({3}, {3, 4, 5});  // shapes may differ
  Result<Value> sequence = Value::Sequence(DType::kUndefined, {a, b});
  ASSERT_TRUE(sequence.ok()) << sequence.status().ToString();
  EXPECT_TRUE(sequence->is_sequence());
  EXPECT_EQ(sequence->element_dtype(), DType::kF32);
  ASSERT_EQ(sequence->elements().size(), 2u);
  EXPECT_EQ(sequence->elements()[1].data(), b.data());  // shared, not copied
  EXPECT_EQ(sequence->Describe(), "sequence<float32>(float32[2], float32[3])");
  const Value copy = *sequence;
  EXPECT_EQ(copy.elements()[0].data(), a.data());
}

TEST(ValueTest, EmptySequenceNeedsADtypeAndElementsMustAgree) {
  Result<Value> empty = Value::Sequence(DType::kI64, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->element_dtype(), DType::kI64);
  EXPECT_TRUE(empty->elements().empty());

  Result<Value> untyped = Value::Sequence(DType::kUndefined, {});
  ASSERT_FALSE(untyped.ok());
  EXPECT_EQ(untyped.status().code(), StatusCode::kInvalidArgument);

  Result<Value> mixed =
      Value::Sequence(DType::kUndefined, {F32({1}, {1}), Tensor::Scalar<int64_t>(2)});
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("element 1 is int64[]"), std::string::npos)
      << mixed.status().ToString();

  Result<Value> hole = Value::Sequence(DType::kF32, {F32({1}, {1}), Tensor()});
  ASSERT_FALSE(hole.ok());
  EXPECT_NE(hole.status().message().find("element 1 has no value"), std::string::npos);
}

TEST(ValueTest, LongSequencesDescribeTheirFirstElements) {
  std::vector<Tensor> elements(6, Tensor::Scalar<int64_t>(0));
  Result<Value> sequence = Value::Sequence(DType::kI64, elements);
  ASSERT_TRUE(sequence.ok());
  EXPECT_EQ(sequence->Describe(),
            "sequence<int64>(int64[], int64[], int64[], int64[], ... 6 elements)");
}

}  // namespace
}  // namespace unihal
