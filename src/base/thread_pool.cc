#include "unihal/hal/thread_pool.h"

#include <omp.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <utility>
#include <vector>

// LLVM's OpenMP runtime (libomp), when CMake links it ahead of libgomp, answers these; under
// libgomp they stay null (weak) and the wait policy is whatever OMP_WAIT_POLICY says.
extern "C" void kmp_set_blocktime(int milliseconds) __attribute__((weak));
extern "C" void kmp_set_defaults(const char* settings) __attribute__((weak));

#include "base/worker_spread.h"
#include "hal/caller_thread_cap.h"

namespace unihal::hal {
namespace {
thread_local int caller_thread_cap = 0;  // per thread by design (SetCallerThreadCap)
// When the calling thread last checked its team's CPUs (SpreadWorkersAfterIdle): each calling
// thread has its own OpenMP team.
thread_local int64_t last_spread_check_ns = 0;

// Longer than the workers' spin (kBlocktimeMs below): by then they sleep and wake anywhere.
constexpr int64_t kIdleBeforeSpreadNs = 2'000'000;
constexpr int kMaxSpreadThreads = 256;  // larger teams are left to the OS

bool UserPlacesThreads() {
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "KMP_AFFINITY", "GOMP_CPU_AFFINITY"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}

std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// Runs this thread on `cpu` (if its affinity allows it) and then restores its affinity.
bool MoveThisThreadTo(int cpu) {
  cpu_set_t own;
  if (sched_getaffinity(0, sizeof(own), &own) != 0 || !CPU_ISSET(cpu, &own)) return false;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof(one), &one) != 0) return false;
  sched_setaffinity(0, sizeof(own), &own);
  return true;
}

bool UserChoseWaitPolicy() {
  return std::getenv("KMP_BLOCKTIME") != nullptr || std::getenv("OMP_WAIT_POLICY") != nullptr ||
         std::getenv("GOMP_SPINCOUNT") != nullptr;
}

// Idle workers spin for about a millisecond (long enough to catch the next op's parallel
// region) and then sleep, instead of libgomp's ~300k-spin default or libomp's 200 ms. Long
// spinning starves the other processes on a busy machine and, through the scheduler, the
// spinning threads' own team: with 2 threads on 2 loaded cores MobileNetV2 ran 5-13x slower
// than with one. Sleeping at once (blocktime 0) costs a futex wake-up, and on a loaded
// machine a wait for a time slice, at every parallel region: BERT-base at 2 threads, whose
// layers are many short ops, took 120 ms with 0 and 59 ms with 1 ms (docs/benchmarks.md).
constexpr const char* kBlocktimeSetting = "KMP_BLOCKTIME=1";
constexpr int kBlocktimeMs = 1;

void SpinBrieflyThenSleep() {
  if (kmp_set_defaults == nullptr || kmp_set_blocktime == nullptr || UserChoseWaitPolicy()) {
    return;
  }
  kmp_set_defaults(kBlocktimeSetting);  // threads that start OpenMP work later
  kmp_set_blocktime(kBlocktimeMs);      // this thread's teams, already initialised
}

}  // namespace

ThreadPool& ThreadPool::Process() {
  static ThreadPool pool;  // the process-wide pool (SPEC: one per process, shared with oneDNN)
  return pool;
}

ThreadPool::ThreadPool() {
  SpinBrieflyThenSleep();
  SetNumThreads(0);
}

const char* ThreadPool::OpenMpRuntime() {
  return kmp_set_blocktime != nullptr ? "llvm-libomp" : "gnu-libgomp";
}

void ThreadPool::SetNumThreads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  num_threads_.store(std::max(1, n), std::memory_order_relaxed);
  omp_set_num_threads(num_threads());  // oneDNN reads this from the calling thread
}

int SetCallerThreadCap(int n) {
  const int previous = caller_thread_cap;
  caller_thread_cap = std::max(0, n);
  // oneDNN sizes its parallel regions from the calling thread's OpenMP setting.
  omp_set_num_threads(caller_thread_cap > 0 ? caller_thread_cap
                                            : ThreadPool::Process().num_threads());
  return previous;
}

void ThreadPool::ParallelFor(int64_t n, int64_t grain,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t max_chunks = (n + grain - 1) / grain;
  int limit = num_threads();
  if (caller_thread_cap > 0) limit = std::min(limit, caller_thread_cap);
  const int threads = static_cast<int>(std::min<int64_t>(limit, max_chunks));
  if (threads <= 1 || omp_in_parallel()) {
    fn(0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t count = omp_get_num_threads();
    const int64_t begin = n * t / count;
    const int64_t end = n * (t + 1) / count;
    if (begin < end) fn(begin, end);
  }
}

void ThreadPool::SpreadWorkersAfterIdle() {
  if (num_threads() < 2 || omp_in_parallel()) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  const int64_t last = std::exchange(last_spread_check_ns, now);
  if (now - last >= kIdleBeforeSpreadNs) SpreadWorkers();
}

int ThreadPool::SpreadWorkers() {
  int threads = num_threads();
  if (caller_thread_cap > 0) threads = std::min(threads, caller_thread_cap);
  static const bool user_places_threads = UserPlacesThreads();  // read once, not per run
  if (threads < 2 || omp_in_parallel() || user_places_threads) return 0;
  if (threads > kMaxSpreadThreads) return 0;
  // The same team size as oneDNN's and ParallelFor's regions, so the same threads. A fixed
  // array: this runs before most runs, which allocate nothing else.
  std::array<int, kMaxSpreadThreads> cpu_of{};
#pragma omp parallel num_threads(threads)
  cpu_of[static_cast<size_t>(omp_get_thread_num())] = sched_getcpu();
  bool shared = false;
  for (int t = 1; t < threads && !shared; ++t) {
    for (int u = 0; u < t && !shared; ++u) shared = cpu_of[t] >= 0 && cpu_of[t] == cpu_of[u];
  }
  if (!shared) return 0;
  const std::vector<int> targets =
      SpreadTargets(std::vector<int>(cpu_of.begin(), cpu_of.begin() + threads), AllowedCpus());
  if (std::all_of(targets.begin(), targets.end(), [](int cpu) { return cpu < 0; })) return 0;
  int moved = 0;
#pragma omp parallel num_threads(threads) reduction(+ : moved)
  {
    const int target = targets[static_cast<size_t>(omp_get_thread_num())];
    if (target >= 0 && MoveThisThreadTo(target)) ++moved;
  }
  return moved;
}

}  // namespace unihal::hal
