// Tests for the syscall wrappers.
#include "base/sys.h"

#include <gtest/gtest.h>
#include <linux/openat2.h>

#include <cstdlib>
#include <string>

#include "base/scope_exit.h"

namespace fusebpf {
namespace {

class SysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fusebpf-sys-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(SysTest, WriteThenReadFile) {
  auto dir = sys::open_at(AT_FDCWD, dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_TRUE(dir);
  ASSERT_TRUE(sys::write_file(dir->get(), "a", "hello"));
  auto text = sys::read_file(dir->get(), "a");
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "hello");
  EXPECT_EQ(sys::read_file(dir->get(), "missing").error(), Errno::kNoEnt);
}

TEST_F(SysTest, OpenAt2StaysBeneath) {
  auto dir = sys::open_at(AT_FDCWD, dir_.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_TRUE(dir);
  auto escaped = sys::open_at2(dir->get(), "../", O_PATH, RESOLVE_BENEATH);
  ASSERT_FALSE(escaped);
  EXPECT_EQ(escaped.error(), Errno::kXDev);
  EXPECT_TRUE(sys::open_at2(dir->get(), ".", O_PATH, RESOLVE_BENEATH));
}

TEST_F(SysTest, ScopeExitRuns) {
  int runs = 0;
  {
    ScopeExit a([&] { ++runs; });
    ScopeExit b([&] { ++runs; });
    b.dismiss();
  }
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace fusebpf
