// run_isolated / in_child; see isolate.h.
#include "posix/isolate.h"

#include <fmt/format.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/errno.h"
#include "base/sys.h"
#include "base/unique_fd.h"

namespace fusebpf::posix {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) ::abort();  // only EMFILE/ENFILE: nothing sensible to do
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Reads whatever is available without blocking; false at EOF or error.
bool drain(int fd, std::string& out) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {}", strsignal(WTERMSIG(status)));
  return fmt::format("wait status {}", status);
}

// Waits until pidfd is readable (the child exited) or `deadline`; true when it exited.
bool wait_pidfd(int pidfd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    struct pollfd p = {pidfd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Waits for a child (its pidfd) while collecting what it writes to `fds` into `outs`, until it
// exits or `deadline`. On timeout: on_timeout(), SIGKILL to its process group, bounded wait.
// Returns the wait status, or -1 on timeout; `detail` describes a timeout.
int supervise(pid_t pid, const std::vector<int>& fds, const std::vector<std::string*>& outs,
              Clock::time_point deadline, const std::function<void()>& on_timeout,
              std::string& detail) {
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  std::vector<struct pollfd> polls = {{pidfd.get(), POLLIN, 0}};
  for (int fd : fds) {
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    polls.push_back({fd, POLLIN, 0});
  }
  bool exited = false;
  while (!exited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    int n = ::poll(polls.data(), polls.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) break;
    for (size_t i = 1; i < polls.size(); ++i) {
      if (polls[i].revents & (POLLIN | POLLHUP)) {
        if (!drain(polls[i].fd, *outs[i - 1])) polls[i].fd = -1;  // EOF: stop polling it
      }
    }
    if (polls[0].revents & POLLIN) exited = true;
  }
  int status = -1;
  if (exited) {
    ::waitpid(pid, &status, 0);
  } else {
    detail = "timed out";
    if (on_timeout) on_timeout();
    ::kill(-pid, SIGKILL);
    if (wait_pidfd(pidfd.get(), Clock::now() + std::chrono::seconds(10))) {
      int ignored = 0;
      ::waitpid(pid, &ignored, 0);
    } else {
      detail += "; the child is still stuck after on_timeout() and SIGKILL";
    }
  }
  for (size_t i = 0; i < fds.size(); ++i) drain(fds[i], *outs[i]);
  ::kill(-pid, SIGKILL);  // grandchildren it may have leaked
  return status;
}

}  // namespace

std::string CommandResult::describe() const {
  std::string what = timed_out        ? fmt::format("timed out after {:.1f} s", seconds)
                     : exit_code >= 0 ? fmt::format("exit {}", exit_code)
                                      : std::string("killed");
  return fmt::format("{}; stdout: {:?}; stderr: {:?}", what, out, err);
}

IsolatedRun run_isolated(const std::function<void(Recorder&)>& fn,
                         std::chrono::milliseconds timeout,
                         const std::function<void()>& on_timeout) {
  IsolatedRun run;
  auto start = Clock::now();
  Pipe pipe = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) {
    run.status = IsolatedRun::Status::kCrashed;
    run.detail = fmt::format("fork: {}", std::strerror(errno));
    return run;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::umask(022);
    pipe.read_end.reset();
    Recorder rec;
    rec.stream_to(pipe.write_end.get());
    fn(rec);
    ::_exit(0);
  }
  ::setpgid(pid, pid);  // also done by the child; whichever runs first wins the race
  pipe.write_end.reset();
  std::string text, detail;
  int status = supervise(pid, {pipe.read_end.get()}, {&text}, start + timeout, on_timeout, detail);
  if (status == -1) {
    run.status = IsolatedRun::Status::kTimedOut;
    run.detail = fmt::format("no result after {} ms ({})", timeout.count(), detail);
  } else if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    run.status = IsolatedRun::Status::kCrashed;
    run.detail = describe_status(status);
  }
  run.recording = Recorder::parse(text);
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::function<void()>& on_timeout) {
  CommandResult result;
  auto start = Clock::now();
  Pipe out = make_pipe(), err = make_pipe();
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    result.err = fmt::format("fork: {}", std::strerror(errno));
    return result;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out.write_end.get(), STDOUT_FILENO);
    ::dup2(err.write_end.get(), STDERR_FILENO);
    ::execvp(args[0], args.data());
    std::string msg = fmt::format("exec {}: {}\n", argv[0], std::strerror(errno));
    (void)!::write(STDERR_FILENO, msg.data(), msg.size());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  out.write_end.reset();
  err.write_end.reset();
  std::string detail;
  int status = supervise(pid, {out.read_end.get(), err.read_end.get()}, {&result.out, &result.err},
                         start + timeout, on_timeout, detail);
  result.timed_out = status == -1;
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

ChildProcess start_child(const std::function<void(Recorder&)>& fn, int uid, int gid) {
  Pipe pipe = make_pipe();
  pid_t pid = ::fork();
  if (pid < 0) return {};
  if (pid == 0) {
    pipe.read_end.reset();
    Recorder rec;
    rec.stream_to(pipe.write_end.get());
    if (uid >= 0) {
      gid_t groups[1] = {static_cast<gid_t>(gid)};
      if (::setgroups(1, groups) != 0 || ::setresgid(gid, gid, gid) != 0 ||
          ::setresuid(uid, uid, uid) != 0) {
        rec.sys("setuid", -1);
        ::_exit(0);
      }
    }
    fn(rec);
    ::_exit(0);
  }
  return {pid, pipe.read_end.release()};
}

Recorder join_child(ChildProcess& child) {
  if (child.pid < 0) {
    Recorder r;
    r.note("fork", "failed");
    return r;
  }
  UniqueFd read_end(std::exchange(child.read_fd, -1));
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(read_end.get(), buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (::waitpid(std::exchange(child.pid, -1), &status, 0) < 0 && errno == EINTR) {
  }
  Recorder rec = Recorder::parse(text);
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) rec.note("child", describe_status(status));
  return rec;
}

Recorder in_child(const std::function<void(Recorder&)>& fn, int uid, int gid) {
  ChildProcess child = start_child(fn, uid, gid);
  return join_child(child);
}

}  // namespace fusebpf::posix
