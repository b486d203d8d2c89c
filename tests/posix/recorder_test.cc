// Tests for Recorder, diff_recordings and run_isolated.
#include "posix/recorder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "posix/isolate.h"

namespace fusebpf::posix {
namespace {

TEST(Recorder, RecordsSyscallResultsAndErrnoNames) {
  Recorder r;
  errno = ENOENT;
  r.sys("fail", -1);
  r.sys("ok", 3);
  r.sys_val("value", 3);
  r.flag("yes", true);
  ASSERT_EQ(r.entries().size(), 4u);
  EXPECT_EQ(r.entries()[0].value, "ENOENT");
  EXPECT_EQ(r.entries()[1].value, "ok");
  EXPECT_EQ(r.entries()[2].value, "3");
  EXPECT_EQ(r.entries()[3].value, "yes");
}

TEST(Recorder, RepeatedKeysGetSuffixes) {
  Recorder r;
  r.note("k", "a");
  r.note("k", "b");
  EXPECT_EQ(r.entries()[1].key, "k#2");
}

TEST(Recorder, SerializeRoundTripsEscapes) {
  Recorder r;
  r.note("tab\tkey", "line\nbreak\\slash");
  r.note("plain", "");
  Recorder back = Recorder::parse(r.serialize());
  EXPECT_EQ(back.entries(), r.entries());
}

TEST(Recorder, DiffNamesMismatchedMissingAndExtraKeys) {
  Recorder a, b;
  a.note("same", "1");
  a.note("changed", "x");
  a.note("only_a", "1");
  b.note("same", "1");
  b.note("changed", "y");
  b.note("only_b", "1");
  std::string d = diff_recordings(a, b, "native", "mount");
  EXPECT_NE(d.find("changed: native=\"x\" mount=\"y\""), std::string::npos) << d;
  EXPECT_NE(d.find("only_a: native=\"1\" mount=<missing>"), std::string::npos) << d;
  EXPECT_NE(d.find("only_b: native=<missing>"), std::string::npos) << d;
  EXPECT_EQ(d.find("same"), std::string::npos) << d;
  EXPECT_EQ(diff_recordings(a, a, "x", "y"), "");
}

TEST(RunIsolated, ReturnsTheChildsRecording) {
  IsolatedRun run =
      run_isolated([](Recorder& r) { r.note("pid_differs", "yes"); }, std::chrono::seconds(10));
  EXPECT_EQ(run.status, IsolatedRun::Status::kOk);
  ASSERT_EQ(run.recording.entries().size(), 1u);
}

TEST(RunIsolated, TimesOutKillsAndKeepsPartialRecording) {
  bool called = false;
  IsolatedRun run = run_isolated(
      [](Recorder& r) {
        r.note("before_hang", "1");
        ::pause();
      },
      std::chrono::milliseconds(300), [&] { called = true; });
  EXPECT_EQ(run.status, IsolatedRun::Status::kTimedOut);
  EXPECT_TRUE(called);
  ASSERT_EQ(run.recording.entries().size(), 1u);
  EXPECT_EQ(run.recording.entries()[0].key, "before_hang");
  EXPECT_LT(run.seconds, 5.0);
}

TEST(RunIsolated, ReportsACrash) {
  IsolatedRun run = run_isolated([](Recorder&) { ::abort(); }, std::chrono::seconds(10));
  EXPECT_EQ(run.status, IsolatedRun::Status::kCrashed);
  EXPECT_NE(run.detail.find("signal"), std::string::npos) << run.detail;
}

TEST(RunIsolated, KillsGrandchildrenOnTimeout) {
  // A grandchild holding the pipe open must not keep the parent waiting past the deadline.
  IsolatedRun run = run_isolated(
      [](Recorder&) {
        if (::fork() == 0) ::pause();
        ::pause();
      },
      std::chrono::milliseconds(300));
  EXPECT_EQ(run.status, IsolatedRun::Status::kTimedOut);
  EXPECT_LT(run.seconds, 5.0);
}

TEST(RunCommand, CapturesOutputAndExitCode) {
  CommandResult r =
      run_command({"sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
  EXPECT_FALSE(r.timed_out);
}

TEST(RunCommand, DoesNotWaitForABackgroundChildHoldingThePipes) {
  // Like `fusebpf mount`: the command exits while the daemon it started keeps stdout open.
  CommandResult r = run_command({"sh", "-c", "sleep 30 & echo started"}, std::chrono::seconds(10));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(RunCommand, TimesOut) {
  bool called = false;
  CommandResult r =
      run_command({"sleep", "30"}, std::chrono::milliseconds(200), [&] { called = true; });
  EXPECT_TRUE(r.timed_out);
  EXPECT_TRUE(called);
  EXPECT_EQ(r.exit_code, -1);
}

TEST(InChild, RunsAsAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Recorder r = in_child([](Recorder& c) { c.num("uid", ::geteuid()); }, 1000, 1000);
  ASSERT_EQ(r.entries().size(), 1u);
  EXPECT_EQ(r.entries()[0].value, "1000");
}

}  // namespace
}  // namespace fusebpf::posix
