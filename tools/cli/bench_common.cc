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

Result<ModelInputs> MakeBenchInputs(const Session& session, const BenchOptions& options) {
  InputOptions input_options;
  input_options.specs = options.inputs;
  UH_ASSIGN_OR_RETURN(input_options.dims, ParseDims(options.dims));
  input_options.batch = options.batch;
  input_options.seed = options.seed;
  return MakeModelInputs(session, input_options);
}

Status WithRandomInputsHint(Status status, const ModelInputs& inputs) {
  if (inputs.random.empty() ||
      (status.code() != StatusCode::kInvalidArgument && status.code() != StatusCode::kOutOfRange &&
       status.code() != StatusCode::kInternal)) {
    return status;
  }
  return Status(status.code(),
                status.message() + "\n(the run had random values for " +
                    QuotedNames(inputs.random) +
                    "; random values may not suit an input that holds indices, axes, a shape "
                    "or divisors: give real ones with --input NAME=FILE)");
}

Result<std::vector<double>> TimeRuns(const Session& session, const ModelInputs& inputs,
                                     int iterations) {
  std::vector<double> samples_ms;
  samples_ms.reserve(static_cast<size_t>(std::max(iterations, 0)));
  for (int i = 0; i < iterations; ++i) {
    const auto start = std::chrono::steady_clock::now();
    // The outputs are dropped inside the interval, as a caller of Run would drop them.
    UH_RETURN_IF_ERROR(RunDroppingOutputs(session, inputs));
    const std::chrono::duration<double, std::milli> elapsed =
        std::chrono::steady_clock::now() - start;
    samples_ms.push_back(elapsed.count());
  }
  return samples_ms;
}

}  // namespace unihal::cli
