#include "sched/priority_queue.h"

#include <limits>

namespace unihal::sched {

void PriorityQueue::Push(std::shared_ptr<TaskRecord> task) {
  const int level = task->level;
  const int64_t key = task->key_ns;
  levels_[static_cast<size_t>(level)].push_back({key, std::move(task)});
  ++size_;
  mask_ |= 1u << level;
}

int PriorityQueue::BestLevel(int below_level) const {
  int best = -1;
  int64_t best_key = 0;
  for (uint32_t m = mask_ & ((1u << below_level) - 1); m != 0; m &= m - 1) {
    const int level = __builtin_ctz(m);
    const int64_t key = levels_[static_cast<size_t>(level)].front().key_ns;
    if (best < 0 || key < best_key) {
      best = level;
      best_key = key;
    }
  }
  return best;
}

std::shared_ptr<TaskRecord> PriorityQueue::PopLevel(int level) {
  auto& fifo = levels_[static_cast<size_t>(level)];
  std::shared_ptr<TaskRecord> task = std::move(fifo.front().task);
  fifo.pop_front();
  --size_;
  if (fifo.empty()) mask_ &= ~(1u << level);
  return task;
}

std::shared_ptr<TaskRecord> PriorityQueue::PopBest(int below_level, int64_t key_limit) {
  while (true) {
    const int best = BestLevel(below_level);
    if (best < 0 || levels_[static_cast<size_t>(best)].front().key_ns >= key_limit) return nullptr;
    std::shared_ptr<TaskRecord> task = PopLevel(best);
    // Ended while queued (cancelled, timed out): whoever ended it uncharged it.
    if (task->state.load(std::memory_order_acquire) == TaskState::kQueued) return task;
  }
}

std::shared_ptr<TaskRecord> PriorityQueue::Pop() {
  return PopBest(kNumPriorities, std::numeric_limits<int64_t>::max());
}

std::shared_ptr<TaskRecord> PriorityQueue::PopHigherThan(int level, int64_t key_ns) {
  return PopBest(level, key_ns);
}

std::deque<std::shared_ptr<TaskRecord>> PriorityQueue::TakeAll() {
  std::deque<std::shared_ptr<TaskRecord>> all;
  for (auto& fifo : levels_) {
    for (auto& entry : fifo) all.push_back(std::move(entry.task));
    fifo.clear();
  }
  size_ = 0;
  mask_ = 0;
  return all;
}

}  // namespace unihal::sched
