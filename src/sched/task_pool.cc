#include "sched/task_pool.h"

#include <mutex>
#include <vector>

namespace unihal::sched {
namespace {

constexpr size_t kChunk = 128;             // blocks moved between a thread and the depot at once
constexpr size_t kThreadMax = 4 * kChunk;  // a thread keeps at most this many
constexpr size_t kDepotMax = 16384;        // 16 MB of idle blocks at most, the rest freed

void* NewBlock() { return ::operator new (kTaskBlockBytes, std::align_val_t{kTaskBlockAlign}); }
void DeleteBlock(void* block) { ::operator delete (block, std::align_val_t{kTaskBlockAlign}); }

struct Depot {
  std::mutex mu;
  std::vector<void*> blocks;
};

// Never destroyed: threads may still free blocks while the process exits.
Depot& SharedDepot() {
  static Depot& depot = *new Depot();  // NOLINT: a leaked function-local static
  return depot;
}

struct ThreadCache {
  std::vector<void*> blocks;
  ~ThreadCache() {
    Depot& depot = SharedDepot();
    std::lock_guard<std::mutex> lock(depot.mu);
    for (void* block : blocks) {
      if (depot.blocks.size() < kDepotMax) {
        depot.blocks.push_back(block);
      } else {
        DeleteBlock(block);
      }
    }
  }
};

ThreadCache& Cache() {
  thread_local ThreadCache cache;  // per thread by design: no lock on the common path
  return cache;
}

}  // namespace

void* AllocateTaskBlock() {
  ThreadCache& cache = Cache();
  if (cache.blocks.empty()) {
    Depot& depot = SharedDepot();
    std::lock_guard<std::mutex> lock(depot.mu);
    const size_t n = std::min(kChunk, depot.blocks.size());
    cache.blocks.insert(cache.blocks.end(), depot.blocks.end() - static_cast<ptrdiff_t>(n),
                        depot.blocks.end());
    depot.blocks.resize(depot.blocks.size() - n);
  }
  if (cache.blocks.empty()) return NewBlock();
  void* block = cache.blocks.back();
  cache.blocks.pop_back();
  return block;
}

void FreeTaskBlock(void* block) {
  ThreadCache& cache = Cache();
  cache.blocks.push_back(block);
  if (cache.blocks.size() < kThreadMax) return;
  Depot& depot = SharedDepot();
  std::lock_guard<std::mutex> lock(depot.mu);
  while (cache.blocks.size() > kThreadMax - kChunk) {
    if (depot.blocks.size() < kDepotMax) {
      depot.blocks.push_back(cache.blocks.back());
    } else {
      DeleteBlock(cache.blocks.back());
    }
    cache.blocks.pop_back();
  }
}

}  // namespace unihal::sched
