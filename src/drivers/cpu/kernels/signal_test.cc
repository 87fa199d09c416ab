#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>

#include "drivers/cpu/kernels/fft.h"
#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

std::vector<Tensor> RunAll(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

TEST(SignalTest, FftMatchesTheDirectSumForManyLengths) {
  for (size_t n : {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 30, 49, 64, 97}) {
    const Tensor values = RandomTensor(DType::kF64, {static_cast<int64_t>(2 * n)}, n);
    std::vector<std::complex<double>> x(n);
    for (size_t j = 0; j < n; ++j) {
      x[j] = {ElementAsDouble(values, 2 * j), ElementAsDouble(values, 2 * j + 1)};
    }
    for (bool inverse : {false, true}) {
      std::vector<std::complex<double>> y = x;
      Fft(y, inverse);
      for (size_t k = 0; k < n; ++k) {
        std::complex<double> sum = 0;
        for (size_t j = 0; j < n; ++j) {
          const double angle = (inverse ? 2.0 : -2.0) * std::numbers::pi *
                               static_cast<double>(j * k) / static_cast<double>(n);
          sum += x[j] * std::polar(1.0, angle);
        }
        if (inverse) sum /= static_cast<double>(n);
        EXPECT_NEAR(std::abs(y[k] - sum), 0.0, 1e-12) << "n " << n << " k " << k;
      }
    }
  }
}

TEST(SignalTest, DftOfComplexSignalAlongAxisOne) {
  // [2, 7, 3, 2]: transform along axis 1 (length 7, not a power of two), zero-padded to 9.
  const Tensor x = RandomTensor(DType::kF64, {2, 7, 3, 2}, 1);
  const ir::Node node = MakeNode("DFT", {"x", "len", "axis"}, {"y"}, {}, 20);
  const Tensor y = RunAll(node, {x, Tensor::Scalar<int64_t>(9), Tensor::Scalar<int64_t>(1)})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 9, 3, 2}));
  std::vector<double> expected;
  for (int64_t o = 0; o < 2; ++o) {
    for (int64_t k = 0; k < 9; ++k) {
      for (int64_t i = 0; i < 3; ++i) {
        std::complex<double> sum = 0;
        for (int64_t n = 0; n < 7; ++n) {
          const int64_t at = ((o * 7 + n) * 3 + i) * 2;
          const std::complex<double> v(ElementAsDouble(x, at), ElementAsDouble(x, at + 1));
          sum += v * std::polar(1.0, -2.0 * std::numbers::pi * static_cast<double>(k * n) / 9.0);
        }
        expected.push_back(sum.real());
        expected.push_back(sum.imag());
      }
    }
  }
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<double>({2, 9, 3, 2}, expected), 1e-12, 1e-12));
}

TEST(SignalTest, OneSidedDftAndInverseRoundTrip) {
  // Opset 17: axis is an attribute. rfft of a real signal then irfft gives it back.
  const Tensor x = RandomTensor(DType::kF32, {3, 10, 1}, 2);
  const Tensor spectrum = RunAll(
      MakeNode("DFT", {"x"}, {"y"}, {{"axis", AttrInt(1)}, {"onesided", AttrInt(1)}}, 17), {x})[0];
  ASSERT_EQ(spectrum.shape(), (Shape{3, 6, 2}));
  const Tensor back = RunAll(
      MakeNode("DFT", {"x"}, {"y"},
               {{"axis", AttrInt(1)}, {"onesided", AttrInt(1)}, {"inverse", AttrInt(1)}}, 17),
      {spectrum})[0];
  EXPECT_TRUE(AllClose(back, x, 1e-5, 1e-5));
}

TEST(SignalTest, WindowsFollowTheirFormulas) {
  const Tensor size = Tensor::Scalar<int64_t>(8);
  const Tensor hann = RunAll(MakeNode("HannWindow", {"n"}, {"y"}, {}, 17), {size})[0];
  const Tensor hamming =
      RunAll(MakeNode("HammingWindow", {"n"}, {"y"},
                      {{"periodic", AttrInt(0)}, {"output_datatype", AttrInt(11)}}, 17),
             {size})[0];
  ASSERT_EQ(hamming.dtype(), DType::kF64);
  for (int64_t n = 0; n < 8; ++n) {
    const double periodic = std::sin(std::numbers::pi * static_cast<double>(n) / 8.0);
    EXPECT_NEAR(ElementAsDouble(hann, n), periodic * periodic, 1e-6);
    EXPECT_NEAR(
        ElementAsDouble(hamming, n),
        0.54347826 - 0.45652174 * std::cos(2 * std::numbers::pi * static_cast<double>(n) / 7.0),
        1e-7);
  }
}

TEST(SignalTest, ErrorsNameTheNode) {
  const Tensor x = RandomTensor(DType::kF32, {4, 2}, 3);
  // The last dim holds the complex parts and cannot be transformed.
  Status s =
      RunNode(AllCpuKernels(), MakeNode("DFT", {"x"}, {"y"}, {{"axis", AttrInt(1)}}, 17), {x})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("DFT_under_test"), std::string::npos) << s.message();
  // STRING (8) is not a window dtype.
  s = RunNode(AllCpuKernels(),
              MakeNode("HannWindow", {"n"}, {"y"}, {{"output_datatype", AttrInt(8)}}, 17),
              {Tensor::Scalar<int64_t>(4)})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("HannWindow_under_test"), std::string::npos) << s.message();
  // A signal with a last dim of 3 is neither real nor complex.
  s = RunNode(AllCpuKernels(), MakeNode("STFT", {"x", "step"}, {"y"}, {}, 17),
              {RandomTensor(DType::kF32, {1, 8, 3}, 4), Tensor::Scalar<int64_t>(2)})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace unihal::cpu
