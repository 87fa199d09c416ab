// Runs ONNX backend node test cases (onnx/backend/test/data/node/<case>/) on one device and
// prints one JSON line per case: {"case", "device", "result": "pass"|"fail"|"unsupported",
// "reason"}. Driven by tests/onnx_node/conformance.py, which restarts it after a crash.
//
// The ONNX runner's rule: inputs bind to the graph inputs by position; an output passes when it
// has the expected dtype and shape and its values are within rtol 1e-3 and atol 1e-7 (NaN
// equals NaN), integers and bools exactly. Sequences pass when they have the expected length and
// every element passes; an empty optional (none) only equals none. As in ONNX's runner, each
// .pb file is read as the graph declares that input or output: a TensorProto, a SequenceProto or
// an OptionalProto.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "onnx/onnx_loader.h"
#include "unihal/low_precision.h"
#include "unihal/session.h"
#include "unihal/value.h"

namespace fs = std::filesystem;

namespace unihal::onnx_node {
namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

struct CaseResult {
  std::string result;  // pass, fail, unsupported
  std::string reason;
};

CaseResult Unsupported(std::string reason) { return {"unsupported", std::move(reason)}; }
CaseResult Fail(std::string reason) { return {"fail", std::move(reason)}; }

// Load and run errors of kind "unihal cannot do this" are unsupported; anything else is a
// failure of a case unihal claims to handle.
CaseResult FromStatus(const Status& status, const std::string& doing) {
  std::string reason = doing + ": " + status.message();
  if (status.code() == StatusCode::kUnimplemented) return Unsupported(std::move(reason));
  return Fail(std::move(reason));
}

std::vector<fs::path> FilesWithPrefix(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (size_t i = 0;; ++i) {
    fs::path file = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(file)) break;
    files.push_back(file);
  }
  return files;
}

double ElementAsDouble(const Tensor& tensor, int64_t i) {
  if (IsStorageOnly(tensor.dtype())) {
    return DecodeLowPrecision(tensor.dtype(), LoadCode(tensor.data(), tensor.dtype(), i));
  }
  double value = 0;
  VisitDType(tensor.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>) {
      value = static_cast<float>(tensor.data_as<T>()[i]);
    } else {
      value = static_cast<double>(tensor.data_as<T>()[i]);
    }
  });
  return value;
}

// "" when `actual` matches `expected`, else what differs.
std::string Compare(const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != expected.dtype()) {
    return "dtype " + std::string(DTypeName(actual.dtype())) + ", expected " +
           std::string(DTypeName(expected.dtype()));
  }
  if (actual.shape() != expected.shape()) {
    return "shape " + ShapeToString(actual.shape()) + ", expected " +
           ShapeToString(expected.shape());
  }
  // The storage-only floats (float8, float4) compare as floats: NaN equals NaN, -0 equals 0.
  const bool exact = !IsFloatingPoint(expected.dtype()) &&
                     !(IsStorageOnly(expected.dtype()) && !LowPrecisionIntRange(expected.dtype()));
  int64_t mismatches = 0;
  int64_t first = -1;
  double worst = 0;
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const double a = ElementAsDouble(actual, i);
    const double e = ElementAsDouble(expected, i);
    if (std::isnan(e) && std::isnan(a)) continue;
    if (a == e) continue;  // also equal infinities
    const double diff = std::fabs(a - e);
    if (!exact && diff <= kAtol + kRtol * std::fabs(e)) continue;
    if (mismatches++ == 0) first = i;
    if (!(diff <= worst)) worst = diff;
  }
  if (mismatches == 0) return "";
  return std::to_string(mismatches) + " of " + std::to_string(expected.num_elements()) +
         " values differ (first at flat index " + std::to_string(first) + ": " +
         std::to_string(ElementAsDouble(actual, first)) + " vs expected " +
         std::to_string(ElementAsDouble(expected, first)) + "; max |diff| " +
         std::to_string(worst) + ")";
}

// "" when the value `actual` matches `expected`, else what differs.
std::string CompareValues(const Value& actual, const Value& expected) {
  if (actual.kind() != expected.kind()) {
    return "got " + actual.Describe() + ", expected " + expected.Describe();
  }
  if (expected.is_tensor()) return Compare(actual.tensor(), expected.tensor());
  if (expected.is_none()) return "";
  if (actual.elements().size() != expected.elements().size()) {
    return "a sequence of " + std::to_string(actual.elements().size()) + " elements, expected " +
           std::to_string(expected.elements().size());
  }
  for (size_t i = 0; i < expected.elements().size(); ++i) {
    std::string difference = Compare(actual.elements()[i], expected.elements()[i]);
    if (!difference.empty()) return "element " + std::to_string(i) + ": " + difference;
  }
  return "";
}

bool HasNonTensorInterface(const Session& session) {
  for (const auto* values : {&session.inputs(), &session.outputs()}) {
    for (const ir::ValueInfo& info : *values) {
      if (!info.is_tensor()) return true;
    }
  }
  return false;
}

// A model with sequence or optional inputs or outputs runs through Session::RunValues.
CaseResult RunValuesDataSet(const Session& session, const std::vector<fs::path>& input_files,
                            const std::vector<fs::path>& output_files) {
  std::map<std::string, Value> inputs;
  for (size_t i = 0; i < input_files.size(); ++i) {
    Result<Value> value =
        onnx_import::LoadValueProtoFile(input_files[i].string(), session.inputs()[i]);
    if (!value.ok()) return FromStatus(value.status(), "reading " + input_files[i].string());
    inputs.emplace(session.inputs()[i].name, *std::move(value));
  }
  Result<std::vector<Value>> outputs = session.RunValues(inputs);
  if (!outputs.ok()) return FromStatus(outputs.status(), "running");
  if (outputs->size() != output_files.size()) {
    return Fail("produced " + std::to_string(outputs->size()) + " outputs, expected " +
                std::to_string(output_files.size()));
  }
  for (size_t i = 0; i < output_files.size(); ++i) {
    Result<Value> expected =
        onnx_import::LoadValueProtoFile(output_files[i].string(), session.outputs()[i]);
    if (!expected.ok()) return FromStatus(expected.status(), "reading " + output_files[i].string());
    const std::string difference = CompareValues((*outputs)[i], *expected);
    if (!difference.empty()) {
      return Fail("output " + std::to_string(i) + " ('" + session.outputs()[i].name +
                  "'): " + difference);
    }
  }
  return {"pass", ""};
}

CaseResult RunDataSet(const Session& session, const fs::path& data_dir) {
  const std::vector<fs::path> input_files = FilesWithPrefix(data_dir, "input_");
  const std::vector<fs::path> output_files = FilesWithPrefix(data_dir, "output_");
  if (input_files.size() != session.inputs().size()) {
    return Fail("the data set has " + std::to_string(input_files.size()) +
                " inputs, the loaded graph " + std::to_string(session.inputs().size()));
  }
  if (HasNonTensorInterface(session)) return RunValuesDataSet(session, input_files, output_files);
  std::map<std::string, Tensor> inputs;
  for (size_t i = 0; i < input_files.size(); ++i) {
    Result<Tensor> tensor = onnx_import::LoadTensorProtoFile(input_files[i].string());
    if (!tensor.ok()) return FromStatus(tensor.status(), "reading " + input_files[i].string());
    inputs.emplace(session.inputs()[i].name, *std::move(tensor));
  }
  Result<std::vector<Tensor>> outputs = session.Run(inputs);
  if (!outputs.ok()) return FromStatus(outputs.status(), "running");
  if (outputs->size() != output_files.size()) {
    return Fail("produced " + std::to_string(outputs->size()) + " outputs, expected " +
                std::to_string(output_files.size()));
  }
  for (size_t i = 0; i < output_files.size(); ++i) {
    Result<Tensor> expected = onnx_import::LoadTensorProtoFile(output_files[i].string());
    if (!expected.ok()) return FromStatus(expected.status(), "reading " + output_files[i].string());
    const std::string difference = Compare((*outputs)[i], *expected);
    if (!difference.empty()) {
      return Fail("output " + std::to_string(i) + " ('" + session.outputs()[i].name +
                  "'): " + difference);
    }
  }
  return {"pass", ""};
}

CaseResult RunCase(const std::shared_ptr<Runtime>& runtime, const std::string& device,
                   const fs::path& case_dir) {
  SessionOptions options;
  options.device = device;
  Result<std::unique_ptr<Session>> session =
      Session::Load(runtime, (case_dir / "model.onnx").string(), options);
  if (!session.ok()) return FromStatus(session.status(), "loading");
  std::vector<fs::path> data_sets;
  for (const auto& entry : fs::directory_iterator(case_dir)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("test_data_set_", 0) == 0) {
      data_sets.push_back(entry.path());
    }
  }
  std::sort(data_sets.begin(), data_sets.end());
  if (data_sets.empty()) return Fail("no test_data_set_* folder");
  for (const fs::path& data_set : data_sets) {
    CaseResult result = RunDataSet(**session, data_set);
    if (result.result != "pass") {
      if (data_sets.size() > 1) result.reason = data_set.filename().string() + ": " + result.reason;
      return result;
    }
  }
  return {"pass", ""};
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  RuntimeOptions runtime_options;
  // "--sim-npu PROFILE" (repeatable, before DEVICE) enables the simulated NPU.
  while (args.size() >= 2 && args[0] == "--sim-npu") {
    runtime_options.sim_npu.profiles.push_back(args[1]);
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.size() < 2) {
    std::fprintf(stderr,
                 "usage: onnx_node_runner [--sim-npu PROFILE] DEVICE CASE_DIR...\n"
                 "       onnx_node_runner [--sim-npu PROFILE] DEVICE --cases-from FILE"
                 " (one case folder per line)\n");
    return 2;
  }
  const std::string device = args[0];
  std::vector<std::string> cases;
  if (args[1] == "--cases-from" && args.size() >= 3) {
    std::ifstream list(args[2]);
    for (std::string line; std::getline(list, line);) {
      if (!line.empty()) cases.push_back(line);
    }
  } else {
    cases.assign(args.begin() + 1, args.end());
  }
  Result<std::shared_ptr<Runtime>> runtime = Runtime::Create(runtime_options);
  if (!runtime.ok()) {
    std::fprintf(stderr, "onnx_node_runner: %s\n", runtime.status().message().c_str());
    return 1;
  }
  for (const std::string& case_dir : cases) {
    const CaseResult result = RunCase(*runtime, device, case_dir);
    const nlohmann::json line = {{"case", fs::path(case_dir).filename().string()},
                                 {"device", device},
                                 {"result", result.result},
                                 {"reason", result.reason}};
    std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }
  return 0;
}

}  // namespace
}  // namespace unihal::onnx_node

int main(int argc, char** argv) { return unihal::onnx_node::Main(argc, argv); }
