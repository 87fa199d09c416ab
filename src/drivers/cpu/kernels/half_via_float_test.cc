#include <gtest/gtest.h>

#include "drivers/cpu/kernels/nn_ref.h"
#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInts;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

// `tensor` (float32) rounded to `half`, as a float16/bfloat16 tensor.
Tensor Narrowed(const Tensor& tensor, DType half) {
  Tensor out = *Tensor::Allocate(half, tensor.shape());
  const float* v = tensor.data_as<float>();
  NarrowFromFloat(std::vector<float>(v, v + tensor.num_elements()), out);
  return out;
}
Tensor Widened(const Tensor& tensor) {
  return Tensor::FromVector<float>(tensor.shape(), WidenToFloat(tensor));
}

// A half-precision node must give its float32 result on the widened inputs, rounded once.
void ExpectHalfMatchesFloat(const ir::Node& node, const std::vector<Tensor>& float_inputs) {
  for (DType half : {DType::kF16, DType::kBF16}) {
    std::vector<Tensor> half_inputs, widened_inputs;
    for (const Tensor& t : float_inputs) {
      half_inputs.push_back(Narrowed(t, half));
      widened_inputs.push_back(Widened(half_inputs.back()));
    }
    Result<std::vector<Tensor>> expected = RunNode(AllCpuKernels(), node, widened_inputs);
    Result<std::vector<Tensor>> actual = RunNode(AllCpuKernels(), node, half_inputs);
    ASSERT_TRUE(expected.ok()) << expected.status().ToString();
    ASSERT_TRUE(actual.ok()) << DTypeName(half) << ": " << actual.status().ToString();
    EXPECT_TRUE(AllClose((*actual)[0], Narrowed((*expected)[0], half), 0, 0)) << DTypeName(half);
  }
}

TEST(HalfViaFloatTest, MaxAndAveragePoolOnHalfFloats) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 7, 6}, 11);
  ExpectHalfMatchesFloat(
      MakeNode("MaxPool", {"x"}, {"y"},
               {{"kernel_shape", AttrInts({3, 2})}, {"strides", AttrInts({2, 1})}}),
      {x});
  ExpectHalfMatchesFloat(
      MakeNode("AveragePool", {"x"}, {"y"},
               {{"kernel_shape", AttrInts({2, 2})}, {"pads", AttrInts({1, 0, 1, 0})}}),
      {x});
}

TEST(HalfViaFloatTest, BatchNormalizationOnHalfFloats) {
  const Tensor x = RandomTensor(DType::kF32, {2, 4, 5}, 3);
  const Tensor scale = RandomTensor(DType::kF32, {4}, 4);
  const Tensor bias = RandomTensor(DType::kF32, {4}, 5);
  const Tensor mean = RandomTensor(DType::kF32, {4}, 6);
  const Tensor var = RandomTensor(DType::kF32, {4}, 7, 0.5, 2.0);
  ExpectHalfMatchesFloat(MakeNode("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"},
                                  {{"epsilon", AttrFloat(1e-3f)}}),
                         {x, scale, bias, mean, var});
}

}  // namespace
}  // namespace unihal::cpu
