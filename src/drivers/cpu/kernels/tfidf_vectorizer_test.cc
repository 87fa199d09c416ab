#include <gtest/gtest.h>

#include <random>
#include <set>

#include "testing/op_test_util.h"

namespace unihal::cpu {
namespace {

using ::unihal::testing::AllCpuKernels;
using ::unihal::testing::AttrFloats;
using ::unihal::testing::AttrInt;
using ::unihal::testing::AttrInts;
using ::unihal::testing::AttrString;
using ::unihal::testing::MakeNode;
using ::unihal::testing::RunNode;

// The spec's definition, directly: an n-gram occurs at (start, skip) when the tokens at
// start, start + skip, ... match it; unigrams count once, longer n-grams for every skip.
int64_t CountOccurrences(const std::vector<int64_t>& row, const std::vector<int64_t>& gram,
                         int64_t max_skip) {
  const int64_t n = static_cast<int64_t>(gram.size());
  const int64_t length = static_cast<int64_t>(row.size());
  int64_t count = 0;
  for (int64_t skip = 1; skip <= (n == 1 ? 1 : max_skip + 1); ++skip) {
    for (int64_t start = 0; start + skip * (n - 1) < length; ++start) {
      bool match = true;
      for (int64_t k = 0; k < n && match; ++k) match = row[start + k * skip] == gram[k];
      count += match ? 1 : 0;
    }
  }
  return count;
}

TEST(TfIdfVectorizerTest, TfIdfCountsMatchTheDefinitionOnRandomRows) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> token(0, 4);
  const int64_t rows = 3, columns = 12, max_skip = 2;
  std::vector<int64_t> x(rows * columns);
  for (auto& v : x) v = token(rng);
  // Every unigram 0..4 and six distinct bigrams.
  std::vector<std::vector<int64_t>> grams = {{0},    {1},    {2},    {3},    {4},   {0, 1},
                                             {1, 1}, {2, 3}, {3, 0}, {4, 4}, {1, 2}};
  std::vector<int64_t> pool;
  for (const auto& g : grams) pool.insert(pool.end(), g.begin(), g.end());
  std::vector<int64_t> indexes;  // n-gram i lands in column (i * 7) % 11: a permutation
  std::vector<float> weights;
  for (size_t i = 0; i < grams.size(); ++i) {
    indexes.push_back(static_cast<int64_t>((i * 7) % grams.size()));
    weights.push_back(0.5f + static_cast<float>(i));
  }
  for (const std::string mode : {"TF", "IDF", "TFIDF"}) {
    const ir::Node node = MakeNode("TfIdfVectorizer", {"x"}, {"y"},
                                   {{"mode", AttrString(mode)},
                                    {"min_gram_length", AttrInt(1)},
                                    {"max_gram_length", AttrInt(2)},
                                    {"max_skip_count", AttrInt(max_skip)},
                                    {"ngram_counts", AttrInts({0, 5})},
                                    {"ngram_indexes", AttrInts(indexes)},
                                    {"pool_int64s", AttrInts(pool)},
                                    {"weights", AttrFloats(weights)}},
                                   9);
    Result<std::vector<Tensor>> out =
        RunNode(AllCpuKernels(), node, {Tensor::FromVector<int64_t>({rows, columns}, x)});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    const Tensor& y = (*out)[0];
    ASSERT_EQ(y.shape(), (Shape{rows, static_cast<int64_t>(grams.size())}));
    for (int64_t r = 0; r < rows; ++r) {
      const std::vector<int64_t> row(x.begin() + r * columns, x.begin() + (r + 1) * columns);
      for (size_t i = 0; i < grams.size(); ++i) {
        const int64_t count = CountOccurrences(row, grams[i], max_skip);
        const int64_t column = indexes[i];
        const float w = weights[static_cast<size_t>(column)];
        const float expected = mode == "TF"    ? static_cast<float>(count)
                               : mode == "IDF" ? (count > 0 ? w : 0.0f)
                                               : w * static_cast<float>(count);
        EXPECT_FLOAT_EQ(y.data_as<float>()[r * y.dim(1) + column], expected)
            << mode << " row " << r << " n-gram " << i;
      }
    }
  }
}

TEST(TfIdfVectorizerTest, StringPoolsAndBadAttributesNameTheNode) {
  std::map<std::string, ir::Attribute> attributes = {
      {"mode", AttrString("TF")},       {"min_gram_length", AttrInt(1)},
      {"max_gram_length", AttrInt(1)},  {"max_skip_count", AttrInt(0)},
      {"ngram_counts", AttrInts({0})},  {"ngram_indexes", AttrInts({0, 1})},
      {"pool_int64s", AttrInts({5, 6})}};
  const Tensor x = Tensor::FromVector<int64_t>({3}, {5, 6, 5});
  Result<std::vector<Tensor>> ok =
      RunNode(AllCpuKernels(), MakeNode("TfIdfVectorizer", {"x"}, {"y"}, attributes, 9), {x});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].data_as<float>()[0], 2.0f);

  auto bad_mode = attributes;
  bad_mode["mode"] = AttrString("BM25");
  Result<std::vector<Tensor>> mode =
      RunNode(AllCpuKernels(), MakeNode("TfIdfVectorizer", {"x"}, {"y"}, bad_mode, 9), {x});
  ASSERT_FALSE(mode.ok());
  EXPECT_NE(mode.status().message().find("BM25"), std::string::npos);

  auto strings = attributes;
  strings.erase("pool_int64s");
  strings["pool_strings"] = AttrString("a");
  Result<std::vector<Tensor>> string_pool =
      RunNode(AllCpuKernels(), MakeNode("TfIdfVectorizer", {"x"}, {"y"}, strings, 9), {x});
  ASSERT_FALSE(string_pool.ok());
  EXPECT_NE(string_pool.status().message().find("pool_strings"), std::string::npos);

  auto short_indexes = attributes;
  short_indexes["ngram_indexes"] = AttrInts({0});
  EXPECT_FALSE(
      RunNode(AllCpuKernels(), MakeNode("TfIdfVectorizer", {"x"}, {"y"}, short_indexes, 9), {x})
          .ok());
}

}  // namespace
}  // namespace unihal::cpu
