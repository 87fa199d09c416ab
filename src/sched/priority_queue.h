// Five FIFO levels with aging (SPEC R5.1). Each task gets an aging key,
//   key = submit time + level * aging_step,
// and the queue serves the smallest key among the five level heads. So strict priority holds
// between tasks submitted within aging_step of each other, and a task at level L is never
// overtaken by work submitted more than L * aging_step after it: the bound on how long lower
// work can wait behind a stream of higher work. Not thread-safe: a lane guards it with its lock.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <memory>

#include "sched/task.h"
#include "unihal/run_options.h"

namespace unihal::sched {

class PriorityQueue {
 public:
  void Push(std::shared_ptr<TaskRecord> task);
  // The queued task with the smallest key, or null. Drops entries of tasks that ended while
  // queued (cancelled, timed out).
  std::shared_ptr<TaskRecord> Pop();
  // Pop(), but only a task of a strictly higher priority than `level` whose key is smaller
  // than `key_ns` (preemption at an op boundary); null otherwise.
  std::shared_ptr<TaskRecord> PopHigherThan(int level, int64_t key_ns);
  // Removes every entry, live or not, for shutdown.
  std::deque<std::shared_ptr<TaskRecord>> TakeAll();

  bool empty() const { return size_ == 0; }
  int64_t size() const { return size_; }  // entries, including ended ones not yet dropped
  // Bit L set when level L has entries.
  uint32_t nonempty_mask() const { return mask_; }

 private:
  // The key sits next to the task so choosing a level reads no task record; an ended task is
  // dropped when it reaches a level's head and is popped.
  struct Entry {
    int64_t key_ns;
    std::shared_ptr<TaskRecord> task;
  };
  int BestLevel(int below_level) const;  // -1 when none
  std::shared_ptr<TaskRecord> PopLevel(int level);
  // Pops the best live task of the levels below `below_level` with a key under `key_limit`.
  std::shared_ptr<TaskRecord> PopBest(int below_level, int64_t key_limit);

  std::array<std::deque<Entry>, kNumPriorities> levels_;
  int64_t size_ = 0;
  uint32_t mask_ = 0;
};

}  // namespace unihal::sched
