// Dynamic batching for one Session (SPEC R5.5): requests that arrive within max_delay of the
// first waiting one are concatenated along their first (batch) dim, up to max_batch requests,
// run as one task, and the outputs split back, so each request gets exactly the rows an
// unbatched run would give. Requests batch together only when their inner dims, tenant and
// device hints agree; the batch runs at the highest priority and earliest deadline among them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sched/task.h"
#include "unihal/run_options.h"
#include "unihal/session.h"
#include "unihal/task.h"

namespace unihal {

class SessionBatcher {
 public:
  // Submits one (batched) run to the scheduler and calls `done` when it ends.
  using SubmitFn = std::function<Result<TaskHandle>(std::map<std::string, Tensor> inputs,
                                                    const RunOptions& options)>;
  SessionBatcher(BatchingOptions options, SubmitFn submit);
  ~SessionBatcher();  // flushes what waits, then stops its timer

  Result<TaskHandle> Add(std::map<std::string, Tensor> inputs, const RunOptions& options);

 private:
  struct Pending {
    std::shared_ptr<sched::TaskRecord> record;
    std::map<std::string, Tensor> inputs;
    RunOptions options;
  };
  static std::string GroupKey(const std::map<std::string, Tensor>& inputs,
                              const RunOptions& options);
  void FlushLocked(std::unique_lock<std::mutex>& lock);
  void Run(std::vector<Pending> batch);
  void TimerLoop();

  const BatchingOptions options_;
  const SubmitFn submit_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Pending> pending_;
  std::string pending_key_;
  std::chrono::steady_clock::time_point first_at_;
  bool stop_ = false;
  std::thread timer_;
};

// Concatenates `parts` along dim 0 (same dtype and inner dims).
Result<Tensor> ConcatRows(const std::vector<const Tensor*>& parts);
// Rows [begin, begin + count) of `t` along dim 0, copied.
Result<Tensor> SliceRows(const Tensor& t, int64_t begin, int64_t count);

}  // namespace unihal
