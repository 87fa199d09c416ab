#include "api/model_cache.h"

#include <filesystem>
#include <functional>

namespace unihal {

std::shared_ptr<const ir::Model> ModelCache::Find(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(key);
  if (it == models_.end()) return nullptr;
  std::shared_ptr<const ir::Model> model = it->second.lock();
  if (!model) models_.erase(it);
  return model;
}

std::shared_ptr<const ir::Model> ModelCache::Insert(const std::string& key, ir::Model model) {
  std::lock_guard<std::mutex> lock(mu_);
  std::weak_ptr<const ir::Model>& slot = models_[key];
  if (std::shared_ptr<const ir::Model> existing = slot.lock()) return existing;
  auto shared = std::make_shared<const ir::Model>(std::move(model));
  slot = shared;
  return shared;
}

size_t ModelCache::live_models() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t live = 0;
  for (auto it = models_.begin(); it != models_.end();) {
    if (it->second.expired()) {
      it = models_.erase(it);
    } else {
      ++live;
      ++it;
    }
  }
  return live;
}

std::string ModelCacheKeyForBytes(std::string_view bytes, bool optimize) {
  return "bytes:" + std::to_string(std::hash<std::string_view>{}(bytes)) + ":" +
         std::to_string(bytes.size()) + (optimize ? ":opt" : ":raw");
}

std::string ModelCacheKeyForFile(const std::string& path, bool optimize) {
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return {};  // not cached; loading reports the real error
  const auto mtime = std::filesystem::last_write_time(path, ec).time_since_epoch().count();
  if (ec) return {};
  return "file:" + absolute.string() + ":" + std::to_string(size) + ":" + std::to_string(mtime) +
         (optimize ? ":opt" : ":raw");
}

}  // namespace unihal
