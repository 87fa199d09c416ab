// The process-wide CPU thread pool. It is the OpenMP runtime's pool, so oneDNN's primitives
// and unihal's own kernels share the same threads instead of competing for the cores. The
// build links LLVM's libomp ahead of libgomp when it is installed, so that oneDNN (built
// against libgomp) and unihal use that one runtime, whose idle threads spin briefly and then
// sleep (set here unless KMP_BLOCKTIME, OMP_WAIT_POLICY or GOMP_SPINCOUNT is in the environment).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace unihal::hal {

class ThreadPool {
 public:
  // The one pool of the process.
  static ThreadPool& Process();

  // "llvm-libomp" or "gnu-libgomp": the OpenMP runtime this process runs on.
  static const char* OpenMpRuntime();

  int num_threads() const { return num_threads_.load(std::memory_order_relaxed); }
  // n <= 0 means one thread per core.
  void SetNumThreads(int n);

  // Runs fn(begin, end) over disjoint chunks covering [0, n), each at least `grain` long
  // where possible, and returns when all are done. Runs inline when one chunk suffices.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Called before a run's kernels: SpreadWorkers, at most once per 2 ms per calling thread
  // (an idle team's workers are asleep by then). Linux often wakes a sleeping worker
  // on its waker's CPU and leaves it there for milliseconds; a 2-thread team then shares one
  // CPU and waits for a time slice at every barrier. SqueezeNet's first run after a pause then
  // took 2.7x its warm time (docs/benchmarks.md).
  void SpreadWorkersAfterIdle();
  // Moves each worker of the calling thread's team that shares a CPU with an earlier team
  // thread onto an allowed CPU that no team thread is on (pinning it there for a moment, then
  // giving its affinity back), and returns how many it moved. It does nothing where
  // OMP_PROC_BIND, OMP_PLACES, KMP_AFFINITY or GOMP_CPU_AFFINITY place the threads.
  int SpreadWorkers();

 private:
  ThreadPool();
  std::atomic<int> num_threads_{1};
};

}  // namespace unihal::hal
