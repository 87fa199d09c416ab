// Start-up costs (issue 4): the heap a Runtime with every driver and no model takes, and the
// time to load and plan a model (ResNet-50 in docs/benchmarks.md).
//
//   build/bin/bench_startup [--model FILE] [--repeats N] [--json]
//
// Heap: glibc's mallinfo2() (uordblks + hblkhd: bytes in use from the arena and from mmap)
// just before and after the first Runtime::Create of the process, with the CPU driver and the
// simulated NPU enabled (profile edge-34), so every driver is probed. Resident memory (RSS from
// /proc/self/statm) is given beside it: it also counts code pages touched for the first time.
// Load and plan: wall time of Session::Load (read, parse, shape inference, optimizer passes,
// placement, kernel compilation and memory plan) on the CPU; the first load, then the median
// of the next N, each session dropped before the next load.
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "unihal/hal/thread_pool.h"
#include "unihal/runtime.h"
#include "unihal/session.h"

namespace {

struct MemoryNow {
  double heap_mib;
  double rss_mib;
};

MemoryNow Measure() {
  const struct mallinfo2 info = mallinfo2();
  long pages_total = 0, pages_resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
    std::fclose(f);
  }
  const double mib = 1024.0 * 1024.0;
  return {static_cast<double>(info.uordblks + info.hblkhd) / mib,
          static_cast<double>(pages_resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / mib};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Args {
  std::string model;
  int repeats = 5;
  bool json = false;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) {
      args->model = argv[++i];
    } else if (a == "--repeats" && i + 1 < argc) {
      args->repeats = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--json") {
      args->json = true;
    } else {
      std::cerr << "usage: bench_startup [--model FILE] [--repeats N] [--json]\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) return 2;
  using Clock = std::chrono::steady_clock;
  const auto ms_since = [](Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  };

  unihal::RuntimeOptions options;
  options.sim_npu.profiles = {"edge-34"};
  const MemoryNow before = Measure();
  const auto t_runtime = Clock::now();
  auto runtime = unihal::Runtime::Create(options);
  const double runtime_ms = ms_since(t_runtime);
  const MemoryNow after = Measure();
  if (!runtime.ok()) {
    std::cerr << "bench_startup: " << runtime.status().ToString() << "\n";
    return 1;
  }
  nlohmann::ordered_json report = {
      {"openmp_runtime", unihal::hal::ThreadPool::OpenMpRuntime()},
      {"runtime_create_ms", runtime_ms},
      {"runtime_devices", (*runtime)->devices().size()},
      {"runtime_heap_growth_mib", after.heap_mib - before.heap_mib},
      {"runtime_rss_growth_mib", after.rss_mib - before.rss_mib},
  };

  if (!args.model.empty()) {
    unihal::SessionOptions session_options;
    session_options.device = "cpu";
    std::vector<double> load_ms;
    for (int i = 0; i <= args.repeats; ++i) {
      const auto t0 = Clock::now();
      auto session = unihal::Session::Load(*runtime, args.model, session_options);
      load_ms.push_back(ms_since(t0));
      if (!session.ok()) {
        std::cerr << "bench_startup: " << session.status().ToString() << "\n";
        return 1;
      }
    }
    report["model"] = args.model;
    report["first_load_ms"] = load_ms.front();
    report["median_load_ms"] = Median({load_ms.begin() + 1, load_ms.end()});
    report["repeats"] = args.repeats;
    report["rss_after_loads_mib"] = Measure().rss_mib;
  }
  if (args.json) {
    std::cout << report.dump(2) << "\n";
    return 0;
  }
  for (const auto& [key, value] : report.items()) fmt::print("{}: {}\n", key, value.dump());
  return 0;
}
