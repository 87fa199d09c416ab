#include "sched/priority_queue.h"

namespace unihal::sched {

void PriorityQueue::Push(std::shared_ptr<TaskRecord> task) {
  const int level = task->level;
  levels_[static_cast<size_t>(level)].push_back(std::move(task));
  ++size_;
  mask_ |= 1u << level;
}

void PriorityQueue::DropEnded(int level) {
  auto& fifo = levels_[static_cast<size_t>(level)];
  while (!fifo.empty() &&
         fifo.front()->state.load(std::memory_order_acquire) != TaskState::kQueued) {
    fifo.pop_front();
    --size_;
  }
  if (fifo.empty()) mask_ &= ~(1u << level);
}

int PriorityQueue::BestLevel(int below_level) const {
  int best = -1;
  int64_t best_key = 0;
  for (int level = 0; level < below_level; ++level) {
    const auto& fifo = levels_[static_cast<size_t>(level)];
    if (fifo.empty()) continue;
    const int64_t key = fifo.front()->key_ns;
    if (best < 0 || key < best_key) {
      best = level;
      best_key = key;
    }
  }
  return best;
}

std::shared_ptr<TaskRecord> PriorityQueue::PopLevel(int level) {
  auto& fifo = levels_[static_cast<size_t>(level)];
  std::shared_ptr<TaskRecord> task = std::move(fifo.front());
  fifo.pop_front();
  --size_;
  if (fifo.empty()) mask_ &= ~(1u << level);
  return task;
}

std::shared_ptr<TaskRecord> PriorityQueue::Pop() {
  for (int level = 0; level < kNumPriorities; ++level) DropEnded(level);
  const int best = BestLevel(kNumPriorities);
  return best < 0 ? nullptr : PopLevel(best);
}

std::shared_ptr<TaskRecord> PriorityQueue::PopHigherThan(int level, int64_t key_ns) {
  for (int l = 0; l < level; ++l) DropEnded(l);
  const int best = BestLevel(level);
  if (best < 0 || levels_[static_cast<size_t>(best)].front()->key_ns >= key_ns) return nullptr;
  return PopLevel(best);
}

std::deque<std::shared_ptr<TaskRecord>> PriorityQueue::TakeAll() {
  std::deque<std::shared_ptr<TaskRecord>> all;
  for (auto& fifo : levels_) {
    for (auto& task : fifo) all.push_back(std::move(task));
    fifo.clear();
  }
  size_ = 0;
  mask_ = 0;
  return all;
}

}  // namespace unihal::sched
