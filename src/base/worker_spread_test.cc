#include "base/worker_spread.h"

#include <gtest/gtest.h>

namespace unihal::hal {
namespace {

TEST(SpreadTargetsTest, MovesLaterThreadsOffASharedCpuOntoFreeOnes) {
  // Threads 0 and 1 share CPU 2, threads 2 and 3 share CPU 5; CPUs 0, 1, 3 are free.
  EXPECT_EQ(SpreadTargets({2, 2, 5, 5}, {0, 1, 2, 3, 5}), (std::vector<int>{-1, 0, -1, 1}));
}

TEST(SpreadTargetsTest, LeavesThreadsAloneWhenEachHasItsOwnCpu) {
  EXPECT_EQ(SpreadTargets({1, 0}, {0, 1}), (std::vector<int>{-1, -1}));
}

TEST(SpreadTargetsTest, NeverMovesTheCallerAndStopsWhenNoCpuIsFree) {
  // Both CPUs taken: the second thread on CPU 1 has nowhere to go.
  EXPECT_EQ(SpreadTargets({1, 0, 1}, {0, 1}), (std::vector<int>{-1, -1, -1}));
  EXPECT_EQ(SpreadTargets({0, 0, 0}, {0, 1}), (std::vector<int>{-1, 1, -1}));
}

TEST(SpreadTargetsTest, IgnoresUnknownCpusAndDuplicateAllowedEntries) {
  EXPECT_EQ(SpreadTargets({-1, 3, 3}, {3, 4, 4}), (std::vector<int>{-1, -1, 4}));
}

}  // namespace
}  // namespace unihal::hal
