#include "cli/cli_common.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <type_traits>

#include "io/npy.h"
#include "onnx/onnx_loader.h"
#include "unihal/low_precision.h"

namespace unihal::cli {
namespace {

// SplitMix64: tiny, fast, and identical on every platform (unlike std:: distributions).
uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t HashName(std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (char c : name) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return hash;
}

void FillRandom(Tensor& tensor, uint64_t state) {
  const int64_t count = tensor.num_elements();
  if (IsStorageOnly(tensor.dtype())) {  // float8/int4/...: the same values, rounded to the type
    for (int64_t i = 0; i < count; ++i) {
      const uint64_t bits = NextRandom(state);
      const double value = LowPrecisionIntRange(tensor.dtype())
                               ? static_cast<double>(bits % 2)
                               : 2.0 * static_cast<double>(bits >> 11) * 0x1.0p-53 - 1.0;
      StoreCode(tensor.data(), tensor.dtype(), i, CastToCode(tensor.dtype(), value));
    }
    return;
  }
  VisitDType(tensor.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = tensor.data_as<T>();
    for (int64_t i = 0; i < count; ++i) {
      const uint64_t bits = NextRandom(state);
      if constexpr (std::is_same_v<T, bool>) {
        out[i] = (bits & 1) != 0;
      } else if constexpr (std::is_integral_v<T>) {
        out[i] = static_cast<T>(bits % 10);
      } else {
        const double unit = static_cast<double>(bits >> 11) * 0x1.0p-53;  // [0, 1)
        out[i] = static_cast<T>(static_cast<float>(2.0 * unit - 1.0));
      }
    }
  });
}

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

int ExitCodeFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kInvalidArgument:
      return kExitInvalidArgument;
    case StatusCode::kNotFound:
      return kExitNotFound;
    case StatusCode::kFailedPrecondition:
      return kExitFailedPrecondition;
    case StatusCode::kOutOfRange:
      return kExitOutOfRange;
    case StatusCode::kUnimplemented:
      return kExitUnimplemented;
    case StatusCode::kResourceExhausted:
      return kExitResourceExhausted;
    case StatusCode::kUnavailable:
      return kExitUnavailable;
    case StatusCode::kDeadlineExceeded:
      return kExitDeadlineExceeded;
    case StatusCode::kCancelled:
      return kExitCancelled;
    case StatusCode::kDataLoss:
      return kExitDataLoss;
    case StatusCode::kInternal:
      return kExitInternal;
  }
  return kExitInternal;
}

Result<std::map<std::string, std::string>> ParseInputSpecs(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> files;
  for (const std::string& spec : specs) {
    const size_t equals = spec.find('=');
    if (equals == std::string::npos || equals == 0 || equals + 1 == spec.size()) {
      return InvalidArgumentError("--input '" + spec +
                                  "' should be NAME=FILE, e.g. --input image=cat.npy");
    }
    const std::string name = spec.substr(0, equals);
    if (!files.emplace(name, spec.substr(equals + 1)).second) {
      return InvalidArgumentError("input '" + name + "' is given twice with --input");
    }
  }
  return files;
}

Result<Tensor> LoadInputFile(const std::string& path) {
  const std::string extension = Lowercase(std::filesystem::path(path).extension().string());
  if (extension == ".npy") return io::ReadNpyFile(path);
  if (extension == ".pb") return onnx_import::LoadTensorProtoFile(path);
  return InvalidArgumentError(
      "'" + path + "' has " +
      (extension.empty() ? "no extension" : "extension '" + extension + "'") +
      "; input files must be .npy (NumPy) or .pb (ONNX TensorProto)");
}

Result<Tensor> RandomInput(const ir::ValueInfo& info, uint64_t seed, SymbolicDims symbolic) {
  const std::string pass_it =
      "; pass it with --input " + info.name +
      (IsSequenceType(info.kind) ? "=FILE,FILE,... (a file per element)" : "=FILE");
  if (info.dtype == DType::kUndefined) {
    return InvalidArgumentError("input '" + info.name +
                                "' has no declared dtype, so it cannot be made up" + pass_it);
  }
  if (!info.shape) {
    return InvalidArgumentError("input '" + info.name +
                                "' has an unknown rank, so it cannot be made up" + pass_it);
  }
  Shape shape;
  for (const ir::Dim& dim : *info.shape) {
    if (dim.is_static()) {
      shape.push_back(dim.value);
    } else if (symbolic == SymbolicDims::kUseOne) {
      shape.push_back(1);
    } else {
      return InvalidArgumentError("input '" + info.name + "' has a symbolic dimension (" +
                                  info.Describe() + "), so its shape is not known" + pass_it);
    }
  }
  UH_ASSIGN_OR_RETURN(Tensor tensor, Tensor::Allocate(info.dtype, shape));
  FillRandom(tensor, seed ^ HashName(info.name));
  return tensor;
}

std::string DescribeInputs(const std::vector<ir::ValueInfo>& expected) {
  std::string text;
  for (const ir::ValueInfo& info : expected) {
    text += text.empty() ? "  " : "\n  ";
    text += info.Describe();
  }
  return text;
}

std::vector<std::string> OutputFileStems(const std::vector<std::string>& output_names) {
  std::vector<std::string> stems;
  std::set<std::string> taken;
  for (const std::string& name : output_names) {
    std::string stem = name;
    for (char& c : stem) {
      const bool safe =
          std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
      if (!safe) c = '_';
    }
    // "", "." and ".." would name the folder itself or its parent.
    if (stem.find_first_not_of('.') == std::string::npos) stem = "output" + stem;
    std::string unique = stem;
    for (int suffix = 2; taken.contains(Lowercase(unique)); ++suffix) {
      unique = stem + "_" + std::to_string(suffix);
    }
    // Compared case-insensitively, so names stay distinct on case-insensitive file systems too.
    taken.insert(Lowercase(unique));
    stems.push_back(unique);
  }
  return stems;
}

Result<Tensor> ToNumpyCompatible(const Tensor& tensor) {
  if (tensor.dtype() != DType::kBF16) return tensor;
  UH_ASSIGN_OR_RETURN(Tensor converted, Tensor::Allocate(DType::kF32, tensor.shape()));
  const BFloat16* in = tensor.data_as<BFloat16>();
  float* out = converted.data_as<float>();
  if (in == nullptr) return InvalidArgumentError("a bfloat16 output is not in host memory");
  for (int64_t i = 0; i < tensor.num_elements(); ++i) out[i] = static_cast<float>(in[i]);
  return converted;
}

void AddSimNpuOptions(CLI::App* app, SimNpuCliOptions* options) {
  app->add_option("--sim-npu", options->profiles,
                  "Enable a SIMULATED NPU with this profile (edge-34, tiny-4 or a .json path); "
                  "repeatable. Its figures are modelled, not measured")
      ->allow_extra_args(false);  // one profile per occurrence: never swallow the model path
  app->add_option("--sim-npu-faults", options->faults,
                  "Inject faults into the simulated NPU, e.g. error_rate=0.05,seed=1,"
                  "lost_after_runs=100,oom_rate=0.1,hang_rate=0.01,hang_timeout_s=2");
  app->add_flag("--sim-npu-emulate-latency", options->emulate_latency,
                "Make each simulated NPU run take its modelled latency in wall time");
}

Status ApplySimNpuOptions(const SimNpuCliOptions& options, RuntimeOptions& runtime_options) {
  runtime_options.sim_npu.profiles = options.profiles;
  if (options.emulate_latency) runtime_options.sim_npu.emulate_latency = true;
  if (!options.faults.empty()) {
    UH_RETURN_IF_ERROR(hal::ParseSimNpuFaults(options.faults, runtime_options.sim_npu.faults));
  }
  return Status::Ok();
}

}  // namespace unihal::cli
