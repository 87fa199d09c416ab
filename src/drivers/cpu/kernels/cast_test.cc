// Cast and CastLike to and from the storage-only dtypes; the float8/int4 conversions themselves
// are tested exhaustively in src/base/low_precision_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "onnx/tensor_proto.h"
#include "testing/op_test_util.h"
#include "unihal/low_precision.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrString;
using ::unihal::testing::AttrTensor;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

Result<Tensor> CastTo(DType to, const Tensor& x, int opset = 25,
                      std::map<std::string, ir::Attribute> extra = {}) {
  extra["to"] = AttrInt(onnx_import::OnnxTypeFromDType(to));
  Result<std::vector<Tensor>> out =
      RunNode(AllCpuKernels(), MakeNode("Cast", {"x"}, {"y"}, extra, opset), {x});
  if (!out.ok()) return out.status();
  return (*out)[0];
}

std::vector<uint8_t> Codes(const Tensor& t) {
  std::vector<uint8_t> codes;
  for (int64_t i = 0; i < t.num_elements(); ++i) codes.push_back(LoadCode(t.data(), t.dtype(), i));
  return codes;
}

TEST(CastTest, FloatToFloat8SaturateAndBack) {
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor x = Tensor::FromVector<float>({5}, {1.0f, -0.0f, 1000.0f, -inf, 0.3f});
  Result<Tensor> saturated = CastTo(DType::kF8E4M3FN, x);
  ASSERT_TRUE(saturated.ok()) << saturated.status().message();
  EXPECT_EQ(saturated->dtype(), DType::kF8E4M3FN);
  EXPECT_EQ(Codes(*saturated), (std::vector<uint8_t>{0x38, 0x80, 0x7e, 0xfe, 0x2a}));
  Result<Tensor> wide = CastTo(DType::kF8E4M3FN, x, 25, {{"saturate", AttrInt(0)}});
  ASSERT_TRUE(wide.ok());
  EXPECT_EQ(Codes(*wide), (std::vector<uint8_t>{0x38, 0x80, 0x7f, 0xff, 0x2a}));
  // Back to float32 and float16: exact values of the codes.
  Result<Tensor> back = CastTo(DType::kF32, *saturated);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->data_as<float>()[2], 448.0f);
  EXPECT_EQ(back->data_as<float>()[4], 0.3125f);
  Result<Tensor> half = CastTo(DType::kF16, *saturated);
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(static_cast<float>(half->data_as<Float16>()[3]), -448.0f);
}

TEST(CastTest, RandomValuesMatchTheConversionApi) {
  const Tensor x = RandomTensor(DType::kF64, {257}, 7, -600.0, 600.0);
  for (DType to : {DType::kF8E4M3FNUZ, DType::kF8E5M2, DType::kF8E5M2FNUZ, DType::kF4E2M1}) {
    Result<Tensor> y = CastTo(to, x);
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_EQ(y->nbytes(), StorageBytes(to, 257));
    for (int64_t i = 0; i < 257; ++i) {
      ASSERT_EQ(LoadCode(y->data(), to, i), EncodeFloatCode(to, x.data_as<double>()[i]))
          << DTypeName(to) << " element " << i;
    }
  }
}

TEST(CastTest, Int4PackedOddCountAndWrap) {
  const Tensor x = Tensor::FromVector<int32_t>({5}, {-9, -8, 7, 8, 15});
  Result<Tensor> y = CastTo(DType::kI4, x);
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(y->nbytes(), 3u);
  EXPECT_EQ(Codes(*y), (std::vector<uint8_t>{0x7, 0x8, 0x7, 0x8, 0xf}));
  EXPECT_EQ(static_cast<const uint8_t*>(y->data())[2], 0x0f);  // padding nibble stays 0
  Result<Tensor> back = CastTo(DType::kI8, *y);
  ASSERT_TRUE(back.ok());
  const int8_t* v = back->data_as<int8_t>();
  EXPECT_EQ(std::vector<int8_t>(v, v + 5), (std::vector<int8_t>{7, -8, 7, -8, -1}));
  Result<Tensor> unsigned4 = CastTo(DType::kU4, *y);  // int4 -> uint4 keeps the bits
  ASSERT_TRUE(unsigned4.ok());
  EXPECT_EQ(Codes(*unsigned4), Codes(*y));
  Result<Tensor> two = CastTo(DType::kU2, Tensor::FromVector<float>({3}, {3.9f, -1.0f, 5.0f}));
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(Codes(*two), (std::vector<uint8_t>{3, 3, 1}));
}

TEST(CastTest, E8M0RoundModes) {
  const Tensor x = Tensor::FromVector<float>({3}, {1.1f, 1.6f, 4.0f});
  Result<Tensor> up = CastTo(DType::kF8E8M0, x);
  ASSERT_TRUE(up.ok()) << up.status().message();
  EXPECT_EQ(Codes(*up), (std::vector<uint8_t>{0x80, 0x80, 0x81}));
  Result<Tensor> down = CastTo(DType::kF8E8M0, x, 25, {{"round_mode", AttrString("down")}});
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(Codes(*down), (std::vector<uint8_t>{0x7f, 0x7f, 0x81}));
  Result<Tensor> bad = CastTo(DType::kF8E8M0, x, 25, {{"round_mode", AttrString("even")}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("round_mode 'even'"), std::string::npos);
}

TEST(CastTest, CastLikeTakesTheTargetFromItsSecondInput) {
  Result<Tensor> like = Tensor::Allocate(DType::kF8E5M2, {1});
  ASSERT_TRUE(like.ok());
  const Tensor x = Tensor::FromVector<float>({2}, {1e6f, -2.0f});
  Result<std::vector<Tensor>> y = RunNode(
      AllCpuKernels(), MakeNode("CastLike", {"x", "like"}, {"y"}, {{"saturate", AttrInt(0)}}, 19),
      {x, *like});
  ASSERT_TRUE(y.ok()) << y.status().message();
  EXPECT_EQ(Codes((*y)[0]), (std::vector<uint8_t>{0x7c, 0xc0}));  // inf, -2
}

TEST(CastTest, ViewOpsAndConstantMoveStorageOnlyTensors) {
  Result<Tensor> x = CastTo(DType::kI4, Tensor::FromVector<int32_t>({2, 3}, {1, 2, 3, -1, -2, 7}));
  ASSERT_TRUE(x.ok());
  Result<std::vector<Tensor>> flat =
      RunNode(AllCpuKernels(), MakeNode("Flatten", {"x"}, {"y"}, {{"axis", AttrInt(0)}}, 21), {*x});
  ASSERT_TRUE(flat.ok()) << flat.status().message();
  EXPECT_EQ((*flat)[0].shape(), (Shape{1, 6}));
  EXPECT_EQ(Codes((*flat)[0]), Codes(*x));
  Result<std::vector<Tensor>> constant = RunNode(
      AllCpuKernels(), MakeNode("Constant", {}, {"y"}, {{"value", AttrTensor(*x)}}, 21), {});
  ASSERT_TRUE(constant.ok()) << constant.status().message();
  EXPECT_EQ((*constant)[0].dtype(), DType::kI4);
  EXPECT_EQ(Codes((*constant)[0]), (std::vector<uint8_t>{1, 2, 3, 0xf, 0xe, 7}));
  // Transpose reorders elements by byte size: refused for int4.
  Result<std::vector<Tensor>> transposed =
      RunNode(AllCpuKernels(), MakeNode("Transpose", {"x"}, {"y"}, {}, 21), {*x});
  ASSERT_FALSE(transposed.ok());
  EXPECT_EQ(transposed.status().code(), StatusCode::kUnimplemented);
}

TEST(CastTest, ArithmeticKernelsRefuseStorageOnlyInputs) {
  Result<Tensor> a = Tensor::Allocate(DType::kF8E4M3FN, {2});
  ASSERT_TRUE(a.ok());
  Result<std::vector<Tensor>> y =
      RunNode(AllCpuKernels(), MakeNode("Add", {"a", "b"}, {"y"}, {}, 21), {*a, *a});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(y.status().message().find("Add has no kernel for float8_e4m3fn"), std::string::npos)
      << y.status().message();
}

}  // namespace
}  // namespace unihal::cpu
