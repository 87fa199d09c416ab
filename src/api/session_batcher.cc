#include "api/session_batcher.h"

#include <algorithm>
#include <cstring>

namespace unihal {
namespace {

int64_t RowBytes(const Tensor& t) {
  return t.dim(0) == 0 ? 0 : static_cast<int64_t>(t.nbytes()) / t.dim(0);
}

RunOptions MergeOptions(const std::vector<RunOptions>& all) {
  RunOptions merged = all.front();
  for (const RunOptions& o : all) {
    merged.priority = std::min(merged.priority, o.priority);
    if (o.deadline && (!merged.deadline || *o.deadline < *merged.deadline)) {
      merged.deadline = o.deadline;
    }
    merged.fallback_allowed = merged.fallback_allowed && o.fallback_allowed;
  }
  return merged;
}

}  // namespace

Result<Tensor> ConcatRows(const std::vector<const Tensor*>& parts) {
  const Tensor& first = *parts.front();
  Shape shape = first.shape();
  int64_t rows = 0;
  for (const Tensor* p : parts) {
    if (p->dtype() != first.dtype() || p->rank() != first.rank() || p->rank() == 0 ||
        !std::equal(p->shape().begin() + 1, p->shape().end(), first.shape().begin() + 1)) {
      return InvalidArgumentError("batching: " + p->Describe() + " does not stack with " +
                                  first.Describe());
    }
    rows += p->dim(0);
  }
  shape[0] = rows;
  UH_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(first.dtype(), shape));
  auto* dst = static_cast<uint8_t*>(out.data());
  for (const Tensor* p : parts) {
    std::memcpy(dst, p->data(), p->nbytes());
    dst += p->nbytes();
  }
  return out;
}

Result<Tensor> SliceRows(const Tensor& t, int64_t begin, int64_t count) {
  if (t.rank() == 0 || begin + count > t.dim(0)) {
    return InvalidArgumentError("batching: output " + t.Describe() +
                                " has no batch dim to split back into requests");
  }
  Shape shape = t.shape();
  shape[0] = count;
  UH_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(t.dtype(), shape));
  const int64_t row = RowBytes(t);
  std::memcpy(out.data(), static_cast<const uint8_t*>(t.data()) + begin * row,
              static_cast<size_t>(count * row));
  return out;
}

SessionBatcher::SessionBatcher(BatchingOptions options, SubmitFn submit)
    : options_(options), submit_(std::move(submit)), timer_([this] { TimerLoop(); }) {}

SessionBatcher::~SessionBatcher() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    FlushLocked(lock);
    stop_ = true;
  }
  wake_.notify_all();
  timer_.join();
}

std::string SessionBatcher::GroupKey(const std::map<std::string, Tensor>& inputs,
                                     const RunOptions& options) {
  // Appends one piece at a time (GCC 12 warns falsely on chained std::string operator+).
  std::string key;
  for (const std::string* part : {&options.tenant, &options.device_kind, &options.pinned_device}) {
    key.append(*part).push_back('|');
  }
  for (const auto& [name, t] : inputs) {
    key.append(name).push_back(':');
    key.append(std::to_string(static_cast<int>(t.dtype())));
    for (size_t d = 1; d < t.shape().size(); ++d) {
      key.push_back(',');
      key.append(std::to_string(t.shape()[d]));
    }
    key.push_back('|');
  }
  return key;
}

Result<TaskHandle> SessionBatcher::Add(std::map<std::string, Tensor> inputs,
                                       const RunOptions& options) {
  for (const auto& [name, t] : inputs) {
    if (t.rank() == 0) return InvalidArgumentError("batching: input '" + name + "' is a scalar");
  }
  if (options.deadline && *options.deadline <= std::chrono::steady_clock::now()) {
    return InvalidArgumentError("the deadline is in the past; give a deadline after now");
  }
  auto record = std::make_shared<sched::TaskRecord>();
  record->options = options;
  std::string key = GroupKey(inputs, options);
  std::unique_lock<std::mutex> lock(mu_);
  if (!pending_.empty() && key != pending_key_) FlushLocked(lock);
  if (pending_.empty()) {
    pending_key_ = key;
    first_at_ = std::chrono::steady_clock::now();
    wake_.notify_all();
  }
  pending_.push_back({record, std::move(inputs), options});
  if (static_cast<int>(pending_.size()) >= options_.max_batch) FlushLocked(lock);
  return TaskHandle(record);
}

void SessionBatcher::FlushLocked(std::unique_lock<std::mutex>& lock) {
  if (pending_.empty()) return;
  std::vector<Pending> batch;
  batch.swap(pending_);
  lock.unlock();
  Run(std::move(batch));
  lock.lock();
}

void SessionBatcher::Run(std::vector<Pending> batch) {
  // Requests cancelled while they waited stay out.
  std::erase_if(batch, [](const Pending& p) { return p.record->done(); });
  if (batch.empty()) return;
  std::map<std::string, Tensor> inputs;
  std::vector<RunOptions> options;
  for (const Pending& p : batch) options.push_back(p.options);
  Status status = Status::Ok();
  for (const auto& [name, first] : batch.front().inputs) {
    std::vector<const Tensor*> parts;
    for (const Pending& p : batch) parts.push_back(&p.inputs.at(name));
    Result<Tensor> stacked = ConcatRows(parts);
    if (!stacked.ok()) status = stacked.status();
    if (stacked.ok()) inputs[name] = *std::move(stacked);
  }
  Result<TaskHandle> task =
      status.ok() ? submit_(std::move(inputs), MergeOptions(options)) : Result<TaskHandle>(status);
  auto members = std::make_shared<std::vector<Pending>>(std::move(batch));
  auto finish = [members](TaskState state, const Status& s, const std::vector<Tensor>& outs,
                          const TaskHandle* batch_task) {
    int64_t row = 0;
    for (Pending& p : *members) {
      const int64_t rows = p.inputs.begin()->second.dim(0);
      std::vector<Tensor> mine;
      Status split = s;
      for (size_t i = 0; split.ok() && i < outs.size(); ++i) {
        Result<Tensor> part = SliceRows(outs[i], row, rows);
        if (part.ok()) mine.push_back(*std::move(part));
        if (!part.ok()) split = part.status();
      }
      row += rows;
      const TaskState final_state = s.ok() && !split.ok() ? TaskState::kFailed : state;
      if (batch_task) {
        p.record->device_name = batch_task->device_id();
        p.record->attempts.store(batch_task->attempts());
      }
      p.record->Finish(TaskState::kQueued, final_state, split, std::move(mine));
    }
  };
  if (!task.ok()) {
    finish(TaskState::kFailed, task.status(), {}, nullptr);
    return;
  }
  // The callback holds the handle until it ran (then the task drops its callbacks).
  task->OnComplete(
      [finish, handle = *task](TaskState state, const Status& s, const std::vector<Tensor>& outs) {
        finish(state, s, outs, &handle);
      });
}

void SessionBatcher::TimerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (pending_.empty()) {
      wake_.wait(lock);
      continue;
    }
    const auto due = first_at_ + options_.max_delay;
    if (std::chrono::steady_clock::now() >= due) {
      FlushLocked(lock);
    } else {
      wake_.wait_until(lock, due);
    }
  }
}

}  // namespace unihal
