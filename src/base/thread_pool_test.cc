#include "unihal/hal/thread_pool.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace unihal::hal {
namespace {

TEST(ThreadPoolTest, CoversTheRangeExactlyOnce) {
  ThreadPool& pool = ThreadPool::Process();
  for (int64_t n : {1, 2, 3, 17, 1000, 100003}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    pool.ParallelFor(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPoolTest, GrainLimitsTheNumberOfChunks) {
  ThreadPool& pool = ThreadPool::Process();
  std::mutex mu;
  int chunks = 0;
  pool.ParallelFor(100, 1000, [&](int64_t b, int64_t e) {
    std::lock_guard<std::mutex> lock(mu);
    ++chunks;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 100);
  });
  EXPECT_EQ(chunks, 1);
}

TEST(ThreadPoolTest, NestedCallsRunInline) {
  ThreadPool& pool = ThreadPool::Process();
  std::atomic<int64_t> total{0};
  pool.ParallelFor(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      pool.ParallelFor(10, 1, [&](int64_t b2, int64_t e2) { total += e2 - b2; });
    }
  });
  EXPECT_EQ(total.load(), 80);
}

TEST(ThreadPoolTest, ThreadCountIsSettable) {
  ThreadPool& pool = ThreadPool::Process();
  const int before = pool.num_threads();
  pool.SetNumThreads(1);
  EXPECT_EQ(pool.num_threads(), 1);
  pool.SetNumThreads(0);
  EXPECT_GE(pool.num_threads(), 1);
  pool.SetNumThreads(before);
}

// Two team threads made to share one CPU (pinned there, then given their affinity back): when
// SpreadWorkers finds them still together it moves one. The OS may part them first, and on a
// busy machine it may put them together again at any time, so the test asks only that a move
// happens within some tries, and that the moved thread got its affinity back.
TEST(ThreadPoolTest, SpreadWorkersMovesAThreadOffASharedCpu) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  if (CPU_COUNT(&allowed) < 2) GTEST_SKIP() << "needs two CPUs";
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "KMP_AFFINITY", "GOMP_CPU_AFFINITY"}) {
    if (std::getenv(name) != nullptr) GTEST_SKIP() << name << " places the threads";
  }
  int first = 0;
  while (!CPU_ISSET(first, &allowed)) ++first;
  ThreadPool& pool = ThreadPool::Process();
  const int before = pool.num_threads();
  pool.SetNumThreads(2);
  int moved = 0;
  for (int attempt = 0; attempt < 30 && moved == 0; ++attempt) {
#pragma omp parallel num_threads(2)
    {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(first, &one);
      sched_setaffinity(0, sizeof(one), &one);
      sched_setaffinity(0, sizeof(allowed), &allowed);
    }
    moved = pool.SpreadWorkers();
  }
  EXPECT_EQ(moved, 1);
  int equal_masks = 0;
#pragma omp parallel num_threads(2) reduction(+ : equal_masks)
  {
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof(mask), &mask) == 0 && CPU_EQUAL(&mask, &allowed)) {
      ++equal_masks;
    }
  }
  EXPECT_EQ(equal_masks, 2);
  pool.SetNumThreads(before);
}

}  // namespace
}  // namespace unihal::hal
