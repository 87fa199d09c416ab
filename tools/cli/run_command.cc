// `unihal run`: one inference, outputs written as .npy files.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/model_inputs.h"
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

// Writes one output tensor as `stem`.npy in the output folder; its JSON entry's fields.
Result<nlohmann::ordered_json> WriteOutputTensor(const Tensor& tensor, const std::string& dir,
                                                 const std::string& stem) {
  const std::string path = (std::filesystem::path(dir) / (stem + ".npy")).string();
  UH_ASSIGN_OR_RETURN(Tensor output, ToNumpyCompatible(tensor));
  UH_RETURN_IF_ERROR(io::WriteNpyFile(path, output));
  return nlohmann::ordered_json{
      {"path", path}, {"dtype", DTypeName(output.dtype())}, {"shape", output.shape()}};
}

// The name of each file the outputs make, before OutputFileStems makes them safe and distinct:
// a tensor's own name, a sequence's name_0, name_1, ...; an empty optional makes none.
std::vector<std::string> OutputFileNames(const std::vector<Value>& outputs,
                                         const std::vector<std::string>& names) {
  std::vector<std::string> files;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].is_tensor()) files.push_back(names[i]);
    for (size_t e = 0; e < outputs[i].elements().size(); ++e) {
      files.push_back(fmt::format("{}_{}", names[i], e));
    }
  }
  return files;
}

// Writes one output, taking its files' stems from `stems` at `next`; its JSON entry.
Result<nlohmann::ordered_json> WriteOutput(const Value& value, const std::string& name,
                                           const std::string& dir,
                                           const std::vector<std::string>& stems, size_t& next) {
  nlohmann::ordered_json entry = {{"name", name}};
  if (value.is_none()) {
    entry["none"] = true;
  } else if (value.is_tensor()) {
    UH_ASSIGN_OR_RETURN(nlohmann::ordered_json file,
                        WriteOutputTensor(value.tensor(), dir, stems[next++]));
    entry.update(file);
  } else {
    entry["elements"] = nlohmann::ordered_json::array();
    for (const Tensor& element : value.elements()) {
      UH_ASSIGN_OR_RETURN(nlohmann::ordered_json file,
                          WriteOutputTensor(element, dir, stems[next++]));
      entry["elements"].push_back(std::move(file));
    }
  }
  return entry;
}

void PrintOutput(const nlohmann::ordered_json& output) {
  const auto describe = [](const nlohmann::ordered_json& file) {
    return fmt::format("{}{} -> {}", file["dtype"].get<std::string>(),
                       ShapeToString(file["shape"].get<Shape>()), file["path"].get<std::string>());
  };
  const std::string name = output["name"].get<std::string>();
  if (output.contains("none")) {
    fmt::print("  {}: none (an empty optional, no file)\n", name);
  } else if (output.contains("elements")) {
    fmt::print("  {}: a sequence of {}\n", name, output["elements"].size());
    for (const auto& file : output["elements"]) fmt::print("    {}\n", describe(file));
  } else {
    fmt::print("  {}: {}\n", name, describe(output));
  }
}

Status RunModel(const RunCommandOptions& options) {
  RuntimeOptions runtime_options;
  UH_RETURN_IF_ERROR(ApplySimNpuOptions(options.sim_npu, runtime_options));
  UH_ASSIGN_OR_RETURN(std::shared_ptr<Runtime> runtime, Runtime::Create(runtime_options));
  UH_RETURN_IF_ERROR(runtime->FindDevice(options.device));
  SessionOptions session_options;
  session_options.device = options.device;
  ApplyPlacementOptions(options.placement, session_options);
  UH_ASSIGN_OR_RETURN(std::unique_ptr<Session> session,
                      Session::Load(runtime, options.model, session_options));
  InputOptions input_options;
  input_options.specs = options.inputs;
  input_options.seed = options.seed;
  input_options.random_missing = options.random_inputs;
  input_options.symbolic = SymbolicDims::kUseOne;
  UH_ASSIGN_OR_RETURN(ModelInputs inputs, MakeModelInputs(*session, input_options));
  UH_RETURN_IF_ERROR(CreateOutputDir(options.output_dir));

  const auto start = std::chrono::steady_clock::now();
  UH_ASSIGN_OR_RETURN(std::vector<Value> outputs, RunOnce(*session, inputs));
  const std::chrono::duration<double, std::milli> latency =
      std::chrono::steady_clock::now() - start;

  std::vector<std::string> names;
  for (const ir::ValueInfo& info : session->outputs()) names.push_back(info.name);
  if (outputs.size() != names.size()) {
    return InternalError(fmt::format("the model declares {} outputs but its run gave {}",
                                     names.size(), outputs.size()));
  }
  const std::vector<std::string> stems = OutputFileStems(OutputFileNames(outputs, names));
  nlohmann::ordered_json written = nlohmann::ordered_json::array();
  size_t next_stem = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    Result<nlohmann::ordered_json> entry =
        WriteOutput(outputs[i], names[i], options.output_dir, stems, next_stem);
    if (!entry.ok()) return entry.status().WithContext("output '" + names[i] + "'");
    written.push_back(*std::move(entry));
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
  for (const auto& output : written) PrintOutput(output);
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
