// Tests of the training, ai.onnx.ml, FlexAttention and random kernels and of the float16 paths
// of the reference MatMul/Gemm, against float64 computations done here.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrString;
using ::unihal::testing::AttrTensor;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

using ::unihal::testing::FromDoubles;

std::vector<double> Doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = ElementAsDouble(t, static_cast<int64_t>(i));
  return v;
}

std::vector<Tensor> RunOk(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

void ExpectError(const ir::Node& node, const std::vector<Tensor>& inputs, StatusCode code,
                 const std::string& fragment) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), code) << out.status().ToString();
  EXPECT_NE(out.status().ToString().find(fragment), std::string::npos) << out.status().ToString();
  EXPECT_NE(out.status().ToString().find(node.name), std::string::npos) << out.status().ToString();
}

TEST(HalfFloatNnTest, MatMulAndGemmComputeInFloat) {
  const Tensor a = RandomTensor(DType::kF16, {2, 3, 5}, 1);
  const Tensor b = RandomTensor(DType::kF16, {5, 4}, 2);
  std::vector<double> expected(2 * 3 * 4, 0.0);
  const std::vector<double> av = Doubles(a), bv = Doubles(b);
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 5; ++k)
          expected[(n * 3 + i) * 4 + j] += av[(n * 3 + i) * 5 + k] * bv[k * 4 + j];
  const std::vector<Tensor> y = RunOk(MakeNode("MatMul", {"a", "b"}, {"y"}), {a, b});
  EXPECT_TRUE(AllClose(y[0], FromDoubles(DType::kF16, {2, 3, 4}, expected), 2e-3, 1e-3));

  const Tensor a2 = RandomTensor(DType::kBF16, {3, 5}, 3);
  const Tensor b2 = RandomTensor(DType::kBF16, {5, 4}, 4);
  const Tensor c2 = RandomTensor(DType::kBF16, {4}, 5);
  const std::vector<double> a2v = Doubles(a2), b2v = Doubles(b2), c2v = Doubles(c2);
  std::vector<double> gemm(12);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) {
      double sum = 0;
      for (int k = 0; k < 5; ++k) sum += a2v[i * 5 + k] * b2v[k * 4 + j];
      gemm[i * 4 + j] = 0.5 * sum + 2.0 * c2v[j];
    }
  const std::vector<Tensor> g =
      RunOk(MakeNode("Gemm", {"a", "b", "c"}, {"y"},
                     {{"alpha", AttrFloat(0.5f)}, {"beta", AttrFloat(2)}}),
            {a2, b2, c2});
  EXPECT_TRUE(AllClose(g[0], FromDoubles(DType::kBF16, {3, 4}, gemm), 1e-2, 1e-2));
}

ir::Node TrainingNode(std::string op, std::vector<std::string> in, std::vector<std::string> out,
                      std::map<std::string, ir::Attribute> attrs) {
  ir::Node node = MakeNode(std::move(op), std::move(in), std::move(out), std::move(attrs), 1);
  node.domain = "ai.onnx.preview.training";
  return node;
}

TEST(TrainingKernelsTest, AdamMatchesFloat64Formula) {
  const Tensor r = FromDoubles(DType::kF32, {}, {0.1});
  const Tensor t = FromDoubles(DType::kI64, {}, {3});
  const Tensor x = RandomTensor(DType::kF32, {6}, 11);
  const Tensor g = RandomTensor(DType::kF32, {6}, 12);
  const Tensor v = RandomTensor(DType::kF32, {6}, 13);
  const Tensor h = RandomTensor(DType::kF32, {6}, 14, 0.0, 1.0);
  const double alpha = 0.9, beta = 0.99, eps = 1e-4, norm = 0.01;
  std::vector<double> xe = Doubles(x), ve = Doubles(v), he = Doubles(h);
  const std::vector<double> gv = Doubles(g);
  const double rate = 0.1 * std::sqrt(1 - std::pow(beta, 3)) / (1 - std::pow(alpha, 3));
  for (size_t i = 0; i < 6; ++i) {
    const double gr = norm * xe[i] + gv[i];
    ve[i] = alpha * ve[i] + (1 - alpha) * gr;
    he[i] = beta * he[i] + (1 - beta) * gr * gr;
    xe[i] = xe[i] - rate * ve[i] / (std::sqrt(he[i]) + eps);
  }
  const ir::Node node = TrainingNode("Adam", {"r", "t", "x", "g", "v", "h"}, {"x2", "v2", "h2"},
                                     {{"alpha", AttrFloat(0.9f)},
                                      {"beta", AttrFloat(0.99f)},
                                      {"epsilon", AttrFloat(1e-4f)},
                                      {"norm_coefficient", AttrFloat(0.01f)}});
  const std::vector<Tensor> out = RunOk(node, {r, t, x, g, v, h});
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {6}, xe), 1e-5, 1e-6));
  EXPECT_TRUE(AllClose(out[1], FromDoubles(DType::kF32, {6}, ve), 1e-5, 1e-6));
  EXPECT_TRUE(AllClose(out[2], FromDoubles(DType::kF32, {6}, he), 1e-5, 1e-6));
}

TEST(TrainingKernelsTest, MomentumErrorsNameTheNode) {
  const Tensor r = FromDoubles(DType::kF32, {}, {0.1});
  const Tensor t = FromDoubles(DType::kI64, {}, {0});
  const Tensor x = RandomTensor(DType::kF32, {3}, 1);
  ir::Node missing = TrainingNode(
      "Momentum", {"r", "t", "x", "g", "v"}, {"x2", "v2"},
      {{"alpha", AttrFloat(0.9f)}, {"beta", AttrFloat(0.1f)}, {"norm_coefficient", AttrFloat(0)}});
  missing.name = "momentum_node";
  ExpectError(missing, {r, t, x, x, x}, StatusCode::kInvalidArgument, "'mode'");
  ir::Node bad = missing;
  bad.attributes["mode"] = AttrString("sideways");
  ExpectError(bad, {r, t, x, x, x}, StatusCode::kInvalidArgument, "sideways");
  ir::Node good = missing;
  good.attributes["mode"] = AttrString("standard");
  ExpectError(good, {r, t, x, x, RandomTensor(DType::kF32, {4}, 2)}, StatusCode::kInvalidArgument,
              "shape of X");
}

TEST(TrainingKernelsTest, DropoutTrainingScalesKeptValues) {
  const Tensor x = RandomTensor(DType::kF32, {1000}, 21);
  const Tensor ratio = FromDoubles(DType::kF32, {}, {0.25});
  const Tensor on = FromDoubles(DType::kBool, {}, {1});
  ir::Node node = MakeNode("Dropout", {"x", "r", "t"}, {"y", "m"}, {}, 13);
  const std::vector<Tensor> out = RunOk(node, {x, ratio, on});
  int kept = 0;
  for (int64_t i = 0; i < 1000; ++i) {
    const bool keep = out[1].data_as<bool>()[i];
    kept += keep;
    EXPECT_FLOAT_EQ(out[0].data_as<float>()[i], keep ? x.data_as<float>()[i] / 0.75f : 0.0f);
  }
  EXPECT_NEAR(kept, 750, 60);  // about 4.4 standard deviations
  // Seeded: the same draws every run.
  node.attributes["seed"] = AttrInt(7);
  const std::vector<Tensor> a = RunOk(node, {x, ratio, on});
  const std::vector<Tensor> b = RunOk(node, {x, ratio, on});
  EXPECT_TRUE(AllClose(a[0], b[0], 0, 0));
  node.name = "dropout_node";
  ExpectError(node, {x, FromDoubles(DType::kF32, {}, {1.0}), on}, StatusCode::kInvalidArgument,
              "ratio");
}

TEST(TrainingKernelsTest, BatchNormalizationTrainingUsesBatchStatistics) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 31);
  const Tensor scale = RandomTensor(DType::kF32, {3}, 32);
  const Tensor bias = RandomTensor(DType::kF32, {3}, 33);
  const Tensor mean = RandomTensor(DType::kF32, {3}, 34);
  const Tensor var = RandomTensor(DType::kF32, {3}, 35, 0.5, 1.5);
  const std::vector<double> xv = Doubles(x), sv = Doubles(scale), bv = Doubles(bias),
                            mv = Doubles(mean), vv = Doubles(var);
  std::vector<double> y(24), run_mean(3), run_var(3);
  for (int c = 0; c < 3; ++c) {
    double m = 0, q = 0;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) m += xv[(n * 3 + c) * 4 + i] / 8;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) q += std::pow(xv[(n * 3 + c) * 4 + i] - m, 2) / 8;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 4; ++i) {
        const int k = (n * 3 + c) * 4 + i;
        y[k] = (xv[k] - m) / std::sqrt(q + 1e-5) * sv[c] + bv[c];
      }
    run_mean[c] = 0.8 * mv[c] + 0.2 * m;
    run_var[c] = 0.8 * vv[c] + 0.2 * q;
  }
  const ir::Node node =
      MakeNode("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "rm", "rv"},
               {{"training_mode", AttrInt(1)}, {"momentum", AttrFloat(0.8f)}}, 15);
  const std::vector<Tensor> out = RunOk(node, {x, scale, bias, mean, var});
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {2, 3, 4}, y), 1e-4, 1e-5));
  EXPECT_TRUE(AllClose(out[1], FromDoubles(DType::kF32, {3}, run_mean), 1e-5, 1e-6));
  EXPECT_TRUE(AllClose(out[2], FromDoubles(DType::kF32, {3}, run_var), 1e-5, 1e-6));
}

ir::Node MlNode(std::string op, std::map<std::string, ir::Attribute> attrs, int opset = 1) {
  ir::Node node = MakeNode(std::move(op), {"x"}, {"y"}, std::move(attrs), opset);
  node.domain = "ai.onnx.ml";
  node.name = "ml_node";
  return node;
}

TEST(MlKernelsTest, TreeEnsembleSumsLeaves) {
  // One tree: x0 <= 0.5 ? leaf 0 (target 0, weight 2) : (x1 < 0 ? leaf 1 : leaf 2).
  std::map<std::string, ir::Attribute> attrs = {
      {"nodes_splits", AttrTensor(FromDoubles(DType::kF32, {2}, {0.5, 0.0}))},
      {"nodes_modes", AttrTensor(FromDoubles(DType::kU8, {2}, {0, 1}))},
      {"nodes_featureids", AttrInts({0, 1})},
      {"nodes_truenodeids", AttrInts({0, 1})},
      {"nodes_trueleafs", AttrInts({1, 1})},
      {"nodes_falsenodeids", AttrInts({1, 2})},
      {"nodes_falseleafs", AttrInts({0, 1})},
      {"leaf_targetids", AttrInts({0, 1, 1})},
      {"leaf_weights", AttrTensor(FromDoubles(DType::kF32, {3}, {2.0, 3.0, 5.0}))},
      {"tree_roots", AttrInts({0})},
      {"n_targets", AttrInt(2)}};
  const ir::Node node = MlNode("TreeEnsemble", attrs, 5);
  const Tensor x = FromDoubles(DType::kF32, {3, 2}, {0.1, 9, 0.9, -1, 0.9, 1});
  const std::vector<Tensor> y = RunOk(node, {x});
  EXPECT_TRUE(AllClose(y[0], FromDoubles(DType::kF32, {3, 2}, {2, 0, 0, 3, 0, 5}), 0, 0));
  ir::Node transformed = node;
  transformed.attributes["post_transform"] = AttrInt(2);
  ExpectError(transformed, {x}, StatusCode::kUnimplemented, "post_transform");
}

TEST(MlKernelsTest, BinarizerAndArrayFeatureExtractor) {
  const Tensor x = RandomTensor(DType::kF64, {4, 5}, 41);
  const std::vector<Tensor> b = RunOk(MlNode("Binarizer", {{"threshold", AttrFloat(0.2f)}}), {x});
  std::vector<double> expected;
  for (double v : Doubles(x)) expected.push_back(v > static_cast<double>(0.2f) ? 1 : 0);
  EXPECT_TRUE(AllClose(b[0], FromDoubles(DType::kF64, {4, 5}, expected), 0, 0));

  ir::Node extract = MlNode("ArrayFeatureExtractor", {});
  extract.inputs = {"x", "i"};
  const std::vector<Tensor> e = RunOk(extract, {x, FromDoubles(DType::kI64, {2}, {4, 1})});
  std::vector<double> picked;
  const std::vector<double> xv = Doubles(x);
  for (int r = 0; r < 4; ++r) picked.insert(picked.end(), {xv[r * 5 + 4], xv[r * 5 + 1]});
  EXPECT_TRUE(AllClose(e[0], FromDoubles(DType::kF64, {4, 2}, picked), 0, 0));
  ExpectError(extract, {x, FromDoubles(DType::kI64, {1}, {5})}, StatusCode::kInvalidArgument,
              "out of range");
}

TEST(FlexAttentionTest, GroupedQueryAttentionMatchesFloat64) {
  const int64_t B = 1, Hq = 4, Hkv = 2, L = 3, S = 5, E = 4, Ev = 3;
  const Tensor q = RandomTensor(DType::kF32, {B, Hq, L, E}, 51);
  const Tensor k = RandomTensor(DType::kF32, {B, Hkv, S, E}, 52);
  const Tensor v = RandomTensor(DType::kF32, {B, Hkv, S, Ev}, 53);
  const std::vector<double> qv = Doubles(q), kv = Doubles(k), vv = Doubles(v);
  std::vector<double> y(static_cast<size_t>(B * Hq * L * Ev), 0.0);
  for (int64_t h = 0; h < Hq; ++h) {
    const int64_t g = h / (Hq / Hkv);
    for (int64_t l = 0; l < L; ++l) {
      std::vector<double> p(S);
      double sum = 0;
      for (int64_t s = 0; s < S; ++s) {
        double dot = 0;
        for (int64_t e = 0; e < E; ++e) dot += qv[(h * L + l) * E + e] * kv[(g * S + s) * E + e];
        p[s] = std::exp(dot * 0.7);
        sum += p[s];
      }
      for (int64_t s = 0; s < S; ++s)
        for (int64_t e = 0; e < Ev; ++e)
          y[(h * L + l) * Ev + e] += p[s] / sum * vv[(g * S + s) * Ev + e];
    }
  }
  ir::Node node =
      MakeNode("FlexAttention", {"q", "k", "v"}, {"y"}, {{"scale", AttrFloat(0.7f)}}, 1);
  node.domain = "ai.onnx.preview";
  const std::vector<Tensor> out = RunOk(node, {q, k, v});
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {B, Hq, L, Ev}, y), 1e-5, 1e-6));
  node.name = "flex_node";
  ExpectError(node, {q, k, RandomTensor(DType::kF32, {B, 3, S, Ev}, 54)},
              StatusCode::kInvalidArgument, "must share");
}

TEST(RandomKernelsTest, SeededUniformIsReproducibleAndInRange) {
  ir::Node node = MakeNode("RandomUniform", {}, {"y"},
                           {{"shape", AttrInts({2, 50})},
                            {"low", AttrFloat(-2)},
                            {"high", AttrFloat(3)},
                            {"seed", AttrFloat(5)}},
                           22);
  const std::vector<Tensor> a = RunOk(node, {});
  const std::vector<Tensor> b = RunOk(node, {});
  ASSERT_EQ(a[0].shape(), (Shape{2, 50}));
  EXPECT_TRUE(AllClose(a[0], b[0], 0, 0));
  double mean = 0;
  for (double v : Doubles(a[0])) {
    EXPECT_GE(v, -2.0);
    EXPECT_LT(v, 3.0);
    mean += v / 100;
  }
  EXPECT_NEAR(mean, 0.5, 0.6);
  node.attributes["dtype"] = AttrInt(6);  // int32
  node.name = "uniform_node";
  ExpectError(node, {}, StatusCode::kUnimplemented, "dtype");
}

}  // namespace
}  // namespace unihal::cpu
