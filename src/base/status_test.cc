#include "unihal/status.h"

#include <gtest/gtest.h>

namespace unihal {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return InvalidArgumentError("value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> Doubled(int v) {
  UH_ASSIGN_OR_RETURN(int checked, ParsePositive(v));
  return checked * 2;
}

Status CheckBoth(int a, int b) {
  UH_RETURN_IF_ERROR(ParsePositive(a));
  UH_RETURN_IF_ERROR(ParsePositive(b).status().WithContext("second argument"));
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = NotFoundError("model.onnx");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: model.onnx");
}

TEST(StatusTest, ContextIsPrepended) {
  Status s = InvalidArgumentError("bad dims").WithContext("node 'c1' (Conv)").WithContext("load");
  EXPECT_EQ(s.message(), "load: node 'c1' (Conv): bad dims");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(StatusTest, MacrosPropagate) {
  EXPECT_EQ(*Doubled(4), 8);
  Result<int> bad = Doubled(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "value -1 is not positive");
  Status both = CheckBoth(1, 0);
  EXPECT_EQ(both.message(), "second argument: value 0 is not positive");
  EXPECT_TRUE(CheckBoth(1, 2).ok());
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "UNKNOWN");
  }
}

}  // namespace
}  // namespace unihal
