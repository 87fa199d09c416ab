// `unihal run`: one inference, outputs written as .npy files.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "io/npy.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace unihal::cli {
namespace {

struct RunCommandOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::string device = "auto";
  std::string output_dir;
  bool random_inputs = false;
  uint64_t seed = 0;
  bool json = false;
  SimNpuCliOptions sim_npu;
  PlacementCliOptions placement;
};

Status CreateOutputDir(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error || !std::filesystem::is_directory(dir)) {
    return InvalidArgumentError("cannot create the output directory '" + dir + "'" +
                                (error ? ": " + error.message() : std::string()) +
                                "; choose another --output-dir");
  }
  return Status::Ok();
}

// Adds deterministic random tensors for the inputs not given, or explains what is missing.
Status CompleteInputs(const Session& session, const RunCommandOptions& options,
                      std::map<std::string, Tensor>& inputs) {
  const auto missing = MissingInputs(session.inputs(), inputs);
  if (missing.empty()) return Status::Ok();
  if (!options.random_inputs) {
    std::string names;
    for (const ir::ValueInfo* info : missing) {
      names += names.empty() ? "'" : ", '";
      names += info->name + "'";
    }
    return InvalidArgumentError(
        "missing input" + std::string(missing.size() > 1 ? "s " : " ") + names +
        "; the model expects:\n" + DescribeInputs(session.inputs()) +
        "\npass each with --input NAME=FILE (.npy or .pb), or add --random-inputs");
  }
  for (const ir::ValueInfo* info : missing) {
    UH_ASSIGN_OR_RETURN(Tensor tensor, RandomInput(*info, options.seed, SymbolicDims::kUseOne));
    inputs.emplace(info->name, std::move(tensor));
  }
  return Status::Ok();
}

Status RunModel(const RunCommandOptions& options) {
  RuntimeOptions runtime_options;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  UH_RETURN_IF_ERROR(runtime->FindDevice(options.device));
  UH_ASSIGN_OR_RETURN(auto inputs, LoadInputs(options.inputs));
  SessionOptions session_options;
  session_options.device = options.device;
  ApplyPlacementOptions(options.placement, session_options);
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  UH_RETURN_IF_ERROR(CompleteInputs(*session, options, inputs));
  UH_RETURN_IF_ERROR(CreateOutputDir(options.output_dir));

  const auto start = std::chrono::steady_clock::now();
  UH_ASSIGN_OR_RETURN(std::vector<Tensor> outputs, session->Run(inputs));
  const std::chrono::duration<double, std::milli> latency =
      std::chrono::steady_clock::now() - start;

  std::vector<std::string> names;
  for (const ir::ValueInfo& info : session->outputs()) names.push_back(info.name);
  const std::vector<std::string> stems = OutputFileStems(names);
  nlohmann::ordered_json written = nlohmann::ordered_json::array();
  for (size_t i = 0; i < outputs.size() && i < names.size(); ++i) {
    const std::string path =
        (std::filesystem::path(options.output_dir) / (stems[i] + ".npy")).string();
    UH_ASSIGN_OR_RETURN(Tensor output, ToNumpyCompatible(outputs[i]));
    Status status = io::WriteNpyFile(path, output);
    if (!status.ok()) return status.WithContext("output '" + names[i] + "'");
    written.push_back({{"name", names[i]},
                       {"path", path},
                       {"dtype", DTypeName(output.dtype())},
                       {"shape", output.shape()}});
  }
  if (options.json) {
    const nlohmann::ordered_json report = {{"model", options.model},
                                           {"device", session->device_id()},
                                           {"outputs", written},
                                           {"latency_ms", latency.count()}};
    std::cout << report.dump(2) << "\n";
    return Status::Ok();
  }
  fmt::print("ran {} on {} in {:.3f} ms\n", options.model, session->device_id(), latency.count());
  for (const auto& output : written) {
    fmt::print("  {}: {}{} -> {}\n", output["name"].get<std::string>(),
               output["dtype"].get<std::string>(), ShapeToString(output["shape"].get<Shape>()),
               output["path"].get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

Command AddRunCommand(CLI::App& parent) {
  auto options = std::make_shared<RunCommandOptions>();
  CLI::App* app = parent.add_subcommand("run", "Run a model once and save its outputs as .npy");
  app->add_option("model", options->model, "ONNX model file")->required();
  app->add_option("-i,--input", options->inputs,
                  "Input as NAME=FILE; FILE is .npy or an ONNX TensorProto .pb (repeatable)");
  app->add_option("-d,--device", options->device, "Device id (cpu:0), driver name (cpu) or auto")
      ->capture_default_str();
  app->add_option("-o,--output-dir", options->output_dir,
                  "Folder for the outputs, one <output name>.npy each (created if needed)")
      ->required();
  app->add_flag("--random-inputs", options->random_inputs,
                "Fill inputs not given with deterministic random values (symbolic dims = 1)");
  app->add_option("--seed", options->seed, "Seed for --random-inputs")->capture_default_str();
  app->add_flag("--json", options->json, "Print a JSON report to stdout");
  AddSimNpuOptions(app, &options->sim_npu);
  AddPlacementOptions(app, &options->placement);
  return {app, [options] { return RunModel(*options); }};
}

}  // namespace unihal::cli
