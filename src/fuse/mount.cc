// mount(2) / fusermount3 mounting; see mount.h.
#include "fuse/mount.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/sys.h"

extern char** environ;

namespace fusebpf::fuse {
namespace {

Result<UniqueFd, std::string> receive_fd(int socket) {
  char data[1];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return fail(std::string("fusermount3 did not pass a /dev/fuse descriptor"));
  cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS) {
    return fail(std::string("fusermount3 sent no descriptor"));
  }
  int fd;
  std::memcpy(&fd, CMSG_DATA(cmsg), sizeof fd);
  return UniqueFd(fd);
}

// Runs fusermount3 with args; returns its exit status.
int run_fusermount(std::vector<std::string> args, int comm_fd) {
  std::vector<char*> argv;
  args.insert(args.begin(), "fusermount3");
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "_FUSE_COMMFD=", 13) != 0) env_storage.emplace_back(*e);
  }
  if (comm_fd >= 0) env_storage.push_back(fmt::format("_FUSE_COMMFD={}", comm_fd));
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), envp.data()) != 0) {
    return 127;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

Result<MountResult, std::string> mount_with_fusermount(const std::string& mountpoint,
                                                       const MountOptions& options) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
    return fail(fmt::format("socketpair: {}", std::strerror(errno)));
  }
  UniqueFd ours(sv[0]), theirs(sv[1]);
  fcntl(ours.get(), F_SETFD, FD_CLOEXEC);
  std::string opts = fmt::format("fsname={},subtype={}", options.fsname, options.subtype);
  if (options.default_permissions) opts += ",default_permissions";
  int status = run_fusermount({"-o", opts, "--", mountpoint}, theirs.get());
  theirs.reset();
  if (status != 0) return fail(fmt::format("fusermount3 failed (exit {})", status));
  FUSEBPF_TRY(fd, receive_fd(ours.get()));
  return MountResult{std::move(fd), true};
}

}  // namespace

Result<MountResult, std::string> mount_fuse(const std::string& mountpoint,
                                            const MountOptions& options) {
  if (geteuid() != 0 || options.force_fusermount) {
    return mount_with_fusermount(mountpoint, options);
  }
  auto fd = sys::open_at(AT_FDCWD, "/dev/fuse", O_RDWR);
  if (!fd) {
    return fail(fmt::format("cannot open /dev/fuse: {}", errno_message(fd.error())));
  }
  struct stat st {};
  if (stat(mountpoint.c_str(), &st) < 0) {
    return fail(fmt::format("{}: {}", mountpoint, std::strerror(errno)));
  }
  std::string data =
      fmt::format("fd={},rootmode={:o},user_id=0,group_id=0", fd->get(), st.st_mode & S_IFMT);
  if (options.allow_other) data += ",allow_other";
  if (options.default_permissions) data += ",default_permissions";
  std::string type = "fuse." + options.subtype;
  // No nosuid/nodev: a root mount mirrors a tree root already trusts, and device nodes and
  // set-id files must behave as on the lower file system.
  if (::mount(options.fsname.c_str(), mountpoint.c_str(), type.c_str(), 0, data.c_str()) < 0) {
    return fail(fmt::format("mount {}: {}", mountpoint, std::strerror(errno)));
  }
  return MountResult{std::move(*fd), false};
}

Result<void, std::string> unmount_fuse(const std::string& mountpoint, bool lazy) {
  if (geteuid() == 0) {
    if (::umount2(mountpoint.c_str(), lazy ? MNT_DETACH : 0) == 0) return {};
    return fail(fmt::format("umount {}: {}", mountpoint, std::strerror(errno)));
  }
  std::vector<std::string> args = {"-u"};
  if (lazy) args.push_back("-z");
  args.push_back("--");
  args.push_back(mountpoint);
  int status = run_fusermount(args, -1);
  if (status != 0)
    return fail(fmt::format("fusermount3 -u {} failed (exit {})", mountpoint, status));
  return {};
}

namespace {
// The mountinfo line for `path` if it is a mount root: fields "dev" (major:minor) and fstype.
bool find_mount(const std::string& path, std::string* fstype, std::string* dev) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) return false;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  bool found = false;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, majmin, root, mnt;
    fields >> id >> parent >> majmin >> root >> mnt;
    if (mnt != resolved) continue;
    auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream rest(line.substr(dash + 3));
    std::string type;
    rest >> type;
    *fstype = type;
    *dev = majmin;
    found = true;  // the last matching line is the top-most mount
  }
  return found;
}
}  // namespace

bool is_fuse_mountpoint(const std::string& path) {
  std::string type, dev;
  return find_mount(path, &type, &dev) && type.rfind("fuse", 0) == 0;
}

bool abort_fuse_connection(const std::string& path) {
  std::string type, majmin;
  if (!find_mount(path, &type, &majmin) || type.rfind("fuse", 0) != 0) return false;
  unsigned major = 0, minor = 0;
  if (std::sscanf(majmin.c_str(), "%u:%u", &major, &minor) != 2) return false;
  // fusectl names a connection by the kernel's internal dev_t, (major << 20) | minor, which
  // differs from glibc's makedev() encoding once minor >= 256.
  constexpr const char* kFusectl = "/sys/fs/fuse/connections";
  std::string abort_path = fmt::format("{}/{}/abort", kFusectl, (uint64_t{major} << 20) | minor);
  auto written = sys::write_file(AT_FDCWD, abort_path.c_str(), "1");
  if (!written && written.error() == Errno::kNoEnt &&
      ::mount("fusectl", kFusectl, "fusectl", 0, nullptr) == 0) {
    // fusectl was not mounted (it only is when someone asks): mount it for this abort.
    written = sys::write_file(AT_FDCWD, abort_path.c_str(), "1");
  }
  return written.has_value();
}

MountGuard::~MountGuard() {
  if (mountpoint_.empty() || !is_fuse_mountpoint(mountpoint_)) return;
  if (!unmount_fuse(mountpoint_, false)) {
    abort_fuse_connection(mountpoint_);
    (void)unmount_fuse(mountpoint_, true);
  }
}

}  // namespace fusebpf::fuse
