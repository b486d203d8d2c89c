// Tests for Result and FUSEBPF_TRY.
#include "base/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace fusebpf {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(Errno::kInval);
  return v;
}

Result<int> doubled(int v) {
  FUSEBPF_TRY(x, parse_positive(v));
  return x * 2;
}

Result<void> check(int v) {
  FUSEBPF_TRY_VOID(parse_positive(v));
  return {};
}

TEST(Result, ValueAndError) {
  EXPECT_EQ(*doubled(21), 42);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), Errno::kInval);
  EXPECT_TRUE(check(1));
  EXPECT_EQ(check(0).error(), Errno::kInval);
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r);
  auto p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, CustomErrorType) {
  Result<int, std::string> r = fail(std::string("bad"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "bad");
}

TEST(Errno, Names) {
  EXPECT_EQ(errno_name(Errno::kNoEnt), "ENOENT");
  EXPECT_EQ(errno_value(errno_from(-ENOTDIR)), ENOTDIR);
}

}  // namespace
}  // namespace fusebpf
