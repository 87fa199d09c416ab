// Attention-family kernels against independent float64 computations, plus their error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

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

constexpr double kInf = std::numeric_limits<double>::infinity();

using ::unihal::testing::FromDoubles;

std::vector<Tensor> RunAll(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>(node.outputs.size());
}

// The error message of running `node`, or "" when it succeeds.
std::string ErrorOf(const ir::Node& node, const std::vector<Tensor>& inputs) {
  Result<std::vector<Tensor>> out = RunNode(AllCpuKernels(), node, inputs);
  return out.ok() ? "" : out.status().message();
}

// Element (i0, i1, i2, i3) of a 4-D tensor.
double At4(const Tensor& t, int64_t i0, int64_t i1, int64_t i2, int64_t i3) {
  return ElementAsDouble(t, ((i0 * t.dim(1) + i1) * t.dim(2) + i2) * t.dim(3) + i3);
}

// (batch, heads, seq, size) -> (batch, seq, heads * size).
Tensor PackHeads(const Tensor& t) {
  const int64_t b = t.dim(0), h = t.dim(1), s = t.dim(2), d = t.dim(3);
  std::vector<double> out;
  for (int64_t ib = 0; ib < b; ++ib) {
    for (int64_t is = 0; is < s; ++is) {
      for (int64_t ih = 0; ih < h; ++ih) {
        for (int64_t id = 0; id < d; ++id) out.push_back(At4(t, ib, ih, is, id));
      }
    }
  }
  return FromDoubles(t.dtype(), {b, s, h * d}, out);
}

struct AttentionCase {
  Tensor q, k, v, past_k, past_v, mask;  // 4-D q/k/v/past; 2-D additive mask (q_len, <= total)
  bool causal = false;
  double softcap = 0.0;
  double scale = 0.0;
};

// Y and the masked scores (qk_matmul_output_mode 2) of a 4-D attention, in float64.
std::pair<Tensor, Tensor> AttentionReference(const AttentionCase& c) {
  const int64_t batch = c.q.dim(0), q_heads = c.q.dim(1), q_len = c.q.dim(2), size = c.q.dim(3);
  const int64_t kv_heads = c.k.dim(1), past = c.past_k.dim(2), total = past + c.k.dim(2);
  const int64_t v_size = c.v.dim(3);
  std::vector<double> y, qk;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < q_heads; ++h) {
      const int64_t kh = h / (q_heads / kv_heads);
      for (int64_t i = 0; i < q_len; ++i) {
        std::vector<double> s(static_cast<size_t>(total));
        for (int64_t j = 0; j < total; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < size; ++d) {
            const double key = j < past ? At4(c.past_k, b, kh, j, d) : At4(c.k, b, kh, j - past, d);
            dot += At4(c.q, b, h, i, d) * key;
          }
          double x = dot * c.scale;
          if (c.softcap > 0) x = c.softcap * std::tanh(x / c.softcap);
          x += j < c.mask.dim(1) ? ElementAsDouble(c.mask, i * c.mask.dim(1) + j) : -kInf;
          if (c.causal && j > past + i) x = -kInf;
          s[j] = x;
          qk.push_back(x);
        }
        double max = -kInf, sum = 0;
        for (double x : s) max = std::max(max, x);
        for (double& x : s) sum += (x = std::exp(x - max));
        for (int64_t d = 0; d < v_size; ++d) {
          double acc = 0;
          for (int64_t j = 0; j < total; ++j) {
            const double value =
                j < past ? At4(c.past_v, b, kh, j, d) : At4(c.v, b, kh, j - past, d);
            acc += s[j] / sum * value;
          }
          y.push_back(acc);
        }
      }
    }
  }
  return {FromDoubles(c.q.dtype(), {batch, q_heads, q_len, v_size}, y),
          FromDoubles(c.q.dtype(), {batch, q_heads, q_len, total}, qk)};
}

AttentionCase GqaCase(uint64_t seed) {
  AttentionCase c;
  c.q = RandomTensor(DType::kF32, {2, 4, 3, 8}, seed);
  c.k = RandomTensor(DType::kF32, {2, 2, 3, 8}, seed + 1);
  c.v = RandomTensor(DType::kF32, {2, 2, 3, 5}, seed + 2);
  c.past_k = RandomTensor(DType::kF32, {2, 2, 2, 8}, seed + 3);
  c.past_v = RandomTensor(DType::kF32, {2, 2, 2, 5}, seed + 4);
  // Shorter than the total length 5: the last column is padded with -inf.
  c.mask = RandomTensor(DType::kF32, {3, 4}, seed + 5);
  c.causal = true;
  c.softcap = 1.5;
  c.scale = 0.3;
  return c;
}

TEST(AttentionTest, GroupedQueryWithCacheMaskCausalSoftcap) {
  const AttentionCase c = GqaCase(11);
  const auto [y, qk] = AttentionReference(c);
  const ir::Node node = MakeNode("Attention", {"q", "k", "v", "mask", "pk", "pv"},
                                 {"y", "present_k", "present_v", "qk"},
                                 {{"is_causal", AttrInt(1)},
                                  {"softcap", AttrFloat(1.5f)},
                                  {"scale", AttrFloat(0.3f)},
                                  {"qk_matmul_output_mode", AttrInt(2)}},
                                 23);
  const std::vector<Tensor> out = RunAll(node, {c.q, c.k, c.v, c.mask, c.past_k, c.past_v});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_TRUE(AllClose(out[0], y, 1e-5, 1e-6));
  EXPECT_TRUE(AllClose(out[3], qk, 1e-5, 1e-6));
  EXPECT_EQ(out[1].shape(), (Shape{2, 2, 5, 8}));
  EXPECT_EQ(At4(out[1], 1, 1, 1, 7), At4(c.past_k, 1, 1, 1, 7));
  EXPECT_EQ(At4(out[2], 1, 0, 4, 2), At4(c.v, 1, 0, 2, 2));
}

TEST(AttentionTest, PackedHeadsMatchFourDimensional) {
  AttentionCase c = GqaCase(21);
  c.causal = false;
  c.softcap = 0.0;
  c.scale = 1.0 / std::sqrt(8.0);
  c.mask = FromDoubles(DType::kF32, {3, 5}, std::vector<double>(15, 0.0));
  const auto [y, qk] = AttentionReference(c);
  const ir::Node node = MakeNode("Attention", {"q", "k", "v", "", "pk", "pv"}, {"y", "", "pv_out"},
                                 {{"q_num_heads", AttrInt(4)}, {"kv_num_heads", AttrInt(2)}}, 23);
  const std::vector<Tensor> out =
      RunAll(node, {PackHeads(c.q), PackHeads(c.k), PackHeads(c.v), Tensor(), c.past_k, c.past_v});
  EXPECT_TRUE(AllClose(out[0], PackHeads(y), 1e-5, 1e-6));
  ASSERT_EQ(out.size(), 2u);  // only the named outputs come back
  EXPECT_EQ(out[1].shape(), (Shape{2, 2, 5, 5}));
}

TEST(AttentionTest, Float16BoolMaskAndFullyMaskedRow) {
  const Tensor q = RandomTensor(DType::kF16, {1, 1, 2, 4}, 31);
  const Tensor k = RandomTensor(DType::kF16, {1, 1, 3, 4}, 32);
  const Tensor v = RandomTensor(DType::kF16, {1, 1, 3, 4}, 33);
  const Tensor mask = FromDoubles(DType::kBool, {2, 3}, {1, 0, 1, 0, 0, 0});
  const std::vector<Tensor> out =
      RunAll(MakeNode("Attention", {"q", "k", "v", "mask"}, {"y"}, {}, 24), {q, k, v, mask});
  ASSERT_EQ(out[0].dtype(), DType::kF16);
  AttentionCase c{q,
                  k,
                  v,
                  FromDoubles(DType::kF16, {1, 1, 0, 4}, {}),
                  FromDoubles(DType::kF16, {1, 1, 0, 4}, {}),
                  FromDoubles(DType::kF32, {2, 3}, {0, -kInf, 0, -kInf, -kInf, -kInf})};
  c.scale = 0.5;
  const Tensor y = AttentionReference(c).first;
  for (int64_t d = 0; d < 4; ++d) {
    EXPECT_NEAR(ElementAsDouble(out[0], d), ElementAsDouble(y, d), 2e-3);
    // The second query sees no key: NaN, as in the ONNX reference.
    EXPECT_TRUE(std::isnan(ElementAsDouble(out[0], 4 + d)));
  }
}

TEST(AttentionTest, ErrorsNameTheNode) {
  const Tensor q3 = RandomTensor(DType::kF32, {1, 2, 8}, 41);
  EXPECT_NE(ErrorOf(MakeNode("Attention", {"q", "k", "v"}, {"y"}, {}, 23), {q3, q3, q3})
                .find("node 'Attention_under_test' (Attention): 3-D inputs need a positive "
                      "q_num_heads"),
            std::string::npos);
  const Tensor q4 = RandomTensor(DType::kF32, {1, 3, 2, 4}, 42);
  const Tensor k4 = RandomTensor(DType::kF32, {1, 2, 2, 4}, 43);
  EXPECT_NE(ErrorOf(MakeNode("Attention", {"q", "k", "v"}, {"y"}, {}, 23), {q4, k4, k4})
                .find("is not a multiple of kv_num_heads"),
            std::string::npos);
  EXPECT_NE(ErrorOf(MakeNode("Attention", {"q", "k", "v"}, {"y"},
                             {{"qk_matmul_output_mode", AttrInt(4)}}, 23),
                    {q4, q4, q4})
                .find("qk_matmul_output_mode 4"),
            std::string::npos);
  const Tensor wide_mask = RandomTensor(DType::kF32, {2, 3}, 44);
  EXPECT_NE(
      ErrorOf(MakeNode("Attention", {"q", "k", "v", "m"}, {"y"}, {}, 23), {q4, q4, q4, wide_mask})
          .find("longer than the total length"),
      std::string::npos);
  const Tensor qi = RandomTensor(DType::kI32, {1, 3, 2, 4}, 45);
  EXPECT_NE(ErrorOf(MakeNode("Attention", {"q", "k", "v"}, {"y"}, {}, 23), {qi, qi, qi})
                .find("Attention_under_test"),
            std::string::npos);
}

TEST(RmsNormalizationTest, MatchesFloat64) {
  const Tensor x = RandomTensor(DType::kF32, {2, 3, 4}, 51);
  const Tensor scale = RandomTensor(DType::kF32, {4}, 52);
  const std::vector<Tensor> out =
      RunAll(MakeNode("RMSNormalization", {"x", "s"}, {"y"},
                      {{"axis", AttrInt(1)}, {"epsilon", AttrFloat(1e-3f)}}, 23),
             {x, scale});
  std::vector<double> y;
  for (int64_t r = 0; r < 2; ++r) {
    double sq = 0;
    for (int64_t c = 0; c < 12; ++c) sq += std::pow(ElementAsDouble(x, r * 12 + c), 2);
    for (int64_t c = 0; c < 12; ++c) {
      y.push_back(ElementAsDouble(x, r * 12 + c) / std::sqrt(sq / 12 + 1e-3) *
                  ElementAsDouble(scale, c % 4));
    }
  }
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {2, 3, 4}, y)));
  EXPECT_NE(ErrorOf(MakeNode("RMSNormalization", {"x", "s"}, {"y"}, {{"axis", AttrInt(3)}}, 23),
                    {x, scale})
                .find("RMSNormalization_under_test"),
            std::string::npos);
}

// RotaryEmbedding of a 4-D input with position ids, in float64.
Tensor RopeReference(const Tensor& x, const Tensor& cos, const Tensor& sin, const Tensor& pos,
                     int64_t rotary_dim, bool interleaved) {
  const int64_t half = rotary_dim / 2;
  std::vector<double> y;
  for (int64_t b = 0; b < x.dim(0); ++b) {
    for (int64_t h = 0; h < x.dim(1); ++h) {
      for (int64_t s = 0; s < x.dim(2); ++s) {
        const int64_t p = static_cast<int64_t>(ElementAsDouble(pos, b * x.dim(2) + s));
        for (int64_t d = 0; d < x.dim(3); ++d) {
          double value = At4(x, b, h, s, d);
          if (d < rotary_dim) {
            const int64_t k = interleaved ? d / 2 : d % half;
            const bool first = interleaved ? d % 2 == 0 : d < half;
            const int64_t partner =
                interleaved ? (first ? d + 1 : d - 1) : (first ? d + half : d - half);
            const double c = ElementAsDouble(cos, p * half + k);
            const double sn = ElementAsDouble(sin, p * half + k);
            const double other = At4(x, b, h, s, partner);
            value = first ? c * value - sn * other : sn * other + c * value;
          }
          y.push_back(value);
        }
      }
    }
  }
  return FromDoubles(x.dtype(), x.shape(), y);
}

TEST(RotaryEmbeddingTest, MatchesFloat64) {
  const Tensor x = RandomTensor(DType::kF32, {2, 2, 3, 8}, 61);
  const Tensor cos = RandomTensor(DType::kF32, {10, 3}, 62);
  const Tensor sin = RandomTensor(DType::kF32, {10, 3}, 63);
  const Tensor pos = FromDoubles(DType::kI64, {2, 3}, {0, 4, 9, 2, 2, 7});
  for (bool interleaved : {false, true}) {
    const std::vector<Tensor> out = RunAll(
        MakeNode("RotaryEmbedding", {"x", "c", "s", "p"}, {"y"},
                 {{"rotary_embedding_dim", AttrInt(6)}, {"interleaved", AttrInt(interleaved)}}, 23),
        {x, cos, sin, pos});
    EXPECT_TRUE(AllClose(out[0], RopeReference(x, cos, sin, pos, 6, interleaved)))
        << "interleaved " << interleaved;
  }
  EXPECT_NE(ErrorOf(MakeNode("RotaryEmbedding", {"x", "c", "s", "p"}, {"y"},
                             {{"rotary_embedding_dim", AttrInt(5)}}, 23),
                    {x, cos, sin, pos})
                .find("rotary_embedding_dim 5 must be even"),
            std::string::npos);
  const Tensor bad_pos = FromDoubles(DType::kI64, {2, 3}, {0, 4, 10, 2, 2, 7});
  EXPECT_NE(ErrorOf(MakeNode("RotaryEmbedding", {"x", "c", "s", "p"}, {"y"},
                             {{"rotary_embedding_dim", AttrInt(6)}}, 23),
                    {x, cos, sin, bad_pos})
                .find("position id 10"),
            std::string::npos);
}

TEST(LinearAttentionTest, GatedDeltaMatchesFloat64) {
  const int64_t b = 1, t = 3, hq = 2, hkv = 1, dk = 2, dv = 3;
  const Tensor q = RandomTensor(DType::kF32, {b, t, hq * dk}, 71);
  const Tensor k = RandomTensor(DType::kF32, {b, t, hkv * dk}, 72);
  const Tensor v = RandomTensor(DType::kF32, {b, t, hkv * dv}, 73);
  const Tensor past = RandomTensor(DType::kF32, {b, hkv, dk, dv}, 74);
  const Tensor decay = RandomTensor(DType::kF32, {b, t, hkv}, 75, -0.5, 0.0);
  const Tensor beta = RandomTensor(DType::kF32, {b, t, 1}, 76, 0.0, 1.0);
  const std::vector<Tensor> out =
      RunAll(MakeNode("LinearAttention", {"q", "k", "v", "p", "g", "beta"}, {"y", "state"},
                      {{"q_num_heads", AttrInt(hq)}, {"kv_num_heads", AttrInt(hkv)}}, 27),
             {q, k, v, past, decay, beta});
  std::vector<double> s(dk * dv), y;
  for (int64_t i = 0; i < dk * dv; ++i) s[i] = ElementAsDouble(past, i);
  for (int64_t step = 0; step < t; ++step) {
    const double gate = std::exp(ElementAsDouble(decay, step));
    for (double& e : s) e *= gate;
    std::vector<double> delta(dv);
    for (int64_t m = 0; m < dv; ++m) {
      double read = 0;
      for (int64_t d = 0; d < dk; ++d) read += s[d * dv + m] * ElementAsDouble(k, step * dk + d);
      delta[m] = ElementAsDouble(beta, step) * (ElementAsDouble(v, step * dv + m) - read);
    }
    for (int64_t d = 0; d < dk; ++d) {
      for (int64_t m = 0; m < dv; ++m)
        s[d * dv + m] += ElementAsDouble(k, step * dk + d) * delta[m];
    }
    for (int64_t h = 0; h < hq; ++h) {
      for (int64_t m = 0; m < dv; ++m) {
        double acc = 0;
        for (int64_t d = 0; d < dk; ++d) {
          acc += ElementAsDouble(q, (step * hq + h) * dk + d) * s[d * dv + m];
        }
        y.push_back(acc / std::sqrt(static_cast<double>(dk)));
      }
    }
  }
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {b, t, hq * dv}, y)));
  EXPECT_TRUE(AllClose(out[1], FromDoubles(DType::kF32, {b, hkv, dk, dv}, s)));
  EXPECT_NE(ErrorOf(MakeNode("LinearAttention", {"q", "k", "v"}, {"y", "state"},
                             {{"q_num_heads", AttrInt(hq)},
                              {"kv_num_heads", AttrInt(hkv)},
                              {"update_rule", AttrString("gated")}},
                             27),
                    {q, k, v})
                .find("update_rule 'gated' needs the decay input"),
            std::string::npos);
  EXPECT_NE(ErrorOf(MakeNode("LinearAttention", {"q", "k", "v"}, {"y", "state"},
                             {{"q_num_heads", AttrInt(hq)},
                              {"kv_num_heads", AttrInt(hkv)},
                              {"update_rule", AttrString("mamba")}},
                             27),
                    {q, k, v})
                .find("LinearAttention_under_test"),
            std::string::npos);
}

TEST(CausalConvWithStateTest, SiluWithPastMatchesFloat64) {
  const int64_t batch = 2, channels = 3, len = 4, ksize = 3;
  const Tensor x = RandomTensor(DType::kF32, {batch, channels, len}, 81);
  const Tensor w = RandomTensor(DType::kF32, {channels, 1, ksize}, 82);
  const Tensor bias = RandomTensor(DType::kF32, {channels}, 83);
  const Tensor past = RandomTensor(DType::kF32, {batch, channels, ksize - 1}, 84);
  const std::vector<Tensor> out =
      RunAll(MakeNode("CausalConvWithState", {"x", "w", "b", "p"}, {"y", "state"},
                      {{"activation", AttrString("silu")}}, 27),
             {x, w, bias, past});
  std::vector<double> y, state;
  for (int64_t bc = 0; bc < batch * channels; ++bc) {
    const int64_t c = bc % channels;
    std::vector<double> padded;
    for (int64_t i = 0; i < ksize - 1; ++i) padded.push_back(ElementAsDouble(past, bc * 2 + i));
    for (int64_t i = 0; i < len; ++i) padded.push_back(ElementAsDouble(x, bc * len + i));
    for (int64_t l = 0; l < len; ++l) {
      double acc = ElementAsDouble(bias, c);
      for (int64_t i = 0; i < ksize; ++i) acc += ElementAsDouble(w, c * ksize + i) * padded[l + i];
      y.push_back(acc / (1 + std::exp(-acc)));
    }
    state.insert(state.end(), padded.end() - (ksize - 1), padded.end());
  }
  EXPECT_TRUE(AllClose(out[0], FromDoubles(DType::kF32, {batch, channels, len}, y)));
  EXPECT_TRUE(AllClose(out[1], FromDoubles(DType::kF32, {batch, channels, ksize - 1}, state)));
  EXPECT_NE(ErrorOf(MakeNode("CausalConvWithState", {"x", "w"}, {"y", "state"},
                             {{"activation", AttrString("relu")}}, 27),
                    {x, w})
                .find("node 'CausalConvWithState_under_test' (CausalConvWithState): activation "
                      "'relu'"),
            std::string::npos);
}

}  // namespace
}  // namespace unihal::cpu
