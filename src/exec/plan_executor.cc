#include "exec/plan_executor.h"

#include "exec/graph_executor.h"
#include "unihal/hal/preemption.h"

namespace unihal::exec {
namespace {

// cpu and the simulated NPU compute on host memory; a device with memory of its own (a GPU)
// gets its inputs copied in through a stream.
bool UsesHostMemory(const hal::DeviceInfo& info) {
  return info.kind == hal::DeviceKind::kCpu || info.is_simulated;
}

// One stream per device for one run, and the event after each value's producer.
struct RunStreams {
  std::map<std::string, std::unique_ptr<hal::Stream>> by_device;
  std::map<std::string, std::shared_ptr<hal::Event>> ready;     // value -> event after producer
  std::map<std::string, std::string> produced_on;               // value -> device id
  std::map<std::pair<std::string, std::string>, Tensor> moved;  // (value, device) -> bound

  Result<hal::Stream*> For(hal::Device& device) {
    auto& stream = by_device[device.info().id];
    if (!stream) {
      UH_ASSIGN_OR_RETURN(stream, device.CreateStream());
    }
    return stream.get();
  }
};

}  // namespace

Result<std::unique_ptr<PlanExecutor>> PlanExecutor::Create(const planner::Plan& plan,
                                                           const ir::Graph& graph) {
  std::unique_ptr<PlanExecutor> executor(new PlanExecutor());  // private constructor
  for (size_t i = 0; i < plan.segments.size(); ++i) {
    const planner::Segment& segment = plan.segments[i];
    const std::string where =
        "compiling segment " + std::to_string(i) + " on " + segment.device->info().id;
    UH_RETURN_IF_ERROR(CheckDeviceSupportsGraph(*segment.device, segment.graph).WithContext(where));
    Result<std::shared_ptr<hal::Executable>> exe =
        segment.device->Compile(segment.graph, hal::CompileOptions{});
    if (!exe.ok()) return std::move(exe).status().WithContext(where);
    executor->segments_.push_back(
        {segment.device, *std::move(exe), UsesHostMemory(segment.device->info())});
  }
  for (const ir::ValueInfo& out : graph.outputs) {
    executor->output_names_.push_back(out.name);
    if (const Tensor* weight = graph.FindInitializer(out.name)) {
      executor->constants_.emplace(out.name, *weight);
    }
  }
  return executor;
}

Result<Tensor> PlanExecutor::BindInput(const Tensor& value, hal::Stream* producer,
                                       const CompiledSegment& segment, hal::Stream& stream) const {
  if (value.is_host() && segment.host_memory) return value;  // shared memory: nothing to move
  Tensor host = value;
  if (!value.is_host()) {  // staged through the host: no peer-to-peer copies yet
    if (!producer) return InvalidArgumentError("an input tensor is not in host memory");
    UH_ASSIGN_OR_RETURN(host, Tensor::Allocate(value.dtype(), value.shape()));
    UH_RETURN_IF_ERROR(producer->Read(*value.buffer(), value.offset(), host.data(), host.nbytes()));
    UH_RETURN_IF_ERROR(producer->Synchronize());
    if (segment.host_memory) return host;
  }
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Buffer> buffer, segment.device->Allocate(host.nbytes()));
  UH_RETURN_IF_ERROR(stream.Write(*buffer, 0, host.data(), host.nbytes()));
  return Tensor(host.dtype(), host.shape(), std::move(buffer));
}

Result<std::vector<Tensor>> PlanExecutor::Run(const std::map<std::string, Tensor>& inputs) const {
  std::map<std::string, Tensor> values = inputs;  // tensors share their buffers: no bytes move
  RunStreams streams;
  for (size_t i = 0; i < segments_.size(); ++i) {
    // R5.4: a scheduler worker runs waiting higher-priority work here, and stops a cancelled
    // or expired run (no hook outside the scheduler: nothing happens).
    if (i > 0) UH_RETURN_IF_ERROR(hal::PreemptionPoint());
    const CompiledSegment& segment = segments_[i];
    const std::string& device_id = segment.device->info().id;
    UH_ASSIGN_OR_RETURN(hal::Stream * stream, streams.For(*segment.device));
    std::vector<Tensor> bound;
    bound.reserve(segment.executable->inputs().size());
    for (const ir::ValueInfo& info : segment.executable->inputs()) {
      auto it = values.find(info.name);
      if (it == values.end()) return InvalidArgumentError("input '" + info.name + "' is missing");
      if (auto ready = streams.ready.find(info.name);
          ready != streams.ready.end() && streams.produced_on[info.name] != device_id) {
        UH_RETURN_IF_ERROR(stream->Wait(*ready->second));
      }
      // One copy per value and device, however many of its segments read it (as planned).
      Tensor& moved = streams.moved[{info.name, device_id}];
      if (!moved.defined()) {
        auto from = streams.produced_on.find(info.name);
        hal::Stream* producer =
            from == streams.produced_on.end() ? nullptr : streams.by_device[from->second].get();
        UH_ASSIGN_OR_RETURN(moved, BindInput(it->second, producer, segment, *stream));
      }
      bound.push_back(moved);
    }
    std::vector<Tensor> outputs;
    Status launched = stream->Launch(*segment.executable, bound, outputs);
    if (!launched.ok()) {
      return std::move(launched).WithContext("segment " + std::to_string(i) + " on " + device_id);
    }
    UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Event> done, stream->Record());
    const auto& names = segment.executable->outputs();
    for (size_t o = 0; o < names.size() && o < outputs.size(); ++o) {
      values[names[o].name] = std::move(outputs[o]);
      streams.ready[names[o].name] = done;
      streams.produced_on[names[o].name] = device_id;
    }
  }
  for (auto& [device_id, stream] : streams.by_device) {
    UH_RETURN_IF_ERROR(stream->Synchronize().WithContext("running on " + device_id));
  }
  std::vector<Tensor> results;
  results.reserve(output_names_.size());
  for (const std::string& name : output_names_) {
    auto it = values.find(name);
    if (it != values.end()) {
      results.push_back(it->second);
    } else if (auto weight = constants_.find(name); weight != constants_.end()) {
      UH_ASSIGN_OR_RETURN(Tensor copy, weight->second.Clone());  // callers may write outputs
      results.push_back(std::move(copy));
    } else {
      return InternalError("the plan produced no value for output '" + name + "'");
    }
  }
  return results;
}

std::optional<double> PlanExecutor::ModeledLatencySeconds() const {
  double total = 0;
  for (const CompiledSegment& segment : segments_) {
    std::optional<double> s = segment.executable->ModeledLatencySeconds();
    if (!s) return std::nullopt;
    total += *s;
  }
  return total;
}

void PlanExecutor::EnableProfiling() const {
  for (const CompiledSegment& segment : segments_) segment.executable->EnableProfiling();
}

std::vector<hal::NodeTime> PlanExecutor::NodeTimes() const {
  std::vector<hal::NodeTime> all;
  for (const CompiledSegment& segment : segments_) {
    for (hal::NodeTime& time : segment.executable->NodeTimes()) {
      time.device = segment.device->info().id;
      all.push_back(std::move(time));
    }
  }
  return all;
}

}  // namespace unihal::exec
