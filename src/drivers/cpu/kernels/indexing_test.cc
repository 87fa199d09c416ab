// Tests of the indexing kernels against independent float64 references computed here, and of
// their error paths (out-of-range indices, bad attributes, wrong dtypes name the node).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllClose;
using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
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

Status RunStatus(const ir::Node& node, const std::vector<Tensor>& inputs) {
  return RunNode(AllCpuKernels(), node, inputs).status();
}

// Expects `status` to have `code` and to name the node under test.
void ExpectError(const Status& status, StatusCode code, const std::string& op) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  EXPECT_NE(status.message().find("'" + op + "_under_test'"), std::string::npos)
      << status.ToString();
}

Tensor Int64s(Shape shape, std::vector<int64_t> v) {
  return Tensor::FromVector<int64_t>(std::move(shape), v);
}
Tensor Int64s(std::vector<int64_t> v) { return Int64s({static_cast<int64_t>(v.size())}, v); }

std::vector<double> Values(const Tensor& t) {
  std::vector<double> v;
  for (int64_t i = 0; i < t.num_elements(); ++i) v.push_back(ElementAsDouble(t, i));
  return v;
}

Tensor DoublesAs(DType dtype, Shape shape, const std::vector<double>& v) {
  Tensor d = Tensor::FromVector<double>(shape, v);
  if (dtype == DType::kF64) return d;
  Result<std::vector<Tensor>> cast =
      RunNode(AllCpuKernels(), MakeNode("Cast", {"x"}, {"y"}, {{"to", AttrInt(1)}}, 19), {d});
  EXPECT_TRUE(cast.ok() && dtype == DType::kF32);
  return cast.ok() ? (*cast)[0] : Tensor();
}

// Flat offset of `index` in a row-major tensor of `shape`.
int64_t Flat(const Shape& shape, const std::vector<int64_t>& index) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

std::vector<int64_t> Unflat(const Shape& shape, int64_t flat) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

TEST(IndexingTest, RangeCountsAndValues) {
  const Tensor y = RunAll(
      MakeNode("Range", {"a", "b", "c"}, {"y"}, {}, 11),
      {Tensor::Scalar<float>(1.0f), Tensor::Scalar<float>(2.2f), Tensor::Scalar<float>(0.25f)})[0];
  EXPECT_TRUE(AllClose(y, Tensor::FromVector<float>({5}, {1.0f, 1.25f, 1.5f, 1.75f, 2.0f})));
  const Tensor yi = RunAll(
      MakeNode("Range", {"a", "b", "c"}, {"y"}, {}, 11),
      {Tensor::Scalar<int32_t>(10), Tensor::Scalar<int32_t>(3), Tensor::Scalar<int32_t>(-3)})[0];
  EXPECT_TRUE(AllClose(yi, Tensor::FromVector<int32_t>({3}, {10, 7, 4})));
  ExpectError(RunStatus(MakeNode("Range", {"a", "b", "c"}, {"y"}, {}, 11),
                        {Tensor::Scalar<int64_t>(0), Tensor::Scalar<int64_t>(3),
                         Tensor::Scalar<int64_t>(0)}),
              StatusCode::kInvalidArgument, "Range");
  // Opset 27: float16 takes stash_type 1 or 11 only.
  const Tensor h = Tensor::Scalar<Float16>(Float16(1.0f));
  ExpectError(
      RunStatus(MakeNode("Range", {"a", "b", "c"}, {"y"}, {{"stash_type", AttrInt(10)}}, 27),
                {h, h, h}),
      StatusCode::kUnimplemented, "Range");
}

TEST(IndexingTest, SplitByAttributeInputAndNumOutputs) {
  const Tensor x = RandomTensor(DType::kF32, {2, 7}, 11);
  const auto check = [&](const std::vector<Tensor>& parts, const std::vector<int64_t>& sizes) {
    ASSERT_EQ(parts.size(), sizes.size());
    int64_t column = 0;
    for (size_t k = 0; k < parts.size(); ++k) {
      ASSERT_EQ(parts[k].shape(), (Shape{2, sizes[k]}));
      for (int64_t r = 0; r < 2; ++r) {
        for (int64_t c = 0; c < sizes[k]; ++c) {
          EXPECT_EQ(ElementAsDouble(parts[k], r * sizes[k] + c),
                    ElementAsDouble(x, r * 7 + column + c));
        }
      }
      column += sizes[k];
    }
  };
  check(RunAll(MakeNode("Split", {"x"}, {"a", "b"},
                        {{"axis", AttrInt(-1)}, {"split", AttrInts({3, 4})}}, 11),
               {x}),
        {3, 4});
  check(RunAll(MakeNode("Split", {"x", "s"}, {"a", "b", "c"}, {{"axis", AttrInt(1)}}, 13),
               {x, Int64s({0, 5, 2})}),
        {0, 5, 2});
  check(RunAll(MakeNode("Split", {"x"}, {"a", "b", "c"},
                        {{"axis", AttrInt(1)}, {"num_outputs", AttrInt(3)}}, 18),
               {x}),
        {3, 3, 1});
  ExpectError(RunStatus(MakeNode("Split", {"x", "s"}, {"a", "b"}, {{"axis", AttrInt(1)}}, 13),
                        {x, Int64s({3, 3})}),
              StatusCode::kInvalidArgument, "Split");
}

TEST(IndexingTest, GatherAndScatterElementsMatchReference) {
  const Shape shape = {3, 4, 2};
  const Tensor data = RandomTensor(DType::kF32, shape, 21);
  const Shape index_shape = {3, 5, 2};
  // Fresh random indices in [-4, 4): negative ones count from the end of axis 1.
  const Tensor index_f = RandomTensor(DType::kF64, index_shape, 22, -4.0, 3.999);
  std::vector<int64_t> index;
  for (double v : Values(index_f)) index.push_back(static_cast<int64_t>(std::floor(v)));
  const Tensor indices = Int64s(index_shape, index);
  const Tensor gathered =
      RunAll(MakeNode("GatherElements", {"x", "i"}, {"y"}, {{"axis", AttrInt(1)}}, 13),
             {data, indices})[0];
  const Tensor updates = RandomTensor(DType::kF32, index_shape, 23);
  const Tensor added =
      RunAll(MakeNode("ScatterElements", {"x", "i", "u"}, {"y"},
                      {{"axis", AttrInt(1)}, {"reduction", AttrString("add")}}, 18),
             {data, indices, updates})[0];
  std::vector<double> expect_gather(index.size());
  std::vector<double> expect_add = Values(data);
  for (int64_t i = 0; i < static_cast<int64_t>(index.size()); ++i) {
    std::vector<int64_t> at = Unflat(index_shape, i);
    at[1] = (index[static_cast<size_t>(i)] + 4) % 4;
    expect_gather[static_cast<size_t>(i)] = ElementAsDouble(data, Flat(shape, at));
    expect_add[static_cast<size_t>(Flat(shape, at))] += ElementAsDouble(updates, i);
  }
  EXPECT_TRUE(AllClose(gathered, DoublesAs(DType::kF32, index_shape, expect_gather)));
  EXPECT_TRUE(AllClose(added, DoublesAs(DType::kF32, shape, expect_add)));

  const Tensor too_big = Int64s(index_shape, std::vector<int64_t>(index.size(), 4));
  ExpectError(RunStatus(MakeNode("GatherElements", {"x", "i"}, {"y"}, {{"axis", AttrInt(1)}}, 13),
                        {data, too_big}),
              StatusCode::kInvalidArgument, "GatherElements");
  ExpectError(RunStatus(MakeNode("GatherElements", {"x", "i"}, {"y"}, {{"axis", AttrInt(1)}}, 13),
                        {data, index_f}),
              StatusCode::kUnimplemented, "GatherElements");
  ExpectError(RunStatus(MakeNode("ScatterElements", {"x", "i", "u"}, {"y"},
                                 {{"reduction", AttrString("mean")}}, 18),
                        {data, indices, updates}),
              StatusCode::kInvalidArgument, "ScatterElements");
}

TEST(IndexingTest, ScatterNDAndGatherNDMatchReference) {
  const Shape shape = {4, 3, 2};
  const Tensor data = RandomTensor(DType::kF64, shape, 31);
  // Two (i, j) tuples, one with negative entries, each selecting a row of 2.
  const Tensor indices = Int64s({2, 2}, {1, -1, 3, 0});
  const Tensor updates = RandomTensor(DType::kF64, {2, 2}, 32);
  const Tensor maxed =
      RunAll(MakeNode("ScatterND", {"x", "i", "u"}, {"y"}, {{"reduction", AttrString("max")}}, 18),
             {data, indices, updates})[0];
  std::vector<double> expect = Values(data);
  const std::vector<std::pair<int64_t, int64_t>> rows = {{1, 2}, {3, 0}};
  for (size_t t = 0; t < rows.size(); ++t) {
    for (int64_t e = 0; e < 2; ++e) {
      double& v = expect[static_cast<size_t>(Flat(shape, {rows[t].first, rows[t].second, e}))];
      v = std::max(v, ElementAsDouble(updates, static_cast<int64_t>(t) * 2 + e));
    }
  }
  EXPECT_TRUE(AllClose(maxed, DoublesAs(DType::kF64, shape, expect)));

  // GatherND with batch_dims 1: per batch b, data[b][i[b]].
  const Tensor batch_index = Int64s({4, 1, 1}, {0, 2, -1, 1});
  const Tensor gathered =
      RunAll(MakeNode("GatherND", {"x", "i"}, {"y"}, {{"batch_dims", AttrInt(1)}}, 13),
             {data, batch_index})[0];
  std::vector<double> expect_nd;
  const int64_t picks[] = {0, 2, 2, 1};
  for (int64_t b = 0; b < 4; ++b) {
    for (int64_t e = 0; e < 2; ++e)
      expect_nd.push_back(ElementAsDouble(data, Flat(shape, {b, picks[b], e})));
  }
  EXPECT_TRUE(AllClose(gathered, DoublesAs(DType::kF64, {4, 1, 2}, expect_nd)));
  ExpectError(RunStatus(MakeNode("ScatterND", {"x", "i", "u"}, {"y"}, {}, 13),
                        {data, Int64s({2, 2}, {4, 0, 0, 0}), updates}),
              StatusCode::kInvalidArgument, "ScatterND");
  ExpectError(RunStatus(MakeNode("ScatterND", {"x", "i", "u"}, {"y"},
                                 {{"reduction", AttrString("add")}}, 18),
                        {Tensor::FromVector<bool>({2}, {true, false}), Int64s({1, 1}, {0}),
                         Tensor::FromVector<bool>({1}, {true})}),
              StatusCode::kUnimplemented, "ScatterND");
}

// Reference pad index along one dim, written as NumPy describes each mode.
int64_t PadSource(int64_t i, int64_t n, const std::string& mode) {
  if (i >= 0 && i < n) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return i < 0 ? 0 : n - 1;
  if (mode == "wrap") return ((i % n) + n) % n;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;  // reflect, repeatedly
  return i;
}

TEST(IndexingTest, PadModesMatchReference) {
  const Shape shape = {3, 4};
  const Tensor x = RandomTensor(DType::kF32, shape, 41);
  const std::vector<int64_t> pads = {2, 1, 1, 3};  // begin0 begin1 end0 end1
  for (const std::string mode : {"constant", "reflect", "edge", "wrap"}) {
    const Tensor y =
        RunAll(MakeNode("Pad", {"x", "p", "v"}, {"y"}, {{"mode", AttrString(mode)}}, 19),
               {x, Int64s(pads), Tensor::Scalar<float>(2.5f)})[0];
    const Shape out_shape = {6, 8};
    std::vector<double> expect;
    for (int64_t r = 0; r < 6; ++r) {
      for (int64_t c = 0; c < 8; ++c) {
        const int64_t sr = PadSource(r - 2, 3, mode);
        const int64_t sc = PadSource(c - 1, 4, mode);
        expect.push_back(sr < 0 || sc < 0 ? 2.5 : ElementAsDouble(x, sr * 4 + sc));
      }
    }
    EXPECT_TRUE(AllClose(y, DoublesAs(DType::kF32, out_shape, expect))) << mode;
  }
  // Negative pads crop; axes (opset 18) pick the padded dims.
  const Tensor cropped = RunAll(MakeNode("Pad", {"x", "p", "", "a"}, {"y"}, {}, 18),
                                {x, Int64s({-1, 1}), Tensor(), Int64s({-1})})[0];
  ASSERT_EQ(cropped.shape(), (Shape{3, 4}));
  EXPECT_EQ(ElementAsDouble(cropped, 0), ElementAsDouble(x, 1));
  EXPECT_EQ(ElementAsDouble(cropped, 3), 0.0);
  ExpectError(RunStatus(MakeNode("Pad", {"x", "p"}, {"y"}, {{"mode", AttrString("wrap")}}, 18),
                        {x, Int64s(pads)}),
              StatusCode::kInvalidArgument, "Pad");
  ExpectError(RunStatus(MakeNode("Pad", {"x", "p"}, {"y"}, {}, 18), {x, Int64s({1, 1})}),
              StatusCode::kInvalidArgument, "Pad");
}

TEST(IndexingTest, TriluTileAndDepthToSpaceMatchReference) {
  const Shape shape = {2, 3, 4};
  const Tensor x = RandomTensor(DType::kF32, shape, 51);
  for (int64_t upper : {0, 1}) {
    const Tensor y = RunAll(MakeNode("Trilu", {"x", "k"}, {"y"}, {{"upper", AttrInt(upper)}}, 14),
                            {x, Tensor::Scalar<int64_t>(-1)})[0];
    std::vector<double> expect = Values(x);
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const std::vector<int64_t> at = Unflat(shape, i);
      const bool keep = upper ? at[2] - at[1] >= -1 : at[2] - at[1] <= -1;
      if (!keep) expect[static_cast<size_t>(i)] = 0.0;
    }
    EXPECT_TRUE(AllClose(y, DoublesAs(DType::kF32, shape, expect)));
  }
  const Tensor tiled =
      RunAll(MakeNode("Tile", {"x", "r"}, {"y"}, {}, 13), {x, Int64s({1, 2, 3})})[0];
  ASSERT_EQ(tiled.shape(), (Shape{2, 6, 12}));
  for (int64_t i = 0; i < tiled.num_elements(); ++i) {
    const std::vector<int64_t> at = Unflat(tiled.shape(), i);
    ASSERT_EQ(ElementAsDouble(tiled, i),
              ElementAsDouble(x, Flat(shape, {at[0], at[1] % 3, at[2] % 4})));
  }
  // DepthToSpace then SpaceToDepth (DCR) is the identity; CRD by its formula.
  const Tensor image = RandomTensor(DType::kF32, {1, 8, 2, 3}, 52);
  const Tensor space =
      RunAll(MakeNode("DepthToSpace", {"x"}, {"y"}, {{"blocksize", AttrInt(2)}}, 13), {image})[0];
  const Tensor back =
      RunAll(MakeNode("SpaceToDepth", {"x"}, {"y"}, {{"blocksize", AttrInt(2)}}, 13), {space})[0];
  EXPECT_TRUE(AllClose(back, image));
  const Tensor crd = RunAll(MakeNode("DepthToSpace", {"x"}, {"y"},
                                     {{"blocksize", AttrInt(2)}, {"mode", AttrString("CRD")}}, 13),
                            {image})[0];
  ASSERT_EQ(crd.shape(), (Shape{1, 2, 4, 6}));
  for (int64_t i = 0; i < crd.num_elements(); ++i) {
    const std::vector<int64_t> at = Unflat(crd.shape(), i);
    const int64_t channel = at[1] * 4 + (at[2] % 2) * 2 + at[3] % 2;
    ASSERT_EQ(ElementAsDouble(crd, i),
              ElementAsDouble(image, Flat(image.shape(), {0, channel, at[2] / 2, at[3] / 2})));
  }
  ExpectError(
      RunStatus(MakeNode("DepthToSpace", {"x"}, {"y"}, {{"blocksize", AttrInt(3)}}, 13), {image}),
      StatusCode::kInvalidArgument, "DepthToSpace");
}

TEST(IndexingTest, UniqueOutputsSortedAndUnsorted) {
  const Tensor x = Tensor::FromVector<float>({6}, {2.0f, 1.0f, 1.0f, 3.0f, 4.0f, 3.0f});
  const std::vector<std::string> outs = {"y", "i", "inv", "c"};
  const auto sorted = RunAll(MakeNode("Unique", {"x"}, outs, {}, 11), {x});
  EXPECT_EQ(Values(sorted[0]), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(Values(sorted[1]), (std::vector<double>{1, 0, 3, 4}));
  EXPECT_EQ(Values(sorted[2]), (std::vector<double>{1, 0, 0, 2, 3, 2}));
  EXPECT_EQ(Values(sorted[3]), (std::vector<double>{2, 1, 2, 1}));
  const auto unsorted = RunAll(MakeNode("Unique", {"x"}, outs, {{"sorted", AttrInt(0)}}, 11), {x});
  EXPECT_EQ(Values(unsorted[0]), (std::vector<double>{2, 1, 3, 4}));
  EXPECT_EQ(Values(unsorted[1]), (std::vector<double>{0, 1, 3, 4}));
  EXPECT_EQ(Values(unsorted[2]), (std::vector<double>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(Values(unsorted[3]), (std::vector<double>{1, 2, 2, 1}));
  // Along axis 0: rows [1 0] [0 1] [1 0] -> [0 1] [1 0].
  const Tensor rows = Tensor::FromVector<int32_t>({3, 2}, {1, 0, 0, 1, 1, 0});
  const auto by_row = RunAll(MakeNode("Unique", {"x"}, outs, {{"axis", AttrInt(-2)}}, 11), {rows});
  EXPECT_EQ(Values(by_row[0]), (std::vector<double>{0, 1, 1, 0}));
  EXPECT_EQ(Values(by_row[2]), (std::vector<double>{1, 0, 1}));
}

TEST(IndexingTest, SmallOpsAndTheirErrors) {
  // OneHot: -1 is the last class; 5 is out of range and stays all "off".
  const Tensor onehot = RunAll(MakeNode("OneHot", {"i", "d", "v"}, {"y"}, {}, 11),
                               {Int64s({-1, 0, 5}), Tensor::Scalar<int64_t>(3),
                                Tensor::FromVector<float>({2}, {0.0f, 7.0f})})[0];
  EXPECT_EQ(Values(onehot), (std::vector<double>{0, 0, 7, 7, 0, 0, 0, 0, 0}));
  const Tensor nz = RunAll(MakeNode("NonZero", {"x"}, {"y"}, {}, 13),
                           {Tensor::FromVector<float>({2, 2}, {0.0f, 1.0f, 2.0f, 0.0f})})[0];
  EXPECT_EQ(Values(nz), (std::vector<double>{0, 1, 1, 0}));
  const Tensor eye =
      RunAll(MakeNode("EyeLike", {"x"}, {"y"}, {{"k", AttrInt(1)}, {"dtype", AttrInt(7)}}, 9),
             {Tensor::FromVector<float>({2, 3}, std::vector<float>(6))})[0];
  EXPECT_EQ(eye.dtype(), DType::kI64);
  EXPECT_EQ(Values(eye), (std::vector<double>{0, 1, 0, 0, 0, 1}));
  const Tensor compressed =
      RunAll(MakeNode("Compress", {"x", "c"}, {"y"}, {{"axis", AttrInt(1)}}, 11),
             {Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6}),
              Tensor::FromVector<bool>({2}, {false, true})})[0];
  EXPECT_EQ(Values(compressed), (std::vector<double>{2, 5}));
  const Tensor reversed =
      RunAll(MakeNode("ReverseSequence", {"x", "l"}, {"y"},
                      {{"batch_axis", AttrInt(0)}, {"time_axis", AttrInt(1)}}, 10),
             {Tensor::FromVector<float>({2, 3}, {1, 2, 3, 4, 5, 6}), Int64s({3, 2})})[0];
  EXPECT_EQ(Values(reversed), (std::vector<double>{3, 2, 1, 5, 4, 6}));
  const Tensor cropped = RunAll(MakeNode("CenterCropPad", {"x", "s"}, {"y"}, {}, 18),
                                {Tensor::FromVector<float>({3, 1}, {1, 2, 3}), Int64s({2, 2})})[0];
  EXPECT_EQ(Values(cropped), (std::vector<double>{1, 0, 2, 0}));
  // TensorScatter, circular: batch 0 writes slots 2, 0; batch 1 slots 1, 2.
  const Tensor cache = Tensor::FromVector<float>({2, 3, 1}, std::vector<float>(6, 0.0f));
  const Tensor update = Tensor::FromVector<float>({2, 2, 1}, {1, 2, 3, 4});
  const Tensor present = RunAll(
      MakeNode("TensorScatter", {"p", "u", "w"}, {"y"}, {{"mode", AttrString("circular")}}, 24),
      {cache, update, Int64s({2, 1})})[0];
  EXPECT_EQ(Values(present), (std::vector<double>{2, 0, 1, 0, 3, 4}));
  ExpectError(RunStatus(MakeNode("TensorScatter", {"p", "u", "w"}, {"y"}, {}, 24),
                        {cache, update, Int64s({2, 1})}),
              StatusCode::kInvalidArgument, "TensorScatter");
  ExpectError(RunStatus(MakeNode("ReverseSequence", {"x", "l"}, {"y"}, {}, 10),
                        {Tensor::FromVector<float>({2, 1}, {1, 2}), Int64s({3})}),
              StatusCode::kInvalidArgument, "ReverseSequence");
}

}  // namespace
}  // namespace unihal::cpu
