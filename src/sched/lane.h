// One lane per device: its queue, its workers and what placement knows about it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sched/priority_queue.h"
#include "unihal/hal/device.h"

namespace unihal::sched {

struct Lane {
  std::string name;                     // the device id, e.g. "sim-npu:0"
  std::shared_ptr<hal::Device> device;  // null for lanes without a device (tests, benchmarks)
  bool is_cpu = false;
  int num_workers = 1;

  // Guarded by mu; touched by submitters and workers alike.
  alignas(64) std::mutex mu;
  std::condition_variable wake;
  PriorityQueue queue;
  int sleepers = 0;
  std::atomic<uint32_t> nonempty_mask{0};  // mirror of queue.nonempty_mask(), read unlocked
  std::atomic<int64_t> depth{0};           // queue entries

  // Written by this lane's workers (own cache line, so submitters' writes do not evict it).
  alignas(64) std::atomic<int64_t> running{0};
  std::atomic<int64_t> completed{0};
  std::atomic<int64_t> faults{0};
  std::atomic<int> consecutive_faults{0};
  // Attempts given up on as hung whose worker has not come back yet: placement skips the lane
  // while they hold all of its workers.
  std::atomic<int> hung_attempts{0};

  // Read by placement on every submit, written rarely (faults, health samples).
  alignas(64) std::atomic<int64_t> backlog_ns{0};  // estimated work queued and running here
  std::atomic<bool> failed{false};             // skipped by placement until a probe says healthy
  std::atomic<int64_t> failed_at_ns{0};        // when: older health samples cannot clear it
  std::atomic<bool> degraded{false};           // recent faults
  std::atomic<bool> throttling{false};         // from the device's health
  std::atomic<double> power_w{0.0};            // measured or modelled; 0 when unknown
  std::atomic<int64_t> memory_free_bytes{-1};  // -1 when unknown

  std::vector<std::thread> workers;
};

}  // namespace unihal::sched
