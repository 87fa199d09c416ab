// R3.4: the same model loaded twice shares its weights. The cache holds each optimized model
// weakly: sessions hold it, and it is unloaded when the last of them drops it. A session gets
// its own copy of the graph (nodes and names), whose weight tensors share the cached buffers.
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "unihal/ir/graph.h"

namespace unihal {

class ModelCache {
 public:
  // The model cached under `key`, while a session still holds it; else null.
  std::shared_ptr<const ir::Model> Find(const std::string& key);
  // Caches `model` under `key` and returns it (or the entry another thread cached first).
  std::shared_ptr<const ir::Model> Insert(const std::string& key, ir::Model model);
  // Models some session still holds.
  size_t live_models();

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<const ir::Model>> models_;
};

// Keys: the bytes' hash and size, or a file's absolute path, size and modification time; plus
// what changes the optimized model.
std::string ModelCacheKeyForBytes(std::string_view bytes, bool optimize);
std::string ModelCacheKeyForFile(const std::string& path, bool optimize);

}  // namespace unihal
