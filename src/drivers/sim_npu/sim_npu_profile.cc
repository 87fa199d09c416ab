#include "drivers/sim_npu/sim_npu_profile.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#ifndef UNIHAL_SIM_NPU_PROFILE_DIR
#define UNIHAL_SIM_NPU_PROFILE_DIR ""
#endif

namespace unihal::sim_npu {
namespace {

using nlohmann::json;

double Number(const json& j, const char* key, double fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string FindProfile(const std::string& name, const hal::SimNpuOptions& options,
                        std::string* searched) {
  std::vector<std::string> dirs;
  if (!options.profile_dir.empty()) dirs.push_back(options.profile_dir);
  if (const char* env = std::getenv("UNIHAL_SIM_NPU_PROFILE_DIR"); env && *env) dirs.push_back(env);
  if (*UNIHAL_SIM_NPU_PROFILE_DIR) dirs.push_back(UNIHAL_SIM_NPU_PROFILE_DIR);
  for (const std::string& dir : dirs) {
    std::filesystem::path p = std::filesystem::path(dir) / (name + ".json");
    *searched += (searched->empty() ? "" : ", ") + dir;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  }
  return {};
}

// float32 is allowed only where quantization needs it: the data of the boundary ops
// QuantizeLinear/DequantizeLinear, and constant scales of the QLinear ops.
bool AllowedFloat32(const ir::Node& node, bool constant) {
  if (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear") return true;
  return constant && (node.op_type == "QLinearConv" || node.op_type == "QLinearMatMul");
}

bool AllowedInt32In(const ir::Node& node) {
  static const std::set<std::string> kOps = {"QLinearConv", "MatMulInteger", "ConvInteger",
                                             "QuantizeLinear", "DequantizeLinear"};
  return kOps.count(node.op_type) != 0;
}

// Why `value` (input or output `index` of `node`) cannot be on the NPU, or "" when it can.
std::string CheckValue(const SimNpuProfile& profile, const ir::Node& node, const ir::Graph& graph,
                       const std::string& value) {
  const ir::ValueInfo* vi = graph.FindValueInfo(value);
  const Tensor* constant = graph.FindInitializer(value);
  DType dtype = constant ? constant->dtype() : (vi ? vi->dtype : DType::kUndefined);
  if (dtype == DType::kUndefined) return "sim-npu: type of '" + value + "' unknown";
  bool ok = profile.peak_ops_per_s.count(dtype) != 0 ||
            (dtype == DType::kF32 && AllowedFloat32(node, constant != nullptr)) ||
            (dtype == DType::kI32 && AllowedInt32In(node)) ||
            (dtype == DType::kI64 && constant != nullptr);  // shapes, axes
  if (!ok) return "sim-npu: " + std::string(DTypeName(dtype)) + " not supported";
  if (constant) return {};
  if (!vi || !vi->shape) return "sim-npu: dynamic shape ('" + value + "' has unknown rank)";
  for (const ir::Dim& d : *vi->shape) {
    if (!d.is_static()) {
      return "sim-npu: dynamic shape ('" + value + "' is " + ir::SymbolicShapeToString(*vi->shape) +
             ")";
    }
  }
  return {};
}

}  // namespace

Result<SimNpuProfile> ParseSimNpuProfile(const std::string& json_text, const std::string& path) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgumentError("sim-npu profile " + path + ": not a JSON object");
  }
  SimNpuProfile p;
  p.path = path;
  p.name = j.value("name", std::string());
  if (p.name.empty()) return InvalidArgumentError("sim-npu profile " + path + ": no \"name\"");
  p.description = j.value("description", std::string());
  p.vendor = j.value("vendor", std::string("unihal (simulated)"));
  p.compute_units = static_cast<int64_t>(Number(j, "compute_units", 1));
  p.memory_bytes = static_cast<int64_t>(Number(j, "memory_bytes", 0));
  p.bandwidth_bytes_per_s = Number(j, "memory_bandwidth_bytes_per_s", 0);
  p.clock_mhz = Number(j, "clock_mhz", 1000);
  p.launch_overhead_s = Number(j, "launch_overhead_s", 0);
  p.node_overhead_s = Number(j, "node_overhead_s", 0);
  if (j.contains("peak_ops_per_s") && j["peak_ops_per_s"].is_object()) {
    for (const auto& [k, v] : j["peak_ops_per_s"].items()) {
      std::optional<DType> dtype = ParseDType(k);
      if (!dtype || !v.is_number() ||
          (*dtype != DType::kI8 && *dtype != DType::kU8 && *dtype != DType::kF16)) {
        return InvalidArgumentError("sim-npu profile " + path + ": peak_ops_per_s." + k +
                                    ": sim-npu models int8, uint8 and float16 only");
      }
      p.peak_ops_per_s[*dtype] = v.get<double>();
    }
  }
  json power = j.value("power", json::object());
  p.idle_w = Number(power, "idle_w", 0.5);
  p.tdp_w = Number(power, "tdp_w", 5);
  json thermal = j.value("thermal", json::object());
  p.ambient_c = Number(thermal, "ambient_c", 25);
  p.resistance_c_per_w = Number(thermal, "resistance_c_per_w", 10);
  p.capacitance_j_per_c = Number(thermal, "capacitance_j_per_c", 1);
  p.throttle_c = Number(thermal, "throttle_c", 85);
  p.hysteresis_c = Number(thermal, "hysteresis_c", 5);
  p.throttle_clock_fraction = Number(thermal, "throttle_clock_fraction", 0.5);
  p.emulate_latency = j.value("emulate_latency", false);
  if (j.contains("ops") && j["ops"].is_array()) {
    for (const auto& op : j["ops"]) {
      if (op.is_string()) p.ops.insert(op.get<std::string>());
    }
  }
  if (p.memory_bytes <= 0 || p.bandwidth_bytes_per_s <= 0 || p.peak_ops_per_s.empty() ||
      p.ops.empty() || p.capacitance_j_per_c <= 0 || p.clock_mhz <= 0) {
    return InvalidArgumentError("sim-npu profile " + path +
                                ": needs memory_bytes, memory_bandwidth_bytes_per_s, "
                                "peak_ops_per_s, ops, clock_mhz and thermal constants > 0");
  }
  return p;
}

Result<SimNpuProfile> LoadSimNpuProfile(const std::string& name_or_path,
                                        const hal::SimNpuOptions& options) {
  std::string path = name_or_path;
  bool is_path = name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".json");
  if (!is_path) {
    std::string searched;
    path = FindProfile(name_or_path, options, &searched);
    if (path.empty()) {
      return NotFoundError("sim-npu: no profile '" + name_or_path + "' (looked for " +
                           name_or_path + ".json in " +
                           (searched.empty() ? "no folder" : searched) +
                           "; set UNIHAL_SIM_NPU_PROFILE_DIR or pass a path to a .json file)");
    }
  }
  UH_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseSimNpuProfile(text, path);
}

hal::DeviceInfo SimNpuDeviceInfo(const SimNpuProfile& profile, int ordinal) {
  hal::DeviceInfo info;
  info.id = "sim-npu:" + std::to_string(ordinal);
  info.driver = "sim-npu";
  info.kind = hal::DeviceKind::kNpu;
  info.vendor = profile.vendor;
  info.name = "sim-npu " + profile.name;  // tables add "(simulated)" from is_simulated
  info.ordinal = ordinal;
  info.compute_units = profile.compute_units;
  info.memory_total_bytes = profile.memory_bytes;
  for (const auto& [dtype, rate] : profile.peak_ops_per_s) {
    info.dtypes.push_back(dtype);
    info.peak_ops_per_s[dtype] = rate;  // declared by the profile, not measured
  }
  info.memory_bandwidth_bytes_per_s = profile.bandwidth_bytes_per_s;
  info.features = {"simulated", "static_shapes_only", "power_states", "fault_injection"};
  if (profile.peak_ops_per_s.count(DType::kF16)) info.features.push_back("fp16");
  if (profile.peak_ops_per_s.count(DType::kI8)) info.features.push_back("int8");
  info.is_simulated = true;
  return info;
}

hal::SupportResult CheckProfileSupport(const SimNpuProfile& profile, const ir::Node& node,
                                       const ir::Graph& graph) {
  if (!node.domain.empty() || profile.ops.count(node.op_type) == 0) {
    std::string op = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
    return hal::SupportResult::No("sim-npu: op " + op + " not in the " + profile.name + " op set");
  }
  for (const std::vector<std::string>* names : {&node.inputs, &node.outputs}) {
    for (const std::string& value : *names) {
      if (value.empty()) continue;
      std::string why = CheckValue(profile, node, graph, value);
      if (!why.empty()) return hal::SupportResult::No(why);
    }
  }
  return hal::SupportResult::Yes();
}

}  // namespace unihal::sim_npu
