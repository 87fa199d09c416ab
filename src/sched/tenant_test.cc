#include "sched/tenant.h"

#include <gtest/gtest.h>

namespace unihal::sched {
namespace {

TEST(TenantTest, EnergyBudgetPerWindow) {
  TenantConfig config;
  config.name = "eco";
  config.energy_j_per_window = 1.0;
  config.energy_window_s = 1.0;
  Tenant tenant(config);
  const int64_t t0 = 1'000'000'000;
  auto task = std::make_shared<TaskRecord>();
  ASSERT_TRUE(*tenant.Admit(task, t0));
  tenant.Release(*task, t0);
  tenant.ChargeEnergy(1.5, t0);
  auto next = std::make_shared<TaskRecord>();
  Result<bool> over = tenant.Admit(next, t0 + 1000);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("J"), std::string::npos);
  // The next window starts fresh.
  EXPECT_TRUE(*tenant.Admit(next, t0 + 1'000'000'001));
}

TEST(TenantTest, QueuedTasksAreAdmittedInOrderAsBudgetFrees) {
  TenantConfig config;
  config.name = "q";
  config.max_concurrent_tasks = 1;
  config.over_budget = OverBudgetPolicy::kQueue;
  Tenant tenant(config);
  auto a = std::make_shared<TaskRecord>();
  auto b = std::make_shared<TaskRecord>();
  auto c = std::make_shared<TaskRecord>();
  EXPECT_TRUE(*tenant.Admit(a, 1));
  EXPECT_FALSE(*tenant.Admit(b, 1));
  EXPECT_FALSE(*tenant.Admit(c, 1));
  EXPECT_EQ(tenant.Release(*a, 2), (std::vector<std::shared_ptr<TaskRecord>>{b}));
  EXPECT_EQ(tenant.Release(*b, 3), (std::vector<std::shared_ptr<TaskRecord>>{c}));
  EXPECT_EQ(tenant.stats().in_flight, 1);
}

TEST(TenantTest, CeilingLowersOrRejects) {
  TenantConfig config;
  config.name = "c";
  config.priority_ceiling = Priority::kHigh;
  Tenant reject(config);
  EXPECT_EQ(reject.ApplyCeiling(Priority::kCritical).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(*reject.ApplyCeiling(Priority::kLow), 3);
  config.over_budget = OverBudgetPolicy::kQueue;
  Tenant lower(config);
  EXPECT_EQ(*lower.ApplyCeiling(Priority::kCritical), 1);
}

}  // namespace
}  // namespace unihal::sched
