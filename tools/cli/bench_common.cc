#include "cli/bench_common.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "cli/cli_common.h"

namespace unihal::cli {
namespace {

Result<std::map<std::string, int64_t>> ParseDims(const std::vector<std::string>& specs) {
  std::map<std::string, int64_t> dims;
  for (const std::string& spec : specs) {
    const size_t equals = spec.find('=');
    int64_t value = -1;
    if (equals != std::string::npos && equals > 0) {
      const std::string digits = spec.substr(equals + 1);
      if (!digits.empty() && digits.size() < 12 &&
          std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        value = std::stoll(digits);
      }
    }
    if (value < 0) {
      return InvalidArgumentError("--dim '" + spec + "' should be NAME=N, e.g. --dim seq=128");
    }
    dims[spec.substr(0, equals)] = value;
  }
  return dims;
}

// `info` with its symbolic dims set by --dim NAME=N, or by --batch N for the first one.
ir::ValueInfo WithDimsSet(ir::ValueInfo info, const std::map<std::string, int64_t>& dims,
                          int batch) {
  if (!info.shape) return info;
  for (size_t i = 0; i < info.shape->size(); ++i) {
    ir::Dim& dim = (*info.shape)[i];
    if (dim.is_static()) continue;
    if (auto it = dims.find(dim.symbol); !dim.symbol.empty() && it != dims.end()) {
      dim = ir::Dim::Static(it->second);
    } else if (i == 0 && batch > 0) {
      dim = ir::Dim::Static(batch);
    }
  }
  return info;
}

Result<Value> LoadTensorFile(const std::string& file) {
  UH_ASSIGN_OR_RETURN(Tensor tensor, LoadInputFile(file));
  return Value(std::move(tensor));
}

// A sequence input's elements, one file each: "a.npy,b.npy".
Result<Value> LoadSequenceFiles(DType element_dtype, const std::string& files) {
  std::vector<Tensor> elements;
  for (size_t start = 0; start <= files.size();) {
    const size_t comma = std::min(files.find(',', start), files.size());
    UH_ASSIGN_OR_RETURN(Tensor element, LoadInputFile(files.substr(start, comma - start)));
    elements.push_back(std::move(element));
    start = comma + 1;
  }
  return Value::Sequence(element_dtype, std::move(elements));
}

// Random values for an input not given (`info`'s dims set): a tensor; a sequence of
// kRandomSequenceLength tensors; for an optional, its element, or none when its shape is unknown.
Result<Value> RandomValue(const ir::ValueInfo& info, uint64_t seed) {
  if (IsOptionalType(info.kind) && !info.StaticShape()) return Value::None();
  if (!IsSequenceType(info.kind)) {
    UH_ASSIGN_OR_RETURN(Tensor tensor, RandomInput(info, seed, SymbolicDims::kReject));
    return Value(std::move(tensor));
  }
  std::vector<Tensor> elements;
  for (int i = 0; i < kRandomSequenceLength; ++i) {
    UH_ASSIGN_OR_RETURN(Tensor element, RandomInput(info, seed + i, SymbolicDims::kReject));
    elements.push_back(std::move(element));
  }
  return Value::Sequence(info.dtype, std::move(elements));
}

}  // namespace

LatencyStats Summarize(std::vector<double> samples_ms) {
  if (samples_ms.empty()) return {};
  std::sort(samples_ms.begin(), samples_ms.end());
  auto percentile = [&](double q) {
    const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples_ms.size())));
    return samples_ms[std::clamp<size_t>(rank, 1, samples_ms.size()) - 1];
  };
  const double total = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0);
  return {percentile(0.50), percentile(0.90), percentile(0.99),
          total / static_cast<double>(samples_ms.size())};
}

Result<BenchInputs> MakeBenchInputs(const Session& session, const BenchOptions& options) {
  UH_ASSIGN_OR_RETURN(auto files, ParseInputSpecs(options.inputs));
  UH_ASSIGN_OR_RETURN(auto dims, ParseDims(options.dims));
  BenchInputs inputs;
  for (const auto* values : {&session.inputs(), &session.outputs()}) {
    for (const ir::ValueInfo& info : *values) inputs.tensors_only &= info.is_tensor();
  }
  for (const auto& [name, file] : files) {  // a name the model lacks: Session's run says so
    const auto declared =
        std::find_if(session.inputs().begin(), session.inputs().end(),
                     [&](const ir::ValueInfo& info) { return info.name == name; });
    const bool sequence = declared != session.inputs().end() && IsSequenceType(declared->kind);
    Result<Value> value =
        sequence ? LoadSequenceFiles(declared->dtype, file) : LoadTensorFile(file);
    if (!value.ok()) return value.status().WithContext("input '" + name + "'");
    inputs.values.emplace(name, *std::move(value));
  }
  for (const ir::ValueInfo& info : session.inputs()) {
    if (files.contains(info.name)) continue;
    UH_ASSIGN_OR_RETURN(Value value,
                        RandomValue(WithDimsSet(info, dims, options.batch), options.seed));
    inputs.values.emplace(info.name, std::move(value));
    inputs.random.push_back(info.name);
  }
  if (inputs.tensors_only) {
    for (const auto& [name, value] : inputs.values) inputs.tensors.emplace(name, value.tensor());
  }
  return inputs;
}

Result<std::vector<Value>> RunOnce(const Session& session, const BenchInputs& inputs) {
  if (!inputs.tensors_only) return session.RunValues(inputs.values);
  UH_ASSIGN_OR_RETURN(std::vector<Tensor> tensors, session.Run(inputs.tensors));
  return std::vector<Value>(std::make_move_iterator(tensors.begin()),
                            std::make_move_iterator(tensors.end()));
}

Status WithRandomInputsHint(Status status, const BenchInputs& inputs) {
  if (inputs.random.empty() ||
      (status.code() != StatusCode::kInvalidArgument && status.code() != StatusCode::kOutOfRange &&
       status.code() != StatusCode::kInternal)) {
    return status;
  }
  std::string names;
  for (const std::string& name : inputs.random) names += (names.empty() ? "'" : ", '") + name + "'";
  return Status(status.code(),
                status.message() + "\n(the run had random values for " + names +
                    "; random values may not suit an input that holds indices, axes, a shape "
                    "or divisors: give real ones with --input NAME=FILE)");
}

Result<std::vector<double>> TimeRuns(const Session& session, const BenchInputs& inputs,
                                     int iterations) {
  std::vector<double> samples_ms;
  samples_ms.reserve(static_cast<size_t>(std::max(iterations, 0)));
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    // The outputs are dropped inside the interval, as a caller of Run would drop them.
    UH_RETURN_IF_ERROR(inputs.tensors_only ? session.Run(inputs.tensors).status()
                                           : session.RunValues(inputs.values).status());
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    samples_ms.push_back(elapsed.count());
  }
  return samples_ms;
}

}  // namespace unihal::cli
