// `fusebpf mount`: validates the arguments, starts the daemon in the background and returns
// once the mount is usable (or reports why it is not, leaving nothing mounted).
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "base/log.h"
#include "base/sys.h"
#include "cli/commands.h"
#include "cli/control.h"
#include "fuse/mount.h"

namespace fusebpf::cli {
namespace {

std::string real_path(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) ? std::string(resolved) : std::string();
}

bool is_within(const std::string& inner, const std::string& outer) {
  return inner == outer ||
         (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          (outer == "/" || inner[outer.size()] == '/'));
}

// A clear reason why the mount cannot work, or "" when it can.
std::string validate(const MountConfig& c) {
  struct stat st {};
  if (stat(c.backing.c_str(), &st) < 0) {
    return fmt::format("backing directory {}: {}", c.backing, std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fmt::format("backing {} is not a directory", c.backing);
  if (stat(c.mountpoint.c_str(), &st) < 0) {
    return fmt::format("mountpoint {}: {}", c.mountpoint, std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return fmt::format("mountpoint {} is not a directory", c.mountpoint);
  std::string backing = real_path(c.backing), mnt = real_path(c.mountpoint);
  if (is_within(mnt, backing)) {
    return fmt::format(
        "mountpoint {} is inside the backing tree {}: the mount would contain itself", mnt,
        backing);
  }
  if (fuse::is_fuse_mountpoint(mnt)) return fmt::format("{} is already a FUSE mount", mnt);
  if (access("/dev/fuse", F_OK) != 0) {
    return "/dev/fuse is missing: load the fuse module (modprobe fuse)";
  }
  if (geteuid() != 0 && access("/dev/fuse", R_OK | W_OK) != 0) {
    return "no permission to use /dev/fuse (run as root or add yourself to the fuse group)";
  }
  if (c.threads == 0 || c.threads > 64) return "--threads must be between 1 and 64";
  if (c.transport == fuse::Transport::kUring && geteuid() != 0) {
    return "--transport=uring needs root (FUSE over io_uring is enabled by root)";
  }
  return "";
}

// Reads the daemon's ready line within the timeout.
std::string wait_ready(int fd, int timeout_s) {
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0) return "error: the daemon did not become ready in time";
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[512];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return line.empty() ? "error: the daemon exited during start-up" : line;
    line.append(buf, static_cast<size_t>(n));
    auto nl = line.find('\n');
    if (nl != std::string::npos) return line.substr(0, nl);
  }
}

// Makes the forked child a daemon: own session, no terminal, stderr into the log file.
void detach_into_log(const std::string& log_file) {
  setsid();
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    ::close(null_fd);
  }
  int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd >= 0) {
    dup2(log_fd, STDERR_FILENO);
    ::close(log_fd);
  }
  if (chdir("/") != 0) {
  }
}

}  // namespace

int run_mount(MountConfig config) {
  std::string problem = validate(config);
  if (!problem.empty()) {
    std::cerr << "fusebpf mount: " << problem << "\n";
    return 1;
  }
  config.backing = real_path(config.backing);
  config.mountpoint = real_path(config.mountpoint);
  // Filters are loaded and verified here, so a rejected program is reported in full and
  // nothing is mounted; the forked daemon inherits them.
  auto filters = load_filters(config);
  if (!filters) {
    std::cerr << "fusebpf mount: " << filters.error() << "\n";
    return 1;
  }
  if (config.foreground) return serve_mount(config, -1, std::move(*filters));

  if (config.log_file.empty()) config.log_file = control_path_base(config.mountpoint) + ".log";
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(config.log_file).parent_path(), ec);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
    std::cerr << "fusebpf mount: pipe: " << std::strerror(errno) << "\n";
    return 1;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::cerr << "fusebpf mount: fork: " << std::strerror(errno) << "\n";
    return 1;
  }
  if (pid == 0) {
    ::close(pipe_fds[0]);
    detach_into_log(config.log_file);
    _exit(serve_mount(config, pipe_fds[1], std::move(*filters)));
  }
  ::close(pipe_fds[1]);
  std::string ready = wait_ready(pipe_fds[0], config.ready_timeout_s);
  ::close(pipe_fds[0]);
  if (ready == "ok") return 0;

  // Failed start: make sure nothing is left behind, then explain.
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  if (fuse::is_fuse_mountpoint(config.mountpoint)) {
    fuse::abort_fuse_connection(config.mountpoint);
    (void)fuse::unmount_fuse(config.mountpoint, true);
  }
  std::string why = ready.rfind("error: ", 0) == 0 ? ready.substr(7) : ready;
  std::cerr << "fusebpf mount: " << why << " (log: " << config.log_file << ")\n";
  return 1;
}

}  // namespace fusebpf::cli
