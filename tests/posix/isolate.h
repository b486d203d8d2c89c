// run_isolated: runs a function in a forked child process with a deadline. This is how every
// test touches a FUSE mount: a process stuck in the kernel waiting for a FUSE reply cannot be
// killed until the connection is aborted, so the parent must never make the access itself.
//
// The child gets its own process group (so grandchildren are killed with it), umask 022, and
// reports back a Recorder over a pipe. On timeout the parent calls `on_timeout` (which should
// abort the FUSE connection), SIGKILLs the child's process group and waits a bounded time for it.
// Not thread-safe with respect to other forks in the same process (call from one thread).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "posix/recorder.h"

namespace fusebpf::posix {

struct IsolatedRun {
  enum class Status { kOk, kCrashed, kTimedOut };
  Status status = Status::kOk;
  Recorder recording;  // what the child recorded (partial when it crashed or timed out)
  std::string detail;  // for kCrashed / kTimedOut: what happened
  double seconds = 0;
};

IsolatedRun run_isolated(const std::function<void(Recorder&)>& fn,
                         std::chrono::milliseconds timeout,
                         const std::function<void()>& on_timeout = {});

// Runs a program (argv[0] is a path or found in PATH) with stdin from /dev/null, capturing
// stdout and stderr, in its own process group. Output is collected until the program exits (not
// until EOF: a daemon it starts may keep the pipes open). On timeout: `on_timeout`, then SIGKILL
// to the process group, and a bounded wait.
struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal, timed out or not started
  bool timed_out = false;
  std::string out;
  std::string err;
  double seconds = 0;
  // "exit 1, stderr: ..." for failure messages.
  std::string describe() const;
};
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::function<void()>& on_timeout = {});

// Runs `fn` in a forked child and waits for it without a deadline (for scenarios that need a
// second process, e.g. a lock owner or another user; the harness deadline covers them). When
// uid >= 0 the child first switches to uid/gid (setgroups({gid}), setresgid, setresuid) and
// records "setuid = <errno>" and returns if that fails. The child's entries are returned.
Recorder in_child(const std::function<void(Recorder&)>& fn, int uid = -1, int gid = -1);

// The asynchronous form of in_child: start_child() forks and returns at once, join_child()
// waits for the child and returns its entries. Every started child must be joined.
struct ChildProcess {
  int pid = -1;
  int read_fd = -1;
};
ChildProcess start_child(const std::function<void(Recorder&)>& fn, int uid = -1, int gid = -1);
Recorder join_child(ChildProcess& child);

}  // namespace fusebpf::posix
