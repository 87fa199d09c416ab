// Session::RunAsyncBatch: many runs handed to the scheduler in one SubmitBatch.
#include <chrono>

#include "api/session_replicas.h"
#include "sched/scheduler.h"
#include "unihal/session.h"

namespace unihal {

Result<std::vector<TaskHandle>> Session::RunAsyncBatch(
    std::vector<std::map<std::string, Tensor>> inputs, const RunOptions& options) const {
  for (size_t i = 0; i < inputs.size(); ++i) {
    UH_RETURN_IF_ERROR(CheckInputs(inputs[i]).WithContext("run " + std::to_string(i)));
  }
  std::vector<TaskHandle> handles;
  if (batcher_) {  // dynamic batching merges requests itself
    for (auto& request : inputs) {
      UH_ASSIGN_OR_RETURN(TaskHandle task, RunAsync(std::move(request), options));
      handles.push_back(std::move(task));
    }
    return handles;
  }
  if (inputs.empty()) return handles;
  std::vector<int> candidates, failover;
  UH_RETURN_IF_ERROR(replicas_->Route(*runtime_, options, candidates, failover));
  // One memory charge for all: the runs share the model, so their shapes (and bytes) are the
  // largest request's at most.
  int64_t bytes = 0;
  for (const auto& request : inputs) {
    int64_t run = replicas_->WorkingBytes(request);
    for (const auto& [name, tensor] : request) run += static_cast<int64_t>(tensor.nbytes());
    bytes = std::max(bytes, run);
  }
  sched::SubmitBatchRequest batch;
  batch.options = options;
  batch.runner = replicas_;
  batch.inputs = std::move(inputs);
  batch.candidates = candidates;
  batch.failover = failover;
  batch.memory_bytes = bytes;
  const auto submitted = std::chrono::steady_clock::now();
  UH_ASSIGN_OR_RETURN(handles, runtime_->scheduler().SubmitBatch(std::move(batch)));
  for (const TaskHandle& task : handles) RecordWhenDone(task, options, submitted);
  return handles;
}

}  // namespace unihal
