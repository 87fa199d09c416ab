#include "drivers/cpu/cpu_device_info.h"

#include <sched.h>

#include <fstream>
#include <set>
#include <sstream>

#include "drivers/cpu/cpu_sysfs.h"

namespace unihal::cpu {
namespace {

// ISA features worth showing users and the planner.
const std::set<std::string>& InterestingFlags() {
  static const std::set<std::string> kFlags = {
      "sse4_2",     "avx",         "avx2",        "fma",      "f16c",
      "avx512f",    "avx512bw",    "avx512vl",    "avx512dq", "avx512_vnni",
      "avx512_bf16", "avx512_fp16", "avx_vnni",    "amx_tile", "amx_int8",
      "amx_bf16",   "asimd",       "sve",         "i8mm",     "bf16"};
  return kFlags;
}

struct CpuInfoText {
  std::string vendor;
  std::string model;
  std::vector<std::string> features;
  int64_t logical_cpus = 0;
};

CpuInfoText ParseCpuInfo(const std::string& path) {
  CpuInfoText out;
  std::ifstream in(path);
  std::string line;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "processor") ++out.logical_cpus;
    if (key == "vendor_id" && out.vendor.empty()) out.vendor = value;
    if ((key == "model name" || key == "Model") && out.model.empty()) out.model = value;
    if ((key == "flags" || key == "Features") && seen.empty()) {
      std::istringstream flags(value);
      std::string f;
      while (flags >> f) {
        if (InterestingFlags().count(f)) seen.insert(f);
      }
    }
  }
  out.features.assign(seen.begin(), seen.end());
  return out;
}

std::string VendorName(const std::string& vendor_id) {
  if (vendor_id == "GenuineIntel") return "Intel";
  if (vendor_id == "AuthenticAMD") return "AMD";
  return vendor_id;
}

void ReadCaches(const std::string& sys_root, hal::DeviceInfo& info) {
  for (const auto& dir : ListDir(sys_root + "/devices/system/cpu/cpu0/cache", "index")) {
    auto level = ReadFileTrimmed(dir + "/level");
    auto type = ReadFileTrimmed(dir + "/type");
    auto size = ReadFileTrimmed(dir + "/size");
    if (!level || !type || !size || size->empty()) continue;
    int64_t bytes = std::atoll(size->c_str());
    if (size->back() == 'K') bytes *= 1024;
    if (size->back() == 'M') bytes *= 1024 * 1024;
    std::string key = "l" + *level;
    if (*type == "Data") key += "d";
    if (*type == "Instruction") key += "i";
    info.cache_bytes[key] = bytes;
  }
}

// The memory this process may use: the machine's, or a smaller cgroup v2/v1 limit.
std::optional<int64_t> UsableMemory(const std::string& proc_root, const std::string& sys_root) {
  std::optional<int64_t> total = ReadMeminfoBytes(proc_root + "/meminfo", "MemTotal");
  for (const char* limit_file : {"/fs/cgroup/memory.max", "/fs/cgroup/memory/memory.limit_in_bytes"}) {
    if (auto limit = ReadInt64File(sys_root + limit_file); limit && *limit > 0) {
      if (!total || *limit < *total) total = limit;
    }
  }
  return total;
}

}  // namespace

hal::DeviceInfo ReadCpuDeviceInfo(const std::string& proc_root, const std::string& sys_root) {
  hal::DeviceInfo info;
  info.id = "cpu:0";
  info.driver = "cpu";
  info.kind = hal::DeviceKind::kCpu;
  info.ordinal = 0;
  CpuInfoText text = ParseCpuInfo(proc_root + "/cpuinfo");
  info.vendor = text.vendor.empty() ? "unknown" : VendorName(text.vendor);
  info.name = text.model.empty() ? "CPU" : text.model;
  if (proc_root == "/proc") {
    // The cores this process may run on (affinity / container limits), not the whole host.
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) info.compute_units = CPU_COUNT(&allowed);
  } else if (text.logical_cpus > 0) {
    info.compute_units = text.logical_cpus;
  }
  info.memory_total_bytes = UsableMemory(proc_root, sys_root);
  info.dtypes = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16, DType::kI8,
                 DType::kU8,  DType::kI16, DType::kU16, DType::kI32,  DType::kU32,
                 DType::kI64, DType::kU64, DType::kBool};
  info.features = text.features;
  info.features.push_back("dynamic_shapes");
  ReadCaches(sys_root, info);
  info.is_simulated = false;
  return info;
}

}  // namespace unihal::cpu
