// Shared pieces of the `unihal` commands: exit codes, input files, random inputs, output names.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unihal/ir/graph.h"
#include "unihal/runtime.h"
#include "unihal/session.h"
#include "unihal/status.h"
#include "unihal/tensor.h"

namespace unihal::cli {

// One exit code per error class, so scripts can tell failures apart (see docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitInternal = 1,
  kExitUsage = 2,
  kExitInvalidArgument = 3,
  kExitNotFound = 4,
  kExitUnimplemented = 5,
  kExitResourceExhausted = 6,
  kExitUnavailable = 7,
  kExitFailedPrecondition = 8,
  kExitOutOfRange = 9,
  kExitDeadlineExceeded = 10,
  kExitCancelled = 11,
  kExitDataLoss = 12,
};

int ExitCodeFor(StatusCode code);

// A subcommand: its CLI11 parser and what to do when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<Status()> run;
};

Command AddDevicesCommand(CLI::App& parent);
Command AddRunCommand(CLI::App& parent);
Command AddBenchCommand(CLI::App& parent);
Command AddPlanCommand(CLI::App& parent);
Command AddHealthCommand(CLI::App& parent);
Command AddStatsCommand(CLI::App& parent);

// The simulated NPU flags shared by devices, run and bench: --sim-npu PROFILE (repeatable),
// --sim-npu-faults SPEC, --sim-npu-emulate-latency.
struct SimNpuCliOptions {
  std::vector<std::string> profiles;
  std::string faults;
  bool emulate_latency = false;
};
void AddSimNpuOptions(CLI::App* app, SimNpuCliOptions* options);
// Copies the flags into `runtime_options`; a bad fault spec is kInvalidArgument.
Status ApplySimNpuOptions(const SimNpuCliOptions& options, RuntimeOptions& runtime_options);

// The placement flags shared by plan, run and bench (R4.1): --devices LIST (a preference list,
// most preferred first, e.g. sim-npu,cpu) and --fallback allow|warn|forbid.
struct PlacementCliOptions {
  std::vector<std::string> devices;
  std::string fallback = "allow";
};
void AddPlacementOptions(CLI::App* app, PlacementCliOptions* options);
// Copies the flags into `session_options` (devices, fallback).
void ApplyPlacementOptions(const PlacementCliOptions& options, SessionOptions& session_options);

// Parses "NAME=FILE" (split at the first '='); names must be unique.
Result<std::map<std::string, std::string>> ParseInputSpecs(const std::vector<std::string>& specs);

// Reads a .npy file or a serialized ONNX TensorProto (.pb), chosen by the extension.
Result<Tensor> LoadInputFile(const std::string& path);

enum class SymbolicDims { kUseOne, kReject };

// Deterministic pseudo-random values for `info` (floats in [-1, 1), integers in [0, 10),
// bools 0/1), the same for the same seed and input name on every machine.
Result<Tensor> RandomInput(const ir::ValueInfo& info, uint64_t seed, SymbolicDims symbolic);

// "  x: float32[1, 3]\n  y: int64[batch]"
std::string DescribeInputs(const std::vector<ir::ValueInfo>& expected);

// Safe file names for output names: characters outside [A-Za-z0-9._-] become '_', and
// collisions get "_2", "_3", ... ("gpu_0/softmax_1" -> "gpu_0_softmax_1").
std::vector<std::string> OutputFileStems(const std::vector<std::string>& output_names);

// A tensor NumPy can hold: bfloat16 becomes float32 (exactly), everything else is unchanged.
Result<Tensor> ToNumpyCompatible(const Tensor& tensor);

}  // namespace unihal::cli
