// The integration-test harness: real FUSE mounts of our daemon over a scratch lower file
// system, with the one rule that keeps CI from hanging: this process never touches a mount
// itself. Every access runs in a child process with a deadline (Mount::access / posix::
// run_isolated); on timeout the harness aborts the FUSE connection through fusectl (which fails
// every pending and future request), kills the child's process group, lazily unmounts and kills
// the daemon it started, by PID. Scratch space is /tmp/fusebpf-it-XXXXXX (scripts/test.sh
// removes leftovers matching fusebpf-it).
//
// Not thread-safe: one test thread per process (tests fork).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "posix/isolate.h"
#include "posix/recorder.h"

namespace fusebpf::it {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Exits with 77 (ctest: skipped) when root, /dev/fuse, fusectl or the fusebpf binary is
// missing, except under CI=true, where it prints why and exits 1. Call first thing in main().
void exit_unless_prerequisites();

// FUSEBPF_TEST_STEP_TIMEOUT (seconds), default 60: the deadline of one scenario / access.
milliseconds step_timeout();
// FUSEBPF_BIN, default the build tree's fusebpf.
std::string fusebpf_bin();
// The posix_run tool (for repro commands).
std::string posix_run_bin();

// The mount at `path` according to /proc/self/mountinfo (never touches the path itself).
struct MountEntry {
  unsigned major = 0, minor = 0;
  std::string fstype;
};
std::optional<MountEntry> find_mount(const fs::path& path);
// fusectl directory name of a FUSE connection: the kernel's dev_t, (major << 20) | minor.
std::string connection_dir(const MountEntry& entry);
// PIDs whose command line has an argument equal to `arg` (how a daemon is found when it cannot
// tell us its pid; our mount points are unique paths, so this never finds someone else's).
std::vector<pid_t> pids_with_argument(const std::string& arg);
bool process_alive(pid_t pid);
// Waits until `pid` has gone (true) or `limit` passed (false).
bool wait_gone(pid_t pid, milliseconds limit);
// Resident set size of a process in KiB (from /proc/PID/status), or -1.
long vm_rss_kib(pid_t pid);
// Number of open file descriptors of a process, or -1.
long fd_count(pid_t pid);

// The last `lines` lines of a text file ("" when unreadable).
std::string log_tail_of(const fs::path& file, int lines = 20);

enum class LowerKind { kTmpfs, kExt4 };
std::string_view lower_name(LowerKind kind);

// /tmp/fusebpf-it-XXXXXX/{lower (a fresh tmpfs or ext4-on-loop mount), mnt, ...}. The
// destructor unmounts `lower` (lazily if busy), detaches the loop device and removes the
// directories without ever recursing into a mount.
class Scratch {
 public:
  static Result<std::unique_ptr<Scratch>, std::string> create(LowerKind kind, int ext4_mib = 768);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  const fs::path& root() const { return root_; }
  fs::path lower() const { return root_ / "lower"; }
  fs::path mnt() const { return root_ / "mnt"; }
  LowerKind kind() const { return kind_; }
  const std::string& loop_device() const { return loop_device_; }
  // Creates lower()/name (mode 0755) and returns it.
  fs::path lower_dir(const std::string& name) const;

 private:
  Scratch() = default;
  fs::path root_;
  LowerKind kind_ = LowerKind::kTmpfs;
  std::string loop_device_;
};

// One daemon mount started with `fusebpf mount`. The destructor stops it (see stop()).
class Mount {
 public:
  // Runs `$FUSEBPF_BIN mount OPTIONS BACKING MNT` (deadline 30 s) and finds the daemon's pid
  // (from `stats --json`, else by scanning /proc for its command line). On failure nothing is
  // left mounted or running.
  // When `log` is not empty, `--log LOG` is added so that failures can show the daemon's log.
  static Result<std::unique_ptr<Mount>, std::string> start(const fs::path& backing,
                                                           const fs::path& mnt,
                                                           const std::vector<std::string>& options,
                                                           const fs::path& log = {});
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  // Runs fn in a child with a deadline; on timeout aborts this mount's connection first.
  posix::IsolatedRun access(const std::function<void(posix::Recorder&)>& fn,
                            milliseconds timeout = step_timeout());
  // Runs a program with a deadline; on timeout aborts this mount's connection first.
  posix::CommandResult command(const std::vector<std::string>& argv,
                               milliseconds timeout = step_timeout());
  // `fusebpf stats MNT --json`, parsed; nullopt (and `error`) on failure.
  std::optional<std::string> stats_json(std::string* error = nullptr);
  // Writes 1 to the connection's fusectl abort file. Safe to call at any time.
  void abort_connection();
  // For mounts the harness did not start (a command that was expected to fail): if a FUSE mount
  // is at `mnt`, aborts its connection, detaches it and SIGKILLs processes started for it.
  static void abort_at(const fs::path& mnt);
  // `fusebpf umount` (deadline 30 s); if that fails or leaves anything behind: abort, lazy
  // unmount, SIGKILL the daemon. Returns "" when the clean path worked, else what was forced.
  std::string stop();

  pid_t daemon_pid() const { return pid_; }
  // The last lines of the daemon's log (when started with one).
  std::string log_tail() const { return log_tail_of(log_); }
  const fs::path& mountpoint() const { return mnt_; }
  const fs::path& backing() const { return backing_; }
  const std::vector<std::string>& options() const { return options_; }
  bool mounted() const;
  // A shell command that mounts the same way (for repro lines).
  std::string mount_command() const;

 private:
  Mount() = default;
  std::string force_cleanup();

  fs::path backing_, mnt_, log_;
  std::vector<std::string> options_;
  std::string conn_dir_;
  pid_t pid_ = -1;
  bool stopped_ = false;
};

// Extracts an integer field from the JSON text of `fusebpf stats --json`: a top-level key
// ("pid", "nodes") or "ops.<OP>.<field>" ("ops.READ.count"). Missing ops count as 0; other
// missing keys give nullopt.
std::optional<long long> json_int(const std::string& json, const std::string& path);
std::optional<bool> json_bool(const std::string& json, const std::string& key);
std::optional<std::string> json_string(const std::string& json, const std::string& key);

// gtest main for integration binaries: prerequisites (77 / CI failure), then RUN_ALL_TESTS.
// `parse_extra` sees the arguments gtest did not consume; false = usage error (exit 2).
int integration_main(int argc, char** argv,
                     const std::function<bool(std::vector<std::string>&)>& parse_extra = {});

}  // namespace fusebpf::it
