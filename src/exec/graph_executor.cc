#include "exec/graph_executor.h"

namespace unihal::exec {

Status CheckDeviceSupportsGraph(const hal::Device& device, const ir::Graph& graph) {
  std::string problems;
  int count = 0;
  for (const ir::Node& node : graph.nodes) {
    hal::SupportResult r = device.Supports(node, graph);
    if (r.supported) continue;
    if (++count <= 10) {
      problems +=
          "\n  " + node.Describe() + ", opset " + std::to_string(node.opset) + ": " + r.reason;
    }
  }
  if (count == 0) return Status::Ok();
  if (count > 10) problems += "\n  ... and " + std::to_string(count - 10) + " more";
  return UnimplementedError(device.info().id + " cannot run " + std::to_string(count) +
                            " node(s) of this model:" + problems +
                            "\nchoose another device with --device, or file an issue with the "
                            "op and opset");
}

Result<std::unique_ptr<GraphExecutor>> GraphExecutor::Create(std::shared_ptr<hal::Device> device,
                                                             const ir::Graph& graph) {
  UH_RETURN_IF_ERROR(CheckDeviceSupportsGraph(*device, graph));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<hal::Executable> exe,
                      device->Compile(graph, hal::CompileOptions{}));
  return std::make_unique<GraphExecutor>(std::move(device), std::move(exe));
}

namespace {

// `inputs` in the executable's binding order (tensors or values).
template <typename V>
Result<std::vector<V>> InBindingOrder(const hal::Executable& executable,
                                      const std::map<std::string, V>& inputs) {
  std::vector<V> ordered;
  ordered.reserve(executable.inputs().size());
  for (const ir::ValueInfo& info : executable.inputs()) {
    auto it = inputs.find(info.name);
    if (it == inputs.end()) return InvalidArgumentError("input '" + info.name + "' is missing");
    ordered.push_back(it->second);
  }
  return ordered;
}

}  // namespace

Result<std::vector<Tensor>> GraphExecutor::Run(const std::map<std::string, Tensor>& inputs) const {
  UH_ASSIGN_OR_RETURN(std::vector<Tensor> ordered, InBindingOrder(*executable_, inputs));
  UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Stream> stream, device_->CreateStream());
  std::vector<Tensor> outputs;
  UH_RETURN_IF_ERROR(stream->Launch(*executable_, ordered, outputs));
  UH_RETURN_IF_ERROR(stream->Synchronize());
  return outputs;
}

Result<std::vector<Value>> GraphExecutor::RunValues(
    const std::map<std::string, Value>& inputs) const {
  UH_ASSIGN_OR_RETURN(std::vector<Value> ordered, InBindingOrder(*executable_, inputs));
  UH_ASSIGN_OR_RETURN(std::unique_ptr<hal::Stream> stream, device_->CreateStream());
  std::vector<Value> outputs;
  UH_RETURN_IF_ERROR(stream->LaunchValues(*executable_, ordered, outputs));
  UH_RETURN_IF_ERROR(stream->Synchronize());
  return outputs;
}

std::vector<hal::NodeTime> GraphExecutor::NodeTimes() const {
  std::vector<hal::NodeTime> times = executable_->NodeTimes();
  for (hal::NodeTime& time : times) time.device = device_->info().id;
  return times;
}

}  // namespace unihal::exec
