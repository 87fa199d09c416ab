#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <unistd.h>

#include "drivers/cpu/cpu_device_info.h"
#include "drivers/cpu/cpu_driver.h"
#include "drivers/cpu/cpu_health.h"

namespace unihal::cpu {
namespace {

namespace fs = std::filesystem;

// A fake /proc and /sys, so every source (present or absent) is tested on any machine.
class FakeMachine {
 public:
  FakeMachine() : root_(fs::temp_directory_path() / ("unihal_fake_" + std::to_string(getpid()) +
                                                     "_" + std::to_string(counter_++))) {
    fs::create_directories(root_ / "proc");
    fs::create_directories(root_ / "sys");
  }
  ~FakeMachine() { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text;
  }
  std::string proc() const { return (root_ / "proc").string(); }
  std::string sys() const { return (root_ / "sys").string(); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

TEST(CpuDeviceInfoTest, ReadsCpuinfoCachesAndMemory) {
  FakeMachine m;
  m.Write("proc/cpuinfo",
          "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.0GHz\n"
          "flags\t\t: fpu sse4_2 avx2 fma avx512f avx512_vnni\n\n"
          "processor\t: 1\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU @ 2.0GHz\n"
          "flags\t\t: fpu sse4_2 avx2 fma avx512f avx512_vnni\n");
  m.Write("proc/meminfo", "MemTotal:       1024 kB\nMemAvailable:    512 kB\n");
  m.Write("sys/devices/system/cpu/cpu0/cache/index0/level", "1\n");
  m.Write("sys/devices/system/cpu/cpu0/cache/index0/type", "Data\n");
  m.Write("sys/devices/system/cpu/cpu0/cache/index0/size", "32K\n");
  m.Write("sys/devices/system/cpu/cpu0/cache/index3/level", "3\n");
  m.Write("sys/devices/system/cpu/cpu0/cache/index3/type", "Unified\n");
  m.Write("sys/devices/system/cpu/cpu0/cache/index3/size", "16M\n");
  hal::DeviceInfo info = ReadCpuDeviceInfo(m.proc(), m.sys());
  EXPECT_EQ(info.id, "cpu:0");
  EXPECT_EQ(info.vendor, "Intel");
  EXPECT_EQ(info.name, "Test CPU @ 2.0GHz");
  EXPECT_EQ(info.compute_units, 2);
  EXPECT_EQ(info.memory_total_bytes, 1024 * 1024);
  EXPECT_EQ(info.cache_bytes.at("l1d"), 32 * 1024);
  EXPECT_EQ(info.cache_bytes.at("l3"), 16 * 1024 * 1024);
  auto has = [&](const std::string& f) {
    return std::find(info.features.begin(), info.features.end(), f) != info.features.end();
  };
  EXPECT_TRUE(has("avx512_vnni"));
  EXPECT_FALSE(has("fpu"));  // not interesting enough to list
  EXPECT_FALSE(info.is_simulated);
  EXPECT_TRUE(info.peak_ops_per_s.empty());  // not measured: unknown, never invented
}

TEST(CpuDeviceInfoTest, CgroupLimitCapsMemory) {
  FakeMachine m;
  m.Write("proc/meminfo", "MemTotal:       1024 kB\n");
  m.Write("sys/fs/cgroup/memory.max", "4096\n");
  EXPECT_EQ(ReadCpuDeviceInfo(m.proc(), m.sys()).memory_total_bytes, 4096);
}

TEST(CpuDeviceInfoTest, MissingFilesGiveUnknowns) {
  FakeMachine m;
  hal::DeviceInfo info = ReadCpuDeviceInfo(m.proc(), m.sys());
  EXPECT_FALSE(info.memory_total_bytes.has_value());
  EXPECT_FALSE(info.compute_units.has_value());
  EXPECT_EQ(info.vendor, "unknown");
}

TEST(CpuHealthTest, UtilizationTemperatureAndPowerFromTheirSources) {
  FakeMachine m;
  m.Write("proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n");
  m.Write("proc/meminfo", "MemTotal: 1000 kB\nMemAvailable: 250 kB\n");
  m.Write("sys/class/thermal/thermal_zone0/type", "acpitz\n");
  m.Write("sys/class/thermal/thermal_zone0/temp", "41000\n");
  m.Write("sys/class/thermal/thermal_zone1/type", "x86_pkg_temp\n");
  m.Write("sys/class/thermal/thermal_zone1/temp", "55500\n");
  m.Write("sys/class/powercap/intel-rapl:0/energy_uj", "1000000\n");
  m.Write("sys/class/powercap/intel-rapl:0:0/energy_uj", "999999999\n");  // subzone: ignored
  CpuHealthSampler sampler(m.proc(), m.sys());
  // Busy 300 of 400 more jiffies; 2 J more energy.
  m.Write("proc/stat", "cpu  250 0 250 900 0 0 0 0 0 0\n");
  m.Write("sys/class/powercap/intel-rapl:0/energy_uj", "3000000\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  hal::DeviceHealth h = sampler.Sample();
  ASSERT_TRUE(h.utilization.has_value());
  EXPECT_DOUBLE_EQ(*h.utilization, 0.75);
  EXPECT_DOUBLE_EQ(*h.temperature_c, 55.5);
  ASSERT_TRUE(h.power_w.has_value());
  EXPECT_GT(*h.power_w, 0.0);
  EXPECT_LT(*h.power_w, 2.0 / 0.05 + 1e-9);  // 2 J over at least 50 ms
  EXPECT_DOUBLE_EQ(*h.energy_j, 3.0);
  EXPECT_EQ(h.memory_used_bytes, 750 * 1024);
  EXPECT_EQ(h.state, hal::HealthState::kHealthy);
}

TEST(CpuHealthTest, AbsentSourcesStayUnknown) {
  FakeMachine m;
  m.Write("proc/stat", "cpu  1 0 1 8 0 0 0 0\n");
  CpuHealthSampler sampler(m.proc(), m.sys());
  hal::DeviceHealth h = sampler.Sample();
  EXPECT_FALSE(h.temperature_c.has_value());
  EXPECT_FALSE(h.power_w.has_value());
  EXPECT_FALSE(h.energy_j.has_value());
  EXPECT_FALSE(h.utilization.has_value());  // no time passed in the counters
  EXPECT_FALSE(h.memory_used_bytes.has_value());
}

TEST(CpuDriverTest, OpensTheRealCpu) {
  auto driver = CreateCpuDriver();
  EXPECT_EQ(driver->name(), "cpu");
  auto devices = driver->OpenDevices({});
  ASSERT_TRUE(devices.ok());
  ASSERT_EQ(devices->size(), 1u);
  hal::Device& cpu = *(*devices)[0];
  EXPECT_EQ(cpu.info().kind, hal::DeviceKind::kCpu);
  EXPECT_GE(cpu.info().compute_units.value_or(0), 1);
  EXPECT_GT(cpu.info().memory_total_bytes.value_or(0), 0);
  hal::DeviceHealth h = cpu.Health();
  ASSERT_TRUE(h.memory_used_bytes.has_value());
  EXPECT_GT(*h.memory_used_bytes, 0);
  if (!std::filesystem::exists("/sys/class/powercap")) {
    EXPECT_FALSE(h.power_w.has_value());
  }
  auto buffer = cpu.Allocate(1000);
  ASSERT_TRUE(buffer.ok());
  auto stream = cpu.CreateStream();
  ASSERT_TRUE(stream.ok());
  std::vector<uint8_t> src(1000, 7), dst(1000, 0);
  ASSERT_TRUE((*stream)->Write(**buffer, 0, src.data(), 1000).ok());
  ASSERT_TRUE((*stream)->Read(**buffer, 0, dst.data(), 1000).ok());
  EXPECT_EQ(dst, src);
  EXPECT_EQ((*stream)->Write(**buffer, 500, src.data(), 1000).code(), StatusCode::kOutOfRange);
  EXPECT_FALSE((*stream)->Synchronize().ok());  // the stream remembers its first error
}

}  // namespace
}  // namespace unihal::cpu
