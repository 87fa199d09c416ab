#include "unihal/hal/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
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

}  // namespace
}  // namespace unihal::hal
