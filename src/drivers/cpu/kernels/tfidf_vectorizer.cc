// TfIdfVectorizer (ai.onnx opset 9) over integer token ids: counts the n-grams of the pool in
// each row, with skips, and weights the counts (TF, IDF or TFIDF). Follows ONNX's reference
// (onnx/reference/ops/op_tfidf_vectorizer.py). String pools need string tensors, which unihal
// does not have: such nodes are refused at load time.
#include <algorithm>
#include <map>
#include <vector>

#include "drivers/cpu/cpu_kernels.h"
#include "drivers/cpu/kernels/kernel_util.h"

namespace unihal::cpu {
namespace {

enum class Weighting { kTf, kIdf, kTfIdf };

// A trie over token ids: following n tokens from the root reaches an n-gram's node, whose
// `ngram` is its position in the pool (1-based; 0 = only a prefix of longer n-grams).
struct NgramTrie {
  struct TrieNode {
    int64_t ngram = 0;
    std::map<int64_t, size_t> children;
  };
  std::vector<TrieNode> nodes{1};  // nodes[0] is the root

  size_t Child(size_t parent, int64_t token) {
    auto [it, inserted] = nodes[parent].children.emplace(token, nodes.size());
    if (inserted) nodes.emplace_back();
    return it->second;
  }
  // nullopt-like: returns SIZE_MAX when `token` does not continue any pooled n-gram.
  size_t Find(size_t parent, int64_t token) const {
    const auto& children = nodes[parent].children;
    auto it = children.find(token);
    return it == children.end() ? SIZE_MAX : it->second;
  }
};

struct TfIdfConfig {
  Weighting weighting = Weighting::kTf;
  int64_t min_gram = 1, max_gram = 1, max_skip = 0;
  std::vector<int64_t> ngram_indexes;
  std::vector<float> weights;
  int64_t output_size = 0;
  NgramTrie trie;
};

// Inserts the pool's n-grams of the sizes in [min_gram, max_gram]; ids count every pooled
// n-gram, also those of sizes outside the range (as the reference does).
Status BuildTrie(const ir::Node& node, const std::vector<int64_t>& pool,
                 const std::vector<int64_t>& ngram_counts, TfIdfConfig& config) {
  int64_t ngram_id = 1;
  for (size_t i = 0; i < ngram_counts.size(); ++i) {
    const int64_t size = static_cast<int64_t>(i) + 1;
    const int64_t begin = ngram_counts[i];
    const int64_t end =
        i + 1 < ngram_counts.size() ? ngram_counts[i + 1] : static_cast<int64_t>(pool.size());
    if (begin < 0 || end < begin || end > static_cast<int64_t>(pool.size())) {
      return InvalidArgumentError(node.Describe() + ": ngram_counts " + std::to_string(i) +
                                  " gives pool range [" + std::to_string(begin) + ", " +
                                  std::to_string(end) + ") outside pool_int64s of " +
                                  std::to_string(pool.size()) + " items");
    }
    const int64_t count = (end - begin) / size;
    if (size < config.min_gram || size > config.max_gram) {
      ngram_id += count;
      continue;
    }
    for (int64_t g = 0; g < count; ++g, ++ngram_id) {
      size_t at = 0;
      for (int64_t k = 0; k < size; ++k) at = config.trie.Child(at, pool[begin + g * size + k]);
      config.trie.nodes[at].ngram = ngram_id;
    }
  }
  if (ngram_id - 1 > static_cast<int64_t>(config.ngram_indexes.size())) {
    return InvalidArgumentError(node.Describe() + ": the pool has " + std::to_string(ngram_id - 1) +
                                " n-grams but ngram_indexes only " +
                                std::to_string(config.ngram_indexes.size()) + " entries");
  }
  return Status::Ok();
}

Result<Weighting> ParseMode(const ir::Node& node) {
  UH_ASSIGN_OR_RETURN(std::string mode, node.GetString("mode"));
  if (mode == "TF") return Weighting::kTf;
  if (mode == "IDF") return Weighting::kIdf;
  if (mode == "TFIDF") return Weighting::kTfIdf;
  return InvalidArgumentError(node.Describe() + ": mode must be TF, IDF or TFIDF, got '" + mode +
                              "'");
}

Result<TfIdfConfig> ParseConfig(const ir::Node& node) {
  if (node.HasAttribute("pool_strings")) {
    return UnimplementedError(node.Describe() + " (TfIdfVectorizer, opset " +
                              std::to_string(node.opset) +
                              "): pool_strings needs string tensors, which unihal does not "
                              "support; use integer token ids with pool_int64s");
  }
  TfIdfConfig config;
  UH_ASSIGN_OR_RETURN(config.weighting, ParseMode(node));
  UH_ASSIGN_OR_RETURN(config.min_gram, node.GetInt("min_gram_length"));
  UH_ASSIGN_OR_RETURN(config.max_gram, node.GetInt("max_gram_length"));
  UH_ASSIGN_OR_RETURN(config.max_skip, node.GetInt("max_skip_count"));
  UH_ASSIGN_OR_RETURN(config.ngram_indexes, node.GetInts("ngram_indexes"));
  UH_ASSIGN_OR_RETURN(config.weights, node.GetFloats("weights", std::vector<float>{}));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> ngram_counts, node.GetInts("ngram_counts"));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> pool, node.GetInts("pool_int64s"));
  if (config.min_gram < 1 || config.max_gram < config.min_gram || config.max_skip < 0) {
    return InvalidArgumentError(node.Describe() +
                                ": need 1 <= min_gram_length <= max_gram_length and "
                                "max_skip_count >= 0");
  }
  if (config.ngram_indexes.empty() ||
      *std::min_element(config.ngram_indexes.begin(), config.ngram_indexes.end()) < 0) {
    return InvalidArgumentError(node.Describe() + ": ngram_indexes must be non-empty and >= 0");
  }
  config.output_size =
      *std::max_element(config.ngram_indexes.begin(), config.ngram_indexes.end()) + 1;
  if (!config.weights.empty() && static_cast<int64_t>(config.weights.size()) < config.output_size) {
    return InvalidArgumentError(node.Describe() + ": weights has " +
                                std::to_string(config.weights.size()) + " entries, need " +
                                std::to_string(config.output_size));
  }
  UH_RETURN_IF_ERROR(BuildTrie(node, pool, ngram_counts, config));
  return config;
}

// Adds one row's n-gram counts to `counts` (output_size entries).
void CountRow(const TfIdfConfig& config, const std::vector<int64_t>& row,
              std::vector<int64_t>& counts) {
  const int64_t length = static_cast<int64_t>(row.size());
  int64_t start_size = config.min_gram;
  for (int64_t skip = 1; skip <= config.max_skip + 1; ++skip) {
    for (int64_t start = 0; start + skip * (start_size - 1) < length; ++start) {
      size_t at = 0;
      for (int64_t size = 1, item = start; size <= config.max_gram && item < length;
           ++size, item += skip) {
        at = config.trie.Find(at, row[static_cast<size_t>(item)]);
        if (at == SIZE_MAX) break;
        const int64_t id = config.trie.nodes[at].ngram;
        if (size >= start_size && id != 0) ++counts[config.ngram_indexes[id - 1]];
      }
    }
    // Unigrams do not depend on the skip: count them once.
    if (start_size == 1 && ++start_size > config.max_gram) break;
  }
}

float Weighted(const TfIdfConfig& config, int64_t count, int64_t column) {
  const bool weighted = !config.weights.empty();
  const float weight = weighted ? config.weights[static_cast<size_t>(column)] : 1.0f;
  switch (config.weighting) {
    case Weighting::kTf:
      return static_cast<float>(count);
    case Weighting::kIdf:
      return count > 0 ? weight : 0.0f;
    case Weighting::kTfIdf:
      return weight * static_cast<float>(count);
  }
  return 0.0f;
}

Status ComputeTfIdf(const TfIdfConfig& config, hal::KernelContext& context) {
  const ir::Node& node = context.node();
  UH_ASSIGN_OR_RETURN(const Tensor* x, NeedInput(context, 0));
  UH_RETURN_IF_ERROR(CheckDType(node, *x, "X", {DType::kI32, DType::kI64}));
  if (x->rank() > 2 || (x->rank() == 2 && x->dim(0) < 1)) {
    return InvalidArgumentError(node.Describe() + ": X must be [C] or [B, C] with B > 0, got " +
                                x->Describe());
  }
  const int64_t rows = x->rank() == 2 ? x->dim(0) : 1;
  const int64_t columns = rows == 0 ? 0 : x->num_elements() / rows;
  const Shape out_shape =
      x->rank() == 2 ? Shape{rows, config.output_size} : Shape{config.output_size};
  UH_ASSIGN_OR_RETURN(Tensor * y, context.AllocateOutput(0, DType::kF32, out_shape));
  UH_ASSIGN_OR_RETURN(std::vector<int64_t> tokens, x->ToInt64Vector());
  float* out = y->data_as<float>();
  std::vector<int64_t> counts(static_cast<size_t>(config.output_size));
  for (int64_t r = 0; r < rows; ++r) {
    std::fill(counts.begin(), counts.end(), 0);
    const auto row_begin = tokens.begin() + r * columns;
    CountRow(config, std::vector<int64_t>(row_begin, row_begin + columns), counts);
    for (int64_t c = 0; c < config.output_size; ++c) {
      out[r * config.output_size + c] = Weighted(config, counts[static_cast<size_t>(c)], c);
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<hal::Kernel>> CreateTfIdf(const hal::KernelCreateInfo& info) {
  UH_ASSIGN_OR_RETURN(TfIdfConfig config, ParseConfig(info.node));
  return MakeFunctionKernel([config = std::move(config)](hal::KernelContext& context) {
    return ComputeTfIdf(config, context);
  });
}

}  // namespace

void RegisterTfIdfVectorizerKernel(hal::KernelRegistry& registry) {
  registry.Register(ReferenceKernelDef("TfIdfVectorizer", 9, INT_MAX, CreateTfIdf));
}

}  // namespace unihal::cpu
