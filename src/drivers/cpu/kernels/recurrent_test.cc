#include <gtest/gtest.h>

#include <cmath>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrString;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

std::vector<Tensor> RunAll(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// x [seq, 1, in], w [1, 3h, in], r [1, 3h, h], b [1, 6h]: the final hidden state of a forward
// GRU, written straight from the ONNX equations.
std::vector<double> GruReference(const Tensor& x, const Tensor& w, const Tensor& r, const Tensor& b,
                                 int64_t h, bool linear_before_reset) {
  const int64_t seq = x.dim(0), in = x.dim(2);
  std::vector<double> state(static_cast<size_t>(h), 0.0);
  auto W = [&](int64_t row, int64_t col) { return ElementAsDouble(w, row * in + col); };
  auto R = [&](int64_t row, int64_t col) { return ElementAsDouble(r, row * h + col); };
  auto B = [&](int64_t i) { return ElementAsDouble(b, i); };
  for (int64_t t = 0; t < seq; ++t) {
    std::vector<double> next(state.size());
    for (int64_t j = 0; j < h; ++j) {
      double xz = B(j) + B(3 * h + j), xr = B(h + j) + B(4 * h + j), xh = B(2 * h + j);
      for (int64_t i = 0; i < in; ++i) {
        const double xv = ElementAsDouble(x, t * in + i);
        xz += W(j, i) * xv;
        xr += W(h + j, i) * xv;
        xh += W(2 * h + j, i) * xv;
      }
      double hz = 0, hr = 0;
      for (int64_t k = 0; k < h; ++k) {
        hz += R(j, k) * state[k];
        hr += R(h + j, k) * state[k];
      }
      const double z = Sigmoid(xz + hz);
      double candidate = 0;
      if (linear_before_reset) {
        double rh = B(5 * h + j);
        for (int64_t k = 0; k < h; ++k) rh += R(2 * h + j, k) * state[k];
        // r must be computed per row j; it is the same for both variants.
        candidate = std::tanh(xh + Sigmoid(xr + hr) * rh);
      } else {
        double rh = B(5 * h + j);
        for (int64_t k = 0; k < h; ++k) {
          double hr_k = B(h + k) + B(4 * h + k);
          for (int64_t i = 0; i < in; ++i) hr_k += W(h + k, i) * ElementAsDouble(x, t * in + i);
          for (int64_t q = 0; q < h; ++q) hr_k += R(h + k, q) * state[q];
          rh += R(2 * h + j, k) * Sigmoid(hr_k) * state[k];
        }
        candidate = std::tanh(xh + rh);
      }
      next[j] = (1 - z) * candidate + z * state[j];
    }
    state = next;
  }
  return state;
}

TEST(RecurrentTest, GruMatchesTheEquationsWithAndWithoutLinearBeforeReset) {
  const int64_t h = 3;
  const Tensor x = RandomTensor(DType::kF32, {4, 1, 2}, 1);
  const Tensor w = RandomTensor(DType::kF32, {1, 3 * h, 2}, 2);
  const Tensor r = RandomTensor(DType::kF32, {1, 3 * h, h}, 3);
  const Tensor b = RandomTensor(DType::kF32, {1, 6 * h}, 4);
  for (int64_t lbr : {0, 1}) {
    const ir::Node node =
        MakeNode("GRU", {"x", "w", "r", "b"}, {"y", "y_h"},
                 {{"hidden_size", AttrInt(h)}, {"linear_before_reset", AttrInt(lbr)}}, 14);
    const std::vector<double> expected = GruReference(x, w, r, b, h, lbr != 0);
    std::vector<float> as_float(expected.begin(), expected.end());
    EXPECT_TRUE(AllClose(RunAll(node, {x, w, r, b})[1],
                         Tensor::FromVector<float>({1, 1, h}, as_float), 1e-5, 1e-6))
        << "linear_before_reset " << lbr;
  }
}

TEST(RecurrentTest, ReverseRnnWithSequenceLengthsZeroesPaddedSteps) {
  const int64_t h = 2;
  const Tensor x = RandomTensor(DType::kF64, {3, 2, 1}, 5);
  const Tensor w = RandomTensor(DType::kF64, {1, h, 1}, 6);
  const Tensor r = RandomTensor(DType::kF64, {1, h, h}, 7);
  const Tensor lens = Tensor::FromVector<int32_t>({2}, {3, 1});
  const ir::Node node =
      MakeNode("RNN", {"x", "w", "r", "", "lens"}, {"y", "y_h"},
               {{"hidden_size", AttrInt(h)}, {"direction", AttrString("reverse")}}, 14);
  const std::vector<Tensor> out = RunAll(node, {x, w, r, Tensor(), lens});
  ASSERT_EQ(out[0].shape(), (Shape{3, 1, 2, h}));
  // Batch 1 has one step: y[0] = tanh(W x[0]); later steps are zero and y_h equals y[0].
  for (int64_t j = 0; j < h; ++j) {
    const double expected = std::tanh(ElementAsDouble(w, j) * ElementAsDouble(x, 1));
    EXPECT_NEAR(ElementAsDouble(out[0], 1 * h + j), expected, 1e-12);
    EXPECT_EQ(ElementAsDouble(out[0], (1 * 2 + 1) * h + j), 0.0);
    EXPECT_NEAR(ElementAsDouble(out[1], 1 * h + j), expected, 1e-12);
  }
  // Batch 0 runs backwards over all three steps, so its final state is the state at t = 0.
  for (int64_t j = 0; j < h; ++j) {
    EXPECT_EQ(ElementAsDouble(out[1], j), ElementAsDouble(out[0], j));
  }
}

TEST(RecurrentTest, LstmClipAndInputForgetBound) {
  const int64_t h = 2;
  const Tensor x = RandomTensor(DType::kF32, {2, 1, 3}, 8, -50, 50);
  const Tensor w = RandomTensor(DType::kF32, {1, 4 * h, 3}, 9, -5, 5);
  const Tensor r = RandomTensor(DType::kF32, {1, 4 * h, h}, 10);
  const ir::Node node = MakeNode(
      "LSTM", {"x", "w", "r"}, {"y", "y_h", "y_c"},
      {{"hidden_size", AttrInt(h)}, {"clip", AttrFloat(0.5f)}, {"input_forget", AttrInt(1)}}, 14);
  const std::vector<Tensor> out = RunAll(node, {x, w, r});
  // With clip 0.5 every gate is sigmoid(+-0.5) at most and the candidate tanh(+-0.5), so
  // |c| after one step is below sigmoid(0.5) * tanh(0.5) and |h| below sigmoid(0.5) * tanh(|c|);
  // unclipped, these saturated inputs would give |h| near tanh(1).
  const double cell_bound = Sigmoid(0.5) * std::tanh(0.5);
  for (int64_t j = 0; j < h; ++j) {
    EXPECT_LE(std::fabs(ElementAsDouble(out[0], j)), Sigmoid(0.5) * std::tanh(cell_bound) + 1e-6);
  }
  ASSERT_EQ(out[2].shape(), (Shape{1, 1, h}));
}

TEST(RecurrentTest, BadAttributesAreErrorsNamingTheNode) {
  const Tensor x = RandomTensor(DType::kF32, {1, 1, 2}, 11);
  const Tensor w = RandomTensor(DType::kF32, {1, 2, 2}, 12);
  const Tensor r = RandomTensor(DType::kF32, {1, 2, 2}, 13);
  Status s =
      RunNode(AllCpuKernels(),
              MakeNode("RNN", {"x", "w", "r"}, {"y"},
                       {{"hidden_size", AttrInt(2)}, {"direction", AttrString("sideways")}}, 14),
              {x, w, r})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("RNN_under_test"), std::string::npos) << s.message();
  s = RunNode(AllCpuKernels(),
              MakeNode("RNN", {"x", "w", "r"}, {"y"},
                       {{"hidden_size", AttrInt(2)},
                        {"activations", ir::Attribute(std::vector<std::string>{"Swish"})}},
                       14),
              {x, w, r})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("Swish"), std::string::npos) << s.message();
  // W of the wrong shape for hidden_size 3.
  s = RunNode(AllCpuKernels(),
              MakeNode("RNN", {"x", "w", "r"}, {"y"}, {{"hidden_size", AttrInt(3)}}, 14), {x, w, r})
          .status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("RNN_under_test"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace unihal::cpu
