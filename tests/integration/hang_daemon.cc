// hang_daemon: a deliberately broken FUSE daemon for testing the harness. It speaks the
// `fusebpf` CLI contract just enough (`mount [options] BACKING MNT` returns once mounted,
// `umount MNT`, `stats` fails), answers INIT, and then never answers another request: every
// access to its mount blocks in the kernel until the connection is aborted. Harness tests point
// FUSEBPF_BIN at it to prove that a hanging daemon cannot hang the test suite.
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Serves the connection: replies to INIT, swallows everything else. Returns at unmount/abort.
void serve(int fuse_fd) {
  std::vector<char> buf(1 << 21);
  for (;;) {
    ssize_t n = ::read(fuse_fd, buf.data(), buf.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < static_cast<ssize_t>(sizeof(fuse_in_header))) return;  // ENODEV: gone
    fuse_in_header in;
    std::memcpy(&in, buf.data(), sizeof in);
    if (in.opcode != FUSE_INIT) continue;  // never answered: the caller waits forever
    struct {
      fuse_out_header header;
      fuse_init_out init;
    } reply{};
    reply.header.len = sizeof reply;
    reply.header.unique = in.unique;
    reply.init.major = FUSE_KERNEL_VERSION;
    reply.init.minor = FUSE_KERNEL_MINOR_VERSION;
    reply.init.max_write = 4096;
    reply.init.max_background = 16;
    reply.init.congestion_threshold = 12;
    reply.init.time_gran = 1;
    if (::write(fuse_fd, &reply, sizeof reply) < 0) return;
  }
}

int do_mount(const std::string& mnt) {
  int ready[2];
  if (::pipe(ready) != 0) return 1;
  pid_t pid = ::fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    ::close(ready[0]);
    ::setsid();
    int null_fd = ::open("/dev/null", O_RDWR);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    int fuse_fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC);
    std::string opts =
        "fd=" + std::to_string(fuse_fd) + ",rootmode=40000,user_id=0,group_id=0,allow_other";
    char status = 1;
    if (fuse_fd >= 0 &&
        ::mount("hang", mnt.c_str(), "fuse.hang", MS_NOSUID | MS_NODEV, opts.c_str()) == 0) {
      status = 0;
    } else {
      std::fprintf(stderr, "hang_daemon: mount %s: %s\n", mnt.c_str(), std::strerror(errno));
    }
    (void)!::write(ready[1], &status, 1);
    ::close(ready[1]);
    ::dup2(null_fd, STDERR_FILENO);
    if (status == 0) serve(fuse_fd);
    ::_exit(status);
  }
  ::close(ready[1]);
  char status = 1;
  if (::read(ready[0], &status, 1) != 1) status = 1;
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 3 && args[0] == "mount") return do_mount(args.back());
  if (args.size() == 2 && args[0] == "umount") {
    if (::umount2(args[1].c_str(), MNT_DETACH) != 0) {
      std::fprintf(stderr, "hang_daemon: umount %s: %s\n", args[1].c_str(), std::strerror(errno));
      return 1;
    }
    return 0;
  }
  std::fprintf(stderr, "hang_daemon: unsupported command\n");
  return 1;
}
