// Differential POSIX tests on a real mount: every scenario of tests/posix runs once on a native
// directory and once through `fusebpf mount` of a sibling directory on the same lower file
// system, and the two recordings must be equal (except for explicit per-configuration
// expectations below). One process = one configuration, chosen on the command line:
//
//   it_diff --lower=tmpfs|ext4 --passthrough=on|off --creds=caller|daemon [--transport=NAME]
//           [--cache=none|auto|always]
//
// Robustness: a scenario that does not finish within FUSEBPF_TEST_STEP_TIMEOUT (60 s) has its
// connection aborted, the daemon is remounted, and after two hangs the remaining scenarios fail
// at once; the whole configuration also has a budget (FUSEBPF_IT_CONFIG_BUDGET, 240 s).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "integration/harness.h"
#include "posix/scenario.h"

namespace fusebpf::it {
namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  LowerKind lower = LowerKind::kTmpfs;
  bool passthrough = true;
  std::string creds = "caller";
  std::string transport;  // empty: the daemon's default
  std::string cache;      // empty: the daemon's default (auto)

  std::string name() const {
    return fmt::format("{}_{}_{}{}{}", lower_name(lower), passthrough ? "pt" : "nopt", creds,
                       transport.empty() ? "" : "_" + transport,
                       cache.empty() ? "" : "_cache_" + cache);
  }
  std::vector<std::string> mount_args() const {
    std::vector<std::string> args;
    if (!passthrough) args.push_back("--no-passthrough");
    args.push_back("--creds=" + creds);
    if (!transport.empty()) args.push_back("--transport=" + transport);
    if (!cache.empty()) args.push_back("--cache=" + cache);
    return args;
  }
};

Config g_config;

// Where a mount records something else than the native run in some configurations. Each entry
// replaces the native value of `key` by `mount_value` before comparing, so the difference is
// still checked exactly (a third value fails). Two kinds:
//  - kExpected: a legitimate difference (documented semantics of a mode, or a kernel FUSE limit);
//  - kKnownBug: a daemon bug that is reported and tracked. Its entry is strict: once the daemon
//    is fixed, the comparison fails until the entry is deleted (the message says so).
// An entry whose key the scenario no longer records also fails, so the list cannot rot.
enum class Kind { kExpected, kKnownBug };

struct Expectation {
  Kind kind;
  const char* scenario;
  bool (*applies)(const Config&);
  const char* key;
  const char* mount_value;
  const char* why;
};

bool always(const Config&) { return true; }
bool creds_daemon(const Config& c) { return c.creds == "daemon"; }
bool passthrough(const Config& c) { return c.passthrough; }
bool ext4(const Config& c) { return c.lower == LowerKind::kExt4; }

constexpr const char* kOwnedByDaemon =
    "--creds=daemon: uid 1000 creates files through the mount, but they belong to the daemon "
    "(root) on the lower fs; so uid 1000 may not chmod them, set their xattrs (mode 0640) or "
    "unlink them from a sticky directory. This is what the mode means.";
constexpr const char* kFuseFallocate =
    "the kernel's FUSE fallocate accepts only KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE and answers "
    "EOPNOTSUPP itself for COLLAPSE_RANGE/INSERT_RANGE, which ext4 supports natively";

const Expectation kExpectations[] = {
    // --creds=daemon ownership.
    {Kind::kExpected, "other_user", creds_daemon, "owner.mine",
     "file mode=0640 nlink=1 uid=0 gid=0 size=4", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "owner.mydir",
     "dir mode=0755 nlink=2 uid=0 gid=0", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "owner.mylink",
     "symlink mode=0777 nlink=1 uid=0 gid=0 size=4", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "owner.myfifo",
     "fifo mode=0600 nlink=1 uid=0 gid=0 size=0", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "owner.sgid_file",
     "file mode=0644 nlink=1 uid=0 gid=50 size=0", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "owner.sgid_dir",
     "dir mode=2755 nlink=2 uid=0 gid=50", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "user.chmod.mine", "EPERM", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "user.setxattr.own", "EACCES", kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "user.unlink.sticky_own", "EPERM",
     kOwnedByDaemon},
    {Kind::kExpected, "other_user", creds_daemon, "listing.sticky", "m,rootfile", kOwnedByDaemon},
    // Kernel FUSE fallocate modes.
    {Kind::kExpected, "fallocate_modes", ext4, "collapse_range.fallocate", "EOPNOTSUPP",
     kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "collapse_range.size", "20480", kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "collapse_range.content",
     "size=20480 hash=820917e8d0c43d86", kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "insert_range.fallocate", "EOPNOTSUPP",
     kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "insert_range.size", "20480", kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "insert_range.allocated_covers_size", "yes",
     kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "insert_range.content",
     "size=20480 hash=820917e8d0c43d86", kFuseFallocate},
    {Kind::kExpected, "fallocate_modes", ext4, "unaligned_collapse.fallocate", "EOPNOTSUPP",
     kFuseFallocate},
    // Kernel passthrough: the kernel opens its own backing file for each FUSE open, with the
    // flags of that open, and never learns of a later fcntl(F_SETFL) (the daemon-served path
    // honours it: write_in.flags carries the current flags).
    {Kind::kExpected, "open_append", passthrough, "content.final",
     "start;a0;bb0;a1;bb1;a2;bb2;a3;bb3;a4;bb4;PES",
     "kernel passthrough keeps the O_APPEND of open time after fcntl(F_SETFL) clears it"},
    // Known daemon bugs (see tests/README.md "Known daemon bugs").
    {Kind::kKnownBug, "ofd_locks", always, "ofd.setlk.b_after_close", "*",
     "an OFD lock outlives close() of its last fd for a moment: it is dropped at RELEASE, which "
     "the kernel sends asynchronously (flaky under load: EAGAIN instead of ok)"},
};

class MatrixRun {
 public:
  void run(const posix::Scenario& s);
  void finish();

 private:
  bool ensure_mounted();
  posix::Recorder expected_for(const posix::Scenario& s, const posix::Recorder& native,
                               const posix::Recorder& mounted);
  std::string repro(const posix::Scenario& s) const;

  std::unique_ptr<Scratch> scratch_;
  std::unique_ptr<Mount> mount_;
  fs::path native_, backing_;
  std::string fatal_;
  int hangs_ = 0;
  Clock::time_point start_ = Clock::now();
};

std::unique_ptr<MatrixRun> g_run;

seconds config_budget() {
  const char* v = std::getenv("FUSEBPF_IT_CONFIG_BUDGET");
  int secs = v != nullptr ? std::atoi(v) : 0;
  return seconds(secs > 0 ? secs : 240);
}

bool MatrixRun::ensure_mounted() {
  if (mount_) return true;
  if (!scratch_) {
    auto s = Scratch::create(g_config.lower);
    if (!s) {
      fatal_ = "cannot create the lower file system: " + s.error();
      return false;
    }
    scratch_ = std::move(*s);
    native_ = scratch_->lower_dir("native");
    backing_ = scratch_->lower_dir("backing");
  }
  auto m = Mount::start(backing_, scratch_->mnt(), g_config.mount_args(),
                        scratch_->root() / "daemon.log");
  if (!m) {
    fatal_ = m.error();
    return false;
  }
  mount_ = std::move(*m);
  if (!g_config.transport.empty()) {
    // Right after `fusebpf mount` returns, an io_uring daemon may still report "dev" for a moment
    // (its queues register after INIT); give it a few seconds before calling it a fallback.
    std::optional<std::string> transport;
    for (int i = 0; i < 50 && transport != g_config.transport; ++i) {
      if (i > 0) std::this_thread::sleep_for(milliseconds(100));
      auto json = mount_->stats_json();
      transport = json ? json_string(*json, "transport") : std::nullopt;
    }
    if (transport != g_config.transport) {
      fatal_ = fmt::format("asked for --transport={} but `fusebpf stats` reports {}",
                           g_config.transport, transport.value_or("nothing"));
      mount_.reset();
      return false;
    }
  }
  // Health probe: a daemon that cannot answer a getattr on its root fails the whole
  // configuration in seconds instead of one step timeout per scenario.
  fs::path mnt = mount_->mountpoint();
  auto probe =
      mount_->access([mnt](posix::Recorder& r) { r.sys("stat", ::access(mnt.c_str(), F_OK)); },
                     std::min<milliseconds>(step_timeout(), seconds(15)));
  if (probe.status != posix::IsolatedRun::Status::kOk ||
      probe.recording.render() != "stat = ok\n") {
    fatal_ = fmt::format("health probe (access({}) through the fresh mount) failed: {} {}",
                         mnt.string(), probe.detail, probe.recording.render());
    mount_.reset();
    return false;
  }
  return true;
}

posix::Recorder MatrixRun::expected_for(const posix::Scenario& s, const posix::Recorder& native,
                                        const posix::Recorder& mounted) {
  posix::Recorder out;
  for (const auto& e : native.entries()) {
    std::string value = e.value;
    for (const Expectation& x : kExpectations) {
      if (s.name != x.scenario || !x.applies(g_config) || e.key != x.key) continue;
      value = x.mount_value;
      if (value == "*") {  // flaky known bug: whatever the mount recorded for this key
        for (const auto& m : mounted.entries()) {
          if (m.key == e.key) value = m.value;
        }
      }
    }
    out.note(e.key, value);
  }
  // A flaky known bug ("*"): the scenario's recording is not compared in this configuration.
  for (const Expectation& x : kExpectations) {
    if (s.name == x.scenario && x.applies(g_config) && std::string_view(x.key) == "*")
      return mounted;
  }
  for (const Expectation& x : kExpectations) {
    if (s.name != x.scenario || !x.applies(g_config) || std::string_view(x.key) == "*") continue;
    bool found = false;
    for (const auto& e : native.entries()) found |= e.key == x.key;
    if (!found)
      ADD_FAILURE() << "stale expectation: scenario " << s.name << " records no key " << x.key;
  }
  return out;
}

// Prints the known bugs a run reproduced; returns the explanation of any entry that no longer
// matches (the bug is fixed or changed), for the failure message.
std::string check_known_bugs(const posix::Scenario& s, const posix::Recorder& mounted) {
  std::string changed;
  for (const Expectation& x : kExpectations) {
    if (x.kind != Kind::kKnownBug || s.name != x.scenario || !x.applies(g_config)) continue;
    if (std::string_view(x.key) == "*") {
      std::printf("KNOWN DAEMON BUG (flaky; %s not compared in this configuration): %s\n",
                  s.name.c_str(), x.why);
      continue;
    }
    std::string got = "<missing>";
    for (const auto& e : mounted.entries()) {
      if (e.key == x.key) got = e.value;
    }
    if (std::string_view(x.mount_value) == "*") {
      std::printf("KNOWN DAEMON BUG (flaky; %s / %s not compared): %s\n", s.name.c_str(), x.key,
                  x.why);
    } else if (got == x.mount_value) {
      std::printf("KNOWN DAEMON BUG reproduced (%s, %s): %s\n", s.name.c_str(), x.key, x.why);
    } else {
      changed += fmt::format(
          "  known-bug entry {} / {} expects {:?} but the mount gave {:?}: if the bug "
          "is fixed, delete the entry in diff_test.cc\n",
          s.name, x.key, x.mount_value, got);
    }
  }
  return changed;
}

std::string MatrixRun::repro(const posix::Scenario& s) const {
  std::string lower =
      g_config.lower == LowerKind::kTmpfs
          ? "mount -t tmpfs none $d"
          : "truncate -s 768M $d.img && mkfs.ext4 -q $d.img && mount -o loop $d.img $d";
  std::string opts;
  for (const auto& o : g_config.mount_args()) opts += " " + o;
  return fmt::format(
      "repro (as root):\n  d=$(mktemp -d /tmp/fusebpf-it-XXXXXX) && {} && chmod 755 $d && mkdir "
      "-m755 "
      "$d/native $d/backing $d/mnt\n  {} mount{} $d/backing $d/mnt\n  {} -s {} --compare $d/native "
      "$d/mnt\n  {} umount $d/mnt; umount $d",
      lower, fusebpf_bin(), opts, posix_run_bin(), s.name, fusebpf_bin());
}

std::function<void(posix::Recorder&)> scenario_body(const posix::Scenario& s, const fs::path& dir) {
  return [&s, dir](posix::Recorder& r) {
    if (::mkdir(dir.c_str(), 0755) != 0) {
      r.sys("harness.mkdir", -1);
      return;
    }
    ::chmod(dir.c_str(), 0755);
    s.run(dir, r);
  };
}

void MatrixRun::run(const posix::Scenario& s) {
  if (!fatal_.empty()) FAIL() << "not run: " << fatal_;
  if (Clock::now() - start_ > config_budget()) {
    fatal_ =
        fmt::format("the configuration's time budget ({} s) is used up", config_budget().count());
    FAIL() << "not run: " << fatal_;
  }
  if (!ensure_mounted()) FAIL() << fatal_;
  auto native = posix::run_isolated(scenario_body(s, native_ / s.name), step_timeout());
  ASSERT_EQ(native.status, posix::IsolatedRun::Status::kOk)
      << "the native run failed (a scenario bug): " << native.detail;
  fs::path mdir = mount_->mountpoint() / s.name;
  auto mounted = mount_->access(scenario_body(s, mdir), step_timeout());
  std::string last =
      mounted.recording.empty() ? "(nothing)" : mounted.recording.entries().back().key;
  if (mounted.status == posix::IsolatedRun::Status::kTimedOut) {
    ++hangs_;
    std::string forced = mount_->stop();
    mount_.reset();
    if (hangs_ >= 2) fatal_ = "the daemon hung twice in this configuration";
    FAIL() << s.name << " hung through the mount (" << mounted.detail
           << "); last entry recorded: " << last << "; connection aborted, daemon stopped ("
           << forced << ")\n"
           << repro(s) << "\ndaemon log tail:\n"
           << log_tail_of(scratch_->root() / "daemon.log");
  }
  EXPECT_EQ(mounted.status, posix::IsolatedRun::Status::kOk)
      << "the scenario process died through the mount: " << mounted.detail
      << "; last entry: " << last;
  if (mounted.status != posix::IsolatedRun::Status::kOk || !process_alive(mount_->daemon_pid())) {
    std::cerr << "daemon log tail:\n" << mount_->log_tail();
  }
  std::string diff = posix::diff_recordings(expected_for(s, native.recording, mounted.recording),
                                            mounted.recording, "native", "mount");
  EXPECT_EQ(diff, "") << s.name << " differs through the mount (" << g_config.name() << "):\n"
                      << diff << check_known_bugs(s, mounted.recording) << repro(s);
  if (diff.empty()) check_known_bugs(s, mounted.recording);
  fs::path mnt = mount_->mountpoint();
  auto probe =
      mount_->access([mnt](posix::Recorder& r) { r.sys("stat", ::access(mnt.c_str(), F_OK)); },
                     std::min<milliseconds>(step_timeout(), seconds(15)));
  if (!process_alive(mount_->daemon_pid()) || probe.recording.render() != "stat = ok\n") {
    ADD_FAILURE() << "after " << s.name << " the daemon (pid " << mount_->daemon_pid() << ") is "
                  << (process_alive(mount_->daemon_pid()) ? "alive" : "dead")
                  << " and access(mountpoint) gives " << probe.recording.render() << probe.detail
                  << "; daemon log tail:\n"
                  << mount_->log_tail();
    mount_->stop();
    mount_.reset();
    return;
  }
  // Clean up (through the mount: rm -rf is one more test of unlink/rmdir).
  std::error_code ec;
  fs::remove_all(native_ / s.name, ec);
  auto rm = mount_->access(
      [mdir](posix::Recorder& r) {
        std::error_code e;
        fs::remove_all(mdir, e);
        r.note("remove_all", e ? e.message() : "ok");
      },
      step_timeout());
  EXPECT_EQ(rm.recording.render(), "remove_all = ok\n")
      << "rm -rf " << mdir << " through the mount failed: " << rm.detail;
}

void MatrixRun::finish() {
  if (!mount_) return;
  std::string forced = mount_->stop();
  EXPECT_EQ(forced, "") << "unmounting was not clean";
  mount_.reset();
  scratch_.reset();
}

class ScenarioTest : public testing::Test {
 public:
  explicit ScenarioTest(const posix::Scenario* s) : s_(s) {}
  void TestBody() override { g_run->run(*s_); }

 private:
  const posix::Scenario* s_;
};

class FinishTest : public testing::Test {
 public:
  void TestBody() override { g_run->finish(); }
};

bool parse_config(std::vector<std::string>& args) {
  for (auto it = args.begin(); it != args.end();) {
    std::string a = *it;
    if (a == "--lower=tmpfs" || a == "--lower=ext4") {
      g_config.lower = a == "--lower=tmpfs" ? LowerKind::kTmpfs : LowerKind::kExt4;
    } else if (a == "--passthrough=on" || a == "--passthrough=off") {
      g_config.passthrough = a == "--passthrough=on";
    } else if (a == "--creds=caller" || a == "--creds=daemon") {
      g_config.creds = a.substr(8);
    } else if (a.rfind("--transport=", 0) == 0) {
      g_config.transport = a.substr(12);
    } else if (a == "--cache=none" || a == "--cache=auto" || a == "--cache=always") {
      g_config.cache = a.substr(8);
    } else {
      ++it;
      continue;
    }
    it = args.erase(it);
  }
  return true;
}

}  // namespace
}  // namespace fusebpf::it

int main(int argc, char** argv) {
  using namespace fusebpf::it;
  return integration_main(argc, argv, [](std::vector<std::string>& args) {
    if (!parse_config(args)) return false;
    g_run = std::make_unique<MatrixRun>();
    std::string suite = "Diff_" + g_config.name();
    for (const auto& s : fusebpf::posix::all_scenarios()) {
      const fusebpf::posix::Scenario* sp = &s;
      testing::RegisterTest(suite.c_str(), s.name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [sp]() -> testing::Test* { return new ScenarioTest(sp); });
    }
    testing::RegisterTest(suite.c_str(), "zz_unmount_is_clean", nullptr, nullptr, __FILE__,
                          __LINE__, []() -> testing::Test* { return new FinishTest(); });
    return true;
  });
}
