// Tests of the integration harness itself, against hang_daemon (a FUSE daemon that never
// answers anything after INIT): a hung mount must cost a bounded time, be aborted and cleaned
// up, and leave no process or mount behind. Also checks the skip/fail rule for missing
// prerequisites. Needs root and /dev/fuse but not the fusebpf CLI.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include "integration/harness.h"

#ifndef FUSEBPF_HANG_DAEMON
#error "FUSEBPF_HANG_DAEMON must be defined"
#endif
#ifndef FUSEBPF_IT_DIFF
#error "FUSEBPF_IT_DIFF must be defined"
#endif

namespace fusebpf::it {
namespace {

class HarnessTest : public testing::Test {
 protected:
  void SetUp() override { ::setenv("FUSEBPF_BIN", FUSEBPF_HANG_DAEMON, 1); }
  void TearDown() override { ::unsetenv("FUSEBPF_BIN"); }
};

TEST_F(HarnessTest, AccessToAHungMountTimesOutAbortsAndCleansUp) {
  auto scratch = Scratch::create(LowerKind::kTmpfs);
  ASSERT_TRUE(scratch) << scratch.error();
  fs::path backing = (*scratch)->lower_dir("backing");
  auto mount = Mount::start(backing, (*scratch)->mnt(), {});
  ASSERT_TRUE(mount) << mount.error();
  Mount& m = **mount;
  pid_t pid = m.daemon_pid();
  ASSERT_GT(pid, 0) << "the harness must find the daemon's pid";
  EXPECT_TRUE(m.mounted());
  fs::path target = m.mountpoint() / "x";
  auto run = m.access([&](posix::Recorder& r) { r.sys("stat", ::access(target.c_str(), F_OK)); },
                      seconds(2));
  EXPECT_EQ(run.status, posix::IsolatedRun::Status::kTimedOut);
  EXPECT_LT(run.seconds, 15.0) << "abort + SIGKILL must release the stuck child quickly";
  // After the abort the mount answers at once (ENOTCONN) instead of hanging.
  auto after = m.access([&](posix::Recorder& r) { r.sys("stat", ::access(target.c_str(), F_OK)); },
                        seconds(5));
  EXPECT_EQ(after.status, posix::IsolatedRun::Status::kOk);
  EXPECT_EQ(after.recording.render(), "stat = ENOTCONN\n");
  m.stop();
  EXPECT_FALSE(m.mounted());
  EXPECT_TRUE(wait_gone(pid, seconds(10))) << "the daemon must be gone after stop()";
}

TEST(Scratch, Ext4OnLoopIsRemovedCompletely) {
  auto scratch = Scratch::create(LowerKind::kExt4, 64);
  ASSERT_TRUE(scratch) << scratch.error();
  fs::path root = (*scratch)->root();
  std::string loop = (*scratch)->loop_device();
  ASSERT_FALSE(loop.empty());
  auto entry = find_mount((*scratch)->lower());
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->fstype, "ext4");
  scratch->reset();
  EXPECT_FALSE(fs::exists(root)) << "Scratch must remove its directory";
  auto info = posix::run_command(
      {"losetup", "--noheadings", "--list", "--output", "BACK-FILE", loop}, seconds(10));
  EXPECT_EQ(info.out.find(root.string()), std::string::npos)
      << loop << " still attached: " << info.out;
}

TEST_F(HarnessTest, AWholeConfigurationAgainstAHungDaemonFailsFast) {
  ::setenv("FUSEBPF_TEST_STEP_TIMEOUT", "3", 1);
  auto r = posix::run_command(
      {FUSEBPF_IT_DIFF, "--lower=tmpfs", "--passthrough=on", "--creds=caller"}, seconds(240));
  ::unsetenv("FUSEBPF_TEST_STEP_TIMEOUT");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1) << r.out.substr(r.out.size() > 3000 ? r.out.size() - 3000 : 0);
  EXPECT_LT(r.seconds, 60.0);
  EXPECT_NE(r.out.find("health probe"), std::string::npos) << "the probe should catch the hang";
}

TEST(Prerequisites, SkipWithoutRootButFailUnderCi) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  std::vector<std::string> as_user = {"setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
                                      "env",     "-u",           "CI",           FUSEBPF_IT_DIFF};
  auto skipped = posix::run_command(as_user, seconds(30));
  EXPECT_EQ(skipped.exit_code, 77) << skipped.describe();
  EXPECT_NE(skipped.err.find("not running as root"), std::string::npos) << skipped.err;
  std::vector<std::string> as_ci = {"setpriv", "--reuid=1000", "--regid=1000", "--clear-groups",
                                    "env",     "CI=true",      FUSEBPF_IT_DIFF};
  auto failed = posix::run_command(as_ci, seconds(30));
  EXPECT_EQ(failed.exit_code, 1) << failed.describe();
  EXPECT_NE(failed.err.find("CI=true"), std::string::npos) << failed.err;
}

}  // namespace
}  // namespace fusebpf::it

int main(int argc, char** argv) {
  // This binary brings its own daemon, so only root, /dev/fuse and fusectl are prerequisites.
  ::setenv("FUSEBPF_BIN", FUSEBPF_HANG_DAEMON, 1);
  return fusebpf::it::integration_main(argc, argv);
}
