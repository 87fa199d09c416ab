// Reference NN kernels against naive float64 loops written here, on fresh random inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "drivers/cpu/cpu_kernels.h"
#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AttrFloat;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrString;
using ::unihal::testing::ElementAsDouble;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RandomTensor;
using ::unihal::testing::RunNode;

const hal::KernelRegistry& ReferenceKernels() {
  static const hal::KernelRegistry* registry = [] {
    static hal::KernelRegistry r;
    RegisterReferenceNnKernels(r);
    return &r;
  }();
  return *registry;
}

std::vector<double> Doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = ElementAsDouble(t, static_cast<int64_t>(i));
  return v;
}

using ::unihal::testing::FromDoubles;

// Calls fn(index) for every multi-index of `dims` in row-major order.
void ForEachIndex(const Shape& dims, const std::function<void(const Shape&)>& fn) {
  Shape index(dims.size(), 0);
  for (int64_t d : dims) {
    if (d == 0) return;
  }
  while (true) {
    fn(index);
    size_t i = dims.size();
    while (i > 0) {
      --i;
      if (++index[i] < dims[i]) break;
      index[i] = 0;
      if (i == 0) return;
    }
    if (dims.empty()) return;
  }
}

int64_t Flatten(const Shape& dims, const Shape& index) {
  int64_t flat = 0;
  for (size_t i = 0; i < dims.size(); ++i) flat = flat * dims[i] + index[i];
  return flat;
}

// Pads (begin, end) per spatial dim for auto_pad, as the ONNX spec defines them.
void AutoPads(const std::string& auto_pad, const Shape& in, const Shape& kernel,
              const Shape& strides, const Shape& dilations, Shape* begin, Shape* end) {
  for (size_t i = 0; i < in.size(); ++i) {
    int64_t b = 0, e = 0;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (in[i] + strides[i] - 1) / strides[i];
      const int64_t total =
          std::max<int64_t>(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in[i]);
      b = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      e = total - b;
    }
    (*begin)[i] = b;
    (*end)[i] = e;
  }
}

// ---------------------------------------------------------------------------------------------
// Conv

struct ConvCase {
  std::string name{};
  Shape x{};
  Shape w{};
  bool bias = true;
  int64_t group = 1;
  Shape strides{};    // empty = 1
  Shape dilations{};  // empty = 1
  Shape pads{};       // empty = 0
  std::string auto_pad = "NOTSET";
  DType dtype = DType::kF32;
  bool kernel_shape_attribute = false;
};

Tensor NaiveConv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor* b) {
  const size_t rank = c.x.size() - 2;
  const Shape in(c.x.begin() + 2, c.x.end());
  const Shape kernel(c.w.begin() + 2, c.w.end());
  const Shape strides = c.strides.empty() ? Shape(rank, 1) : c.strides;
  const Shape dilations = c.dilations.empty() ? Shape(rank, 1) : c.dilations;
  Shape pad_begin(rank, 0), pad_end(rank, 0);
  if (c.auto_pad == "NOTSET") {
    for (size_t i = 0; i < rank && !c.pads.empty(); ++i) {
      pad_begin[i] = c.pads[i];
      pad_end[i] = c.pads[rank + i];
    }
  } else {
    AutoPads(c.auto_pad, in, kernel, strides, dilations, &pad_begin, &pad_end);
  }
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t eff = (kernel[i] - 1) * dilations[i] + 1;
    out[i] = c.auto_pad == "VALID"    ? (in[i] - eff) / strides[i] + 1
             : c.auto_pad == "NOTSET" ? (in[i] + pad_begin[i] + pad_end[i] - eff) / strides[i] + 1
                                      : (in[i] + strides[i] - 1) / strides[i];
  }
  const int64_t n_batch = c.x[0], channels = c.x[1], out_channels = c.w[0];
  const int64_t cpg = channels / c.group, mpg = out_channels / c.group;
  Shape y_shape{n_batch, out_channels};
  y_shape.insert(y_shape.end(), out.begin(), out.end());
  const std::vector<double> xv = Doubles(x), wv = Doubles(w);
  const std::vector<double> bv = b ? Doubles(*b) : std::vector<double>();
  std::vector<double> y(static_cast<size_t>(NumElements(y_shape)));
  ForEachIndex(y_shape, [&](const Shape& yi) {
    const int64_t n = yi[0], m = yi[1], g = m / mpg;
    double sum = b ? bv[static_cast<size_t>(m)] : 0.0;
    for (int64_t ic = 0; ic < cpg; ++ic) {
      ForEachIndex(kernel, [&](const Shape& k) {
        Shape xi{n, g * cpg + ic};
        for (size_t d = 0; d < rank; ++d) {
          const int64_t pos = yi[2 + d] * strides[d] - pad_begin[d] + k[d] * dilations[d];
          if (pos < 0 || pos >= in[d]) return;
          xi.push_back(pos);
        }
        Shape wi{m, ic};
        wi.insert(wi.end(), k.begin(), k.end());
        sum +=
            xv[static_cast<size_t>(Flatten(c.x, xi))] * wv[static_cast<size_t>(Flatten(c.w, wi))];
      });
    }
    y[static_cast<size_t>(Flatten(y_shape, yi))] = sum;
  });
  return FromDoubles(c.dtype, y_shape, y);
}

ir::Node ConvNode(const ConvCase& c) {
  std::map<std::string, ir::Attribute> attributes;
  attributes["group"] = AttrInt(c.group);
  if (!c.strides.empty()) attributes["strides"] = AttrInts(c.strides);
  if (!c.dilations.empty()) attributes["dilations"] = AttrInts(c.dilations);
  if (!c.pads.empty()) attributes["pads"] = AttrInts(c.pads);
  if (c.auto_pad != "NOTSET") attributes["auto_pad"] = AttrString(c.auto_pad);
  if (c.kernel_shape_attribute) {
    attributes["kernel_shape"] = AttrInts(Shape(c.w.begin() + 2, c.w.end()));
  }
  return MakeNode("Conv", {"X", "W", c.bias ? "B" : ""}, {"Y"}, attributes);
}

std::vector<ConvCase> ConvCases() {
  return {
      {"basic_2d", {2, 3, 7, 8}, {4, 3, 3, 3}, true, 1, {}, {}, {1, 1, 1, 1}},
      {"no_bias_strided_dilated",
       {1, 3, 11, 10},
       {5, 3, 3, 2},
       false,
       1,
       {2, 2},
       {2, 3},
       {0, 1, 2, 1}},
      {"group_2", {2, 4, 6, 6}, {6, 2, 3, 3}, true, 2, {1, 2}, {}, {1, 0, 1, 2}},
      {"depthwise", {1, 3, 9, 9}, {3, 1, 3, 3}, true, 3, {2, 2}, {}, {1, 1, 1, 1}},
      {"depthwise_multiplier", {1, 2, 6, 7}, {4, 1, 3, 3}, false, 2},
      {"conv_1d", {2, 3, 13}, {2, 3, 4}, true, 1, {3}, {}, {2, 1}},
      {"conv_1d_dilated", {1, 4, 20}, {4, 2, 3}, true, 2, {1}, {4}, {0, 0}},
      {"conv_3d",
       {1, 2, 4, 5, 6},
       {3, 2, 2, 3, 2},
       true,
       1,
       {1, 2, 1},
       {2, 1, 1},
       {1, 0, 1, 0, 1, 1}},
      {"same_upper", {1, 2, 7, 8}, {3, 2, 4, 4}, true, 1, {2, 3}, {}, {}, "SAME_UPPER"},
      {"same_lower", {1, 2, 7, 8}, {3, 2, 4, 4}, true, 1, {2, 3}, {}, {}, "SAME_LOWER"},
      {"same_upper_dilated", {1, 2, 9, 9}, {2, 2, 3, 2}, true, 1, {1, 2}, {2, 2}, {}, "SAME_UPPER"},
      {"valid", {1, 3, 9, 7}, {2, 3, 3, 2}, true, 1, {2, 2}, {}, {}, "VALID"},
      {"kernel_shape_attribute",
       {1, 2, 5, 5},
       {2, 2, 3, 3},
       true,
       1,
       {},
       {},
       {},
       "NOTSET",
       DType::kF32,
       true},
      {"float64",
       {2, 3, 6, 5},
       {4, 3, 3, 3},
       true,
       1,
       {1, 1},
       {1, 2},
       {1, 2, 1, 2},
       "NOTSET",
       DType::kF64},
      {"pointwise", {2, 8, 4, 4}, {5, 8, 1, 1}, true},
  };
}

class ReferenceConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ReferenceConvTest, MatchesNaiveLoop) {
  const ConvCase& c = GetParam();
  const Tensor x = RandomTensor(c.dtype, c.x, 11);
  const Tensor w = RandomTensor(c.dtype, c.w, 12);
  const Tensor b = RandomTensor(c.dtype, {c.w[0]}, 13);
  Result<std::vector<Tensor>> y = RunNode(ReferenceKernels(), ConvNode(c), {x, w, b});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_TRUE(AllClose((*y)[0], NaiveConv(c, x, w, c.bias ? &b : nullptr), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Cases, ReferenceConvTest, ::testing::ValuesIn(ConvCases()),
                         [](const auto& info) { return info.param.name; });

TEST(ReferenceConvErrorTest, ChannelMismatchNamesTheNode) {
  ConvCase c{"bad", {1, 3, 5, 5}, {2, 4, 3, 3}};
  Result<std::vector<Tensor>> y =
      RunNode(ReferenceKernels(), ConvNode(c),
              {RandomTensor(DType::kF32, c.x, 1), RandomTensor(DType::kF32, c.w, 2),
               RandomTensor(DType::kF32, {2}, 3)});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(y.status().message().find("node 'Conv_under_test' (Conv)"), std::string::npos)
      << y.status().message();
  EXPECT_NE(y.status().message().find("has 3 channels"), std::string::npos) << y.status().message();
}

// ---------------------------------------------------------------------------------------------
// Pools

struct PoolCase {
  std::string name{};
  std::string op{};  // MaxPool, AveragePool
  Shape x{};
  Shape kernel{};
  Shape strides{};
  Shape pads{};
  Shape dilations{};
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
  bool count_include_pad = false;
  int storage_order = 0;
  bool indices = false;
  DType dtype = DType::kF32;
};

struct NaivePoolResult {
  Tensor y;
  Tensor indices;
};

NaivePoolResult NaivePool(const PoolCase& c, const Tensor& x) {
  const size_t rank = c.x.size() - 2;
  const Shape in(c.x.begin() + 2, c.x.end());
  const Shape strides = c.strides.empty() ? Shape(rank, 1) : c.strides;
  const Shape dilations = c.dilations.empty() ? Shape(rank, 1) : c.dilations;
  Shape pad_begin(rank, 0), pad_end(rank, 0), out(rank);
  if (c.auto_pad == "NOTSET") {
    for (size_t i = 0; i < rank && !c.pads.empty(); ++i) {
      pad_begin[i] = c.pads[i];
      pad_end[i] = c.pads[rank + i];
    }
  } else {
    AutoPads(c.auto_pad, in, c.kernel, strides, dilations, &pad_begin, &pad_end);
  }
  for (size_t i = 0; i < rank; ++i) {
    const int64_t eff = (c.kernel[i] - 1) * dilations[i] + 1;
    const double exact =
        static_cast<double>(in[i] + pad_begin[i] + pad_end[i] - eff) / strides[i] + 1;
    if (c.auto_pad == "VALID") {
      out[i] = (in[i] - eff) / strides[i] + 1;
    } else if (c.auto_pad != "NOTSET") {
      out[i] = (in[i] + strides[i] - 1) / strides[i];
    } else if (c.ceil_mode) {
      out[i] = static_cast<int64_t>(std::ceil(exact));
      if ((out[i] - 1) * strides[i] >= in[i] + pad_begin[i]) --out[i];
    } else {
      out[i] = static_cast<int64_t>(std::floor(exact));
    }
  }
  Shape y_shape{c.x[0], c.x[1]};
  y_shape.insert(y_shape.end(), out.begin(), out.end());
  const std::vector<double> xv = Doubles(x);
  std::vector<double> y(static_cast<size_t>(NumElements(y_shape)));
  std::vector<double> indices(y.size());
  ForEachIndex(y_shape, [&](const Shape& yi) {
    double best = -std::numeric_limits<double>::infinity();
    int64_t best_index = -1;
    double sum = 0;
    int64_t valid = 0, padded = 0;
    ForEachIndex(c.kernel, [&](const Shape& k) {
      Shape xi{yi[0], yi[1]};
      bool inside = true, inside_padding = true;
      for (size_t d = 0; d < rank; ++d) {
        const int64_t pos = yi[2 + d] * strides[d] - pad_begin[d] + k[d] * dilations[d];
        inside &= pos >= 0 && pos < in[d];
        inside_padding &= pos < in[d] + pad_end[d];
        xi.push_back(pos);
      }
      padded += inside_padding;
      if (!inside) return;
      ++valid;
      const int64_t flat = Flatten(c.x, xi);
      const double v = xv[static_cast<size_t>(flat)];
      sum += v;
      if (v > best) {
        best = v;
        if (c.storage_order == 0) {
          best_index = flat;
        } else {
          // Column major over the spatial dims: the first spatial dim varies fastest.
          int64_t local = 0, stride = 1;
          for (size_t d = 0; d < rank; ++d) {
            local += xi[2 + d] * stride;
            stride *= in[d];
          }
          best_index = (yi[0] * c.x[1] + yi[1]) * NumElements(in) + local;
        }
      }
    });
    const size_t o = static_cast<size_t>(Flatten(y_shape, yi));
    if (c.op == "MaxPool") {
      y[o] = best;
      indices[o] = static_cast<double>(best_index);
    } else {
      y[o] = sum / static_cast<double>(c.count_include_pad ? padded : valid);
    }
  });
  return {FromDoubles(c.dtype, y_shape, y), FromDoubles(DType::kI64, y_shape, indices)};
}

ir::Node PoolNode(const PoolCase& c) {
  std::map<std::string, ir::Attribute> attributes;
  attributes["kernel_shape"] = AttrInts(c.kernel);
  if (!c.strides.empty()) attributes["strides"] = AttrInts(c.strides);
  if (!c.pads.empty()) attributes["pads"] = AttrInts(c.pads);
  if (!c.dilations.empty()) attributes["dilations"] = AttrInts(c.dilations);
  if (c.auto_pad != "NOTSET") attributes["auto_pad"] = AttrString(c.auto_pad);
  if (c.ceil_mode) attributes["ceil_mode"] = AttrInt(1);
  if (c.op == "AveragePool") attributes["count_include_pad"] = AttrInt(c.count_include_pad);
  if (c.op == "MaxPool") attributes["storage_order"] = AttrInt(c.storage_order);
  std::vector<std::string> outputs{"Y"};
  if (c.indices) outputs.push_back("Indices");
  return MakeNode(c.op, {"X"}, outputs, attributes, 19);
}

std::vector<PoolCase> PoolCases() {
  std::vector<PoolCase> cases = {
      {"max_2d", "MaxPool", {2, 3, 8, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {"max_2d_indices",
       "MaxPool",
       {2, 3, 7, 6},
       {2, 3},
       {2, 1},
       {0, 1, 1, 0},
       {},
       "NOTSET",
       false,
       false,
       0,
       true},
      {"max_2d_indices_column_major",
       "MaxPool",
       {1, 2, 7, 6},
       {3, 2},
       {2, 2},
       {},
       {},
       "NOTSET",
       false,
       false,
       1,
       true},
      {"max_3d_indices_column_major",
       "MaxPool",
       {1, 2, 4, 5, 6},
       {2, 2, 3},
       {1, 2, 2},
       {},
       {},
       "NOTSET",
       false,
       false,
       1,
       true},
      {"max_ceil", "MaxPool", {1, 2, 8, 8}, {3, 3}, {2, 2}, {}, {}, "NOTSET", true},
      {"max_ceil_pads", "MaxPool", {1, 2, 9, 10}, {3, 2}, {3, 3}, {1, 1, 1, 0}, {}, "NOTSET", true},
      {"max_dilated", "MaxPool", {1, 2, 10, 9}, {3, 2}, {1, 2}, {1, 0, 1, 1}, {2, 3}},
      {"max_1d", "MaxPool", {2, 3, 15}, {4}, {3}, {1, 2}},
      {"max_3d", "MaxPool", {1, 2, 5, 6, 7}, {2, 3, 2}, {2, 1, 2}, {0, 1, 1, 1, 1, 0}},
      {"max_same_upper", "MaxPool", {1, 2, 7, 8}, {2, 3}, {2, 3}, {}, {}, "SAME_UPPER"},
      {"max_same_lower", "MaxPool", {1, 2, 7, 8}, {2, 3}, {2, 3}, {}, {}, "SAME_LOWER"},
      {"max_valid", "MaxPool", {1, 2, 7, 8}, {3, 2}, {2, 3}, {}, {}, "VALID"},
      {"max_float64",
       "MaxPool",
       {1, 3, 6, 6},
       {2, 2},
       {2, 2},
       {},
       {},
       "NOTSET",
       false,
       false,
       0,
       false,
       DType::kF64},
      {"avg_2d", "AveragePool", {2, 3, 8, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}},
      {"avg_2d_include_pad",
       "AveragePool",
       {2, 3, 8, 9},
       {3, 3},
       {2, 2},
       {1, 1, 1, 1},
       {},
       "NOTSET",
       false,
       true},
      {"avg_ceil", "AveragePool", {1, 2, 8, 8}, {3, 3}, {2, 2}, {}, {}, "NOTSET", true},
      {"avg_ceil_include_pad",
       "AveragePool",
       {1, 2, 9, 10},
       {3, 2},
       {3, 3},
       {1, 1, 1, 0},
       {},
       "NOTSET",
       true,
       true},
      {"avg_1d", "AveragePool", {2, 3, 15}, {4}, {3}, {1, 2}},
      {"avg_3d_include_pad",
       "AveragePool",
       {1, 2, 5, 6, 7},
       {2, 3, 2},
       {2, 1, 2},
       {0, 1, 1, 1, 1, 0},
       {},
       "NOTSET",
       false,
       true},
      {"avg_same_upper", "AveragePool", {1, 2, 7, 8}, {2, 3}, {2, 3}, {}, {}, "SAME_UPPER"},
      {"avg_same_lower_include_pad",
       "AveragePool",
       {1, 2, 7, 8},
       {2, 3},
       {2, 3},
       {},
       {},
       "SAME_LOWER",
       false,
       true},
      {"avg_valid", "AveragePool", {1, 2, 7, 8}, {3, 2}, {2, 3}, {}, {}, "VALID"},
      {"avg_dilated", "AveragePool", {1, 2, 10, 9}, {3, 2}, {1, 2}, {1, 0, 1, 1}, {2, 3}},
      {"avg_float64",
       "AveragePool",
       {1, 3, 6, 6},
       {2, 2},
       {1, 1},
       {1, 1, 1, 1},
       {},
       "NOTSET",
       false,
       true,
       0,
       false,
       DType::kF64},
  };
  return cases;
}

class ReferencePoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(ReferencePoolTest, MatchesNaiveLoop) {
  const PoolCase& c = GetParam();
  const Tensor x = RandomTensor(c.dtype, c.x, 21);
  Result<std::vector<Tensor>> y = RunNode(ReferenceKernels(), PoolNode(c), {x});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  const NaivePoolResult expected = NaivePool(c, x);
  EXPECT_TRUE(AllClose((*y)[0], expected.y, 1e-5, 1e-6));
  if (c.indices) {
    ASSERT_EQ(y->size(), 2u);
    EXPECT_TRUE(AllClose((*y)[1], expected.indices, 0, 0));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ReferencePoolTest, ::testing::ValuesIn(PoolCases()),
                         [](const auto& info) { return info.param.name; });

Tensor Iota(Shape shape) {
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i + 1);
  return Tensor::FromVector<float>(shape, v);
}

// ONNX's own backend test values (maxpool_2d_ceil, averagepool_2d_ceil,
// maxpool_with_argmax_2d_precomputed_strides), independent of the naive loop above.
TEST(ReferencePoolTest, OnnxBackendTestValues) {
  std::map<std::string, ir::Attribute> ceil{
      {"kernel_shape", AttrInts({3, 3})}, {"strides", AttrInts({2, 2})}, {"ceil_mode", AttrInt(1)}};
  Result<std::vector<Tensor>> max =
      RunNode(ReferenceKernels(), MakeNode("MaxPool", {"X"}, {"Y"}, ceil), {Iota({1, 1, 4, 4})});
  ASSERT_TRUE(max.ok()) << max.status().ToString();
  EXPECT_TRUE(AllClose((*max)[0], Tensor::FromVector<float>({1, 1, 2, 2}, {11, 12, 15, 16})));
  Result<std::vector<Tensor>> avg = RunNode(
      ReferenceKernels(), MakeNode("AveragePool", {"X"}, {"Y"}, ceil), {Iota({1, 1, 4, 4})});
  ASSERT_TRUE(avg.ok()) << avg.status().ToString();
  EXPECT_TRUE(AllClose((*avg)[0], Tensor::FromVector<float>({1, 1, 2, 2}, {6, 7.5, 12, 13.5})));
  Result<std::vector<Tensor>> argmax = RunNode(ReferenceKernels(),
                                               MakeNode("MaxPool", {"X"}, {"Y", "I"},
                                                        {{"kernel_shape", AttrInts({2, 2})},
                                                         {"strides", AttrInts({2, 2})},
                                                         {"storage_order", AttrInt(1)}}),
                                               {Iota({1, 1, 5, 5})});
  ASSERT_TRUE(argmax.ok()) << argmax.status().ToString();
  EXPECT_TRUE(AllClose((*argmax)[0], Tensor::FromVector<float>({1, 1, 2, 2}, {7, 9, 17, 19})));
  EXPECT_TRUE(
      AllClose((*argmax)[1], Tensor::FromVector<int64_t>({1, 1, 2, 2}, {6, 16, 8, 18}), 0, 0));
}

TEST(ReferencePoolTest, GlobalAveragePool) {
  for (const Shape& shape : {Shape{2, 3, 5, 7}, Shape{1, 4, 9}, Shape{2, 2, 3, 4, 5}}) {
    const Tensor x = RandomTensor(DType::kF32, shape, 31);
    Result<std::vector<Tensor>> y =
        RunNode(ReferenceKernels(), MakeNode("GlobalAveragePool", {"X"}, {"Y"}), {x});
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    const int64_t planes = shape[0] * shape[1];
    const int64_t plane = x.num_elements() / planes;
    Shape out_shape{shape[0], shape[1]};
    out_shape.resize(shape.size(), 1);
    std::vector<double> expected(static_cast<size_t>(planes));
    const std::vector<double> xv = Doubles(x);
    for (int64_t p = 0; p < planes; ++p) {
      for (int64_t i = 0; i < plane; ++i) expected[p] += xv[static_cast<size_t>(p * plane + i)];
      expected[p] /= static_cast<double>(plane);
    }
    EXPECT_TRUE(AllClose((*y)[0], FromDoubles(DType::kF32, out_shape, expected), 1e-5, 1e-6))
        << ShapeToString(shape);
  }
}

// ---------------------------------------------------------------------------------------------
// Gemm and MatMul

struct GemmCase {
  std::string name{};
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 1.0f;
  std::optional<Shape> c{};  // nullopt: no C
  DType dtype = DType::kF32;
};

class ReferenceGemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(ReferenceGemmTest, MatchesNaiveLoop) {
  const GemmCase& g = GetParam();
  const Shape a_shape = g.trans_a ? Shape{g.k, g.m} : Shape{g.m, g.k};
  const Shape b_shape = g.trans_b ? Shape{g.n, g.k} : Shape{g.k, g.n};
  const bool is_int = g.dtype == DType::kI32 || g.dtype == DType::kI64;
  const double range = is_int ? 5.0 : 1.0;
  const Tensor a = RandomTensor(g.dtype, a_shape, 41, -range, range);
  const Tensor b = RandomTensor(g.dtype, b_shape, 42, -range, range);
  const Tensor c = g.c ? RandomTensor(g.dtype, *g.c, 43, -range, range) : Tensor();
  ir::Node node = MakeNode("Gemm", {"A", "B", g.c ? "C" : ""}, {"Y"},
                           {{"transA", AttrInt(g.trans_a)},
                            {"transB", AttrInt(g.trans_b)},
                            {"alpha", AttrFloat(g.alpha)},
                            {"beta", AttrFloat(g.beta)}});
  Result<std::vector<Tensor>> y = RunNode(ReferenceKernels(), node, {a, b, c});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  const std::vector<double> av = Doubles(a), bv = Doubles(b);
  const std::vector<double> cv = g.c ? Doubles(c) : std::vector<double>();
  std::vector<double> expected(static_cast<size_t>(g.m * g.n));
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double sum = 0;
      for (int64_t kk = 0; kk < g.k; ++kk) {
        sum += av[static_cast<size_t>(g.trans_a ? kk * g.m + i : i * g.k + kk)] *
               bv[static_cast<size_t>(g.trans_b ? j * g.k + kk : kk * g.n + j)];
      }
      double value = g.alpha * sum;
      if (g.c) {
        // Unidirectional broadcast of C to (M, N), right-aligned.
        Shape cs = *g.c;
        while (cs.size() < 2) cs.insert(cs.begin(), 1);
        const int64_t ci = cs[0] == 1 ? 0 : i;
        const int64_t cj = cs[1] == 1 ? 0 : j;
        value += g.beta * cv[static_cast<size_t>(ci * cs[1] + cj)];
      }
      expected[static_cast<size_t>(i * g.n + j)] = value;
    }
  }
  EXPECT_TRUE(AllClose((*y)[0], FromDoubles(g.dtype, {g.m, g.n}, expected), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReferenceGemmTest,
    ::testing::Values(GemmCase{"plain_full_c", 5, 7, 6, false, false, 1, 1, Shape{5, 6}},
                      GemmCase{"trans_a", 5, 7, 6, true, false, 0.5f, 2.0f, Shape{6}},
                      GemmCase{"trans_b", 9, 4, 3, false, true, 1.5f, -1.0f, Shape{9, 1}},
                      GemmCase{"trans_both", 4, 8, 5, true, true, 1, 0.25f, Shape{1, 5}},
                      GemmCase{"scalar_c", 3, 3, 3, false, false, 2, 3, Shape{}},
                      GemmCase{"one_by_one_c", 6, 2, 4, false, true, 1, 1, Shape{1, 1}},
                      GemmCase{"no_c", 17, 33, 9, true, false, 0.75f, 1, std::nullopt},
                      GemmCase{"beta_zero", 4, 5, 6, false, false, 1, 0, Shape{4, 6}},
                      GemmCase{"large", 64, 96, 80, false, true, 1, 1, Shape{80}},
                      GemmCase{"float64", 5, 6, 7, true, true, 1.25f, 0.5f, Shape{5, 7},
                               DType::kF64},
                      GemmCase{"int32", 4, 5, 3, false, false, 1, 1, Shape{3}, DType::kI32},
                      GemmCase{"int64", 4, 5, 3, true, false, 1, 1, Shape{4, 3}, DType::kI64}),
    [](const auto& info) { return info.param.name; });

TEST(ReferenceGemmErrorTest, InnerDimMismatchNamesTheNode) {
  ir::Node node = MakeNode("Gemm", {"A", "B"}, {"Y"}, {{"transB", AttrInt(1)}});
  Result<std::vector<Tensor>> y =
      RunNode(ReferenceKernels(), node,
              {RandomTensor(DType::kF32, {3, 4}, 1), RandomTensor(DType::kF32, {5, 3}, 2)});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(y.status().message().find("node 'Gemm_under_test' (Gemm)"), std::string::npos)
      << y.status().message();
  EXPECT_NE(y.status().message().find("inner dims differ"), std::string::npos)
      << y.status().message();
}

// numpy.matmul in float64: 1-D operands promoted, batch dims broadcast.
Tensor NaiveMatMul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  const bool a_vector = as.size() == 1, b_vector = bs.size() == 1;
  if (a_vector) as.insert(as.begin(), 1);
  if (b_vector) bs.push_back(1);
  const int64_t m = as[as.size() - 2], k = as.back(), n = bs.back();
  const size_t rank = std::max(as.size(), bs.size()) - 2;
  Shape a_batch(as.begin(), as.end() - 2), b_batch(bs.begin(), bs.end() - 2);
  while (a_batch.size() < rank) a_batch.insert(a_batch.begin(), 1);
  while (b_batch.size() < rank) b_batch.insert(b_batch.begin(), 1);
  Shape batch(rank);
  for (size_t i = 0; i < rank; ++i) batch[i] = std::max(a_batch[i], b_batch[i]);
  Shape out = batch;
  if (!a_vector) out.push_back(m);
  if (!b_vector) out.push_back(n);
  const std::vector<double> av = Doubles(a), bv = Doubles(b);
  std::vector<double> y;
  ForEachIndex(batch, [&](const Shape& bi) {
    Shape ai(rank), bj(rank);
    for (size_t i = 0; i < rank; ++i) {
      ai[i] = a_batch[i] == 1 ? 0 : bi[i];
      bj[i] = b_batch[i] == 1 ? 0 : bi[i];
    }
    const int64_t a_off = Flatten(a_batch, ai) * m * k, b_off = Flatten(b_batch, bj) * k * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          sum += av[static_cast<size_t>(a_off + i * k + kk)] *
                 bv[static_cast<size_t>(b_off + kk * n + j)];
        }
        y.push_back(sum);
      }
    }
  });
  return FromDoubles(a.dtype(), out, y);
}

struct MatMulCase {
  std::string name{};
  Shape a{}, b{};
  DType dtype = DType::kF32;
};

class ReferenceMatMulTest : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(ReferenceMatMulTest, MatchesNumpySemantics) {
  const MatMulCase& c = GetParam();
  const bool is_int = c.dtype == DType::kI32 || c.dtype == DType::kI64;
  const Tensor a = RandomTensor(c.dtype, c.a, 51, is_int ? -9 : -1, is_int ? 9 : 1);
  const Tensor b = RandomTensor(c.dtype, c.b, 52, is_int ? -9 : -1, is_int ? 9 : 1);
  Result<std::vector<Tensor>> y =
      RunNode(ReferenceKernels(), MakeNode("MatMul", {"A", "B"}, {"Y"}), {a, b});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_TRUE(AllClose((*y)[0], NaiveMatMul(a, b), 1e-4, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Cases, ReferenceMatMulTest,
                         ::testing::Values(MatMulCase{"matrix", {5, 7}, {7, 3}},
                                           MatMulCase{"vector_vector", {6}, {6}},
                                           MatMulCase{"vector_matrix", {6}, {6, 4}},
                                           MatMulCase{"matrix_vector", {3, 6}, {6}},
                                           MatMulCase{"batched_vector", {2, 3, 5}, {5}},
                                           MatMulCase{"vector_batched", {5}, {4, 5, 2}},
                                           MatMulCase{"batched", {3, 4, 5}, {3, 5, 6}},
                                           MatMulCase{"broadcast_b", {2, 3, 4, 5}, {5, 6}},
                                           MatMulCase{"broadcast_both", {2, 1, 4, 5}, {3, 5, 2}},
                                           MatMulCase{"broadcast_ones", {1, 3, 4, 5}, {2, 1, 5, 3}},
                                           MatMulCase{"large", {2, 64, 48}, {48, 72}},
                                           MatMulCase{"float64", {2, 3, 4}, {2, 4, 5}, DType::kF64},
                                           MatMulCase{"int32", {2, 3, 4}, {4, 5}, DType::kI32},
                                           MatMulCase{"int64", {3, 4}, {2, 4, 5}, DType::kI64}),
                         [](const auto& info) { return info.param.name; });

TEST(ReferenceMatMulErrorTest, InnerDimMismatchNamesTheNode) {
  Result<std::vector<Tensor>> y =
      RunNode(ReferenceKernels(), MakeNode("MatMul", {"A", "B"}, {"Y"}),
              {RandomTensor(DType::kF32, {2, 3}, 1), RandomTensor(DType::kF32, {4, 5}, 2)});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'MatMul_under_test' (MatMul)"), std::string::npos);
  EXPECT_NE(y.status().message().find("inner dims differ"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization and LRN

struct BatchNormCase {
  std::string name{};
  Shape x{};
  int opset = 15;
  DType dtype = DType::kF32;
  bool per_element = false;  // opset 7-8 spatial=0
};

class ReferenceBatchNormTest : public ::testing::TestWithParam<BatchNormCase> {};

TEST_P(ReferenceBatchNormTest, MatchesNaiveFormula) {
  const BatchNormCase& c = GetParam();
  const int64_t channels = c.x[1];
  const int64_t plane = NumElements(c.x) / (c.x[0] * channels);
  const Shape param_shape = c.per_element ? Shape(c.x.begin() + 1, c.x.end()) : Shape{channels};
  const Tensor x = RandomTensor(c.dtype, c.x, 61, -3, 3);
  const Tensor scale = RandomTensor(c.dtype, param_shape, 62, 0.5, 2);
  const Tensor bias = RandomTensor(c.dtype, param_shape, 63);
  const Tensor mean = RandomTensor(c.dtype, param_shape, 64);
  const Tensor var = RandomTensor(c.dtype, param_shape, 65, 0.1, 3);
  const float epsilon = 1e-3f;
  std::map<std::string, ir::Attribute> attributes{{"epsilon", AttrFloat(epsilon)}};
  if (c.per_element) attributes["spatial"] = AttrInt(0);
  ir::Node node = MakeNode("BatchNormalization", {"X", "scale", "B", "mean", "var"}, {"Y"},
                           attributes, c.opset);
  Result<std::vector<Tensor>> y =
      RunNode(ReferenceKernels(), node, {x, scale, bias, mean, var}, {{1, 2, 3, 4}});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  const std::vector<double> xv = Doubles(x), sv = Doubles(scale), bv = Doubles(bias),
                            mv = Doubles(mean), vv = Doubles(var);
  std::vector<double> expected(xv.size());
  for (size_t i = 0; i < xv.size(); ++i) {
    const int64_t c_index = (static_cast<int64_t>(i) / plane) % channels;
    const size_t p = static_cast<size_t>(
        c.per_element ? c_index * plane + static_cast<int64_t>(i) % plane : c_index);
    expected[i] = (xv[i] - mv[p]) / std::sqrt(vv[p] + static_cast<double>(epsilon)) * sv[p] + bv[p];
  }
  EXPECT_TRUE(AllClose((*y)[0], FromDoubles(c.dtype, c.x, expected), 1e-5, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReferenceBatchNormTest,
    ::testing::Values(BatchNormCase{"nchw", {2, 3, 5, 4}}, BatchNormCase{"nc", {4, 6}},
                      BatchNormCase{"ncdhw_opset9", {1, 2, 3, 4, 5}, 9},
                      BatchNormCase{"float64_opset14", {2, 3, 4}, 14, DType::kF64},
                      BatchNormCase{"opset7_per_element", {2, 3, 4, 2}, 7, DType::kF32, true}),
    [](const auto& info) { return info.param.name; });

TEST(ReferenceBatchNormErrorTest, TrainingModeIsRejected) {
  ir::Node node = MakeNode("BatchNormalization", {"X", "scale", "B", "mean", "var"}, {"Y"},
                           {{"training_mode", AttrInt(1)}});
  const Tensor p = RandomTensor(DType::kF32, {3}, 2, 0.5, 1);
  Result<std::vector<Tensor>> y =
      RunNode(ReferenceKernels(), node, {RandomTensor(DType::kF32, {1, 3, 2, 2}, 1), p, p, p, p});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("node 'BatchNormalization_under_test'"), std::string::npos);
  EXPECT_NE(y.status().message().find("training mode"), std::string::npos) << y.status().message();
}

TEST(ReferenceLrnTest, MatchesNaiveFormula) {
  for (int64_t size : {1, 2, 3, 5}) {
    const Shape shape{2, 7, 3, 4};
    const Tensor x = RandomTensor(DType::kF32, shape, 71 + size, -2, 2);
    const float alpha = 2e-2f, beta = 0.6f, bias = 1.5f;
    ir::Node node = MakeNode("LRN", {"X"}, {"Y"},
                             {{"size", AttrInt(size)},
                              {"alpha", AttrFloat(alpha)},
                              {"beta", AttrFloat(beta)},
                              {"bias", AttrFloat(bias)}});
    Result<std::vector<Tensor>> y = RunNode(ReferenceKernels(), node, {x});
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    const std::vector<double> xv = Doubles(x);
    std::vector<double> expected(xv.size());
    ForEachIndex(shape, [&](const Shape& i) {
      double square_sum = 0;
      const int64_t lo = i[1] - (size - 1) / 2;
      const int64_t hi = i[1] + (size - 1) - (size - 1) / 2;
      for (int64_t c = std::max<int64_t>(0, lo); c <= std::min<int64_t>(shape[1] - 1, hi); ++c) {
        const double v = xv[static_cast<size_t>(Flatten(shape, {i[0], c, i[2], i[3]}))];
        square_sum += v * v;
      }
      const size_t flat = static_cast<size_t>(Flatten(shape, i));
      expected[flat] = xv[flat] / std::pow(bias + alpha / static_cast<double>(size) * square_sum,
                                           static_cast<double>(beta));
    });
    EXPECT_TRUE(AllClose((*y)[0], FromDoubles(DType::kF32, shape, expected), 1e-5, 1e-6))
        << "size " << size;
  }
}

}  // namespace
}  // namespace unihal::cpu
