// probe_fs: a flat in-memory FUSE file system with zero entry/attribute timeouts, served by
// fuse::Session with a chosen transport. It isolates the cost of the transport from the
// backing file system when running latency_probe:
//
//   probe_fs MOUNTPOINT [--transport=dev|uring|auto] [--threads N] [--queue-depth N]
//   latency_probe MOUNTPOINT          # in another shell; then Ctrl-C (or SIGTERM) probe_fs
//
// Root only (it mounts with mount(2) and may set enable_uring). Files are empty; the root
// directory holds at most a few thousand names. Not for production: a measurement fixture.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "abi/fuse_kernel.h"
#include "fuse/mount.h"
#include "fuse/session.h"
#include "fuse/uring.h"

namespace fusebpf::fuse {
namespace {

class FlatFs final : public OpHandler {
 public:
  void lookup(const Request<Opcode::kLookup>& req, ReplySlot reply) override {
    std::lock_guard lock(mutex_);
    auto it = names_.find(std::string(req.name()));
    if (req.nodeid() != abi::kRootId || it == names_.end()) return reply.error(Errno::kNoEnt);
    reply.send(entry(it->second));
  }
  void getattr(const Request<Opcode::kGetattr>& req, ReplySlot reply) override {
    abi::fuse_attr_out out{};
    out.attr = attr(req.nodeid());
    reply.send(out);
  }
  void setattr(const Request<Opcode::kSetattr>& req, ReplySlot reply) override {
    abi::fuse_attr_out out{};
    out.attr = attr(req.nodeid());
    reply.send(out);
  }
  void create(const Request<Opcode::kCreate>& req, ReplySlot reply) override {
    uint64_t id;
    {
      std::lock_guard lock(mutex_);
      auto [it, fresh] = names_.try_emplace(std::string(req.name()), next_id_);
      if (!fresh && (req.in().flags & O_EXCL)) return reply.error(Errno::kExist);
      if (fresh) ++next_id_;
      id = it->second;
    }
    struct {
      abi::fuse_entry_out entry;
      abi::fuse_open_out open;
    } out{entry(id), {}};
    reply.send(out);
  }
  void unlink(const Request<Opcode::kUnlink>& req, ReplySlot reply) override {
    std::lock_guard lock(mutex_);
    if (names_.erase(std::string(req.name())) == 0) return reply.error(Errno::kNoEnt);
    reply.ok();
  }
  void open(const Request<Opcode::kOpen>& req, ReplySlot reply) override {
    reply.send(abi::fuse_open_out{});
  }
  void release(const Request<Opcode::kRelease>& req, ReplySlot reply) override { reply.ok(); }
  void flush(const Request<Opcode::kFlush>& req, ReplySlot reply) override { reply.ok(); }
  void opendir(const Request<Opcode::kOpendir>& req, ReplySlot reply) override {
    reply.send(abi::fuse_open_out{});
  }
  void releasedir(const Request<Opcode::kReleasedir>& req, ReplySlot reply) override { reply.ok(); }
  void readdir(const Request<Opcode::kReaddir>& req, ReplySlot reply) override {
    reply.ok();  // an empty listing is enough for a probe
  }
  void access(const Request<Opcode::kAccess>& req, ReplySlot reply) override { reply.ok(); }
  void statfs(const Request<Opcode::kStatfs>& req, ReplySlot reply) override {
    abi::fuse_statfs_out out{};
    out.st.bsize = out.st.frsize = 4096;
    out.st.namelen = 255;
    reply.send(out);
  }

 private:
  static abi::fuse_attr attr(uint64_t id) {
    abi::fuse_attr a{};
    a.ino = id;
    a.mode = id == abi::kRootId ? (S_IFDIR | 0755) : (S_IFREG | 0644);
    a.nlink = id == abi::kRootId ? 2 : 1;
    a.blksize = 4096;
    return a;
  }
  static abi::fuse_entry_out entry(uint64_t id) {
    abi::fuse_entry_out e{};  // zero entry and attribute timeouts
    e.nodeid = id;
    e.attr = attr(id);
    return e;
  }

  std::mutex mutex_;
  std::map<std::string, uint64_t> names_;
  uint64_t next_id_ = 2;
};

int run(int argc, char** argv) {
  std::string mountpoint;
  SessionOptions options;
  options.transport = Transport::kAuto;
  options.passthrough = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.rfind("--transport=", 0) == 0) {
      auto t = parse_transport(a.substr(12));
      if (!t) return std::fprintf(stderr, "probe_fs: bad transport\n"), 1;
      options.transport = *t;
    } else if (a == "--threads" && i + 1 < argc) {
      options.threads = static_cast<unsigned>(std::atoi(argv[++i]));
    } else if (a == "--queue-depth" && i + 1 < argc) {
      options.uring_queue_depth = static_cast<unsigned>(std::atoi(argv[++i]));
    } else {
      mountpoint = a;
    }
  }
  if (mountpoint.empty()) {
    std::fprintf(stderr,
                 "usage: probe_fs MOUNTPOINT [--transport=dev|uring|auto] [--threads N] "
                 "[--queue-depth N]\n");
    return 1;
  }
  if (options.transport != Transport::kDev) {
    auto enabled = enable_uring();
    if (!enabled) {
      std::fprintf(stderr, "probe_fs: %s\n", enabled.error().c_str());
      if (options.transport == Transport::kUring) return 1;
    }
  }
  // Every thread inherits the blocked signals; one thread takes them with sigwait.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  auto mounted = mount_fuse(mountpoint, MountOptions{.fsname = "probe_fs", .subtype = "probe"});
  if (!mounted) return std::fprintf(stderr, "probe_fs: %s\n", mounted.error().c_str()), 1;
  MountGuard guard(mountpoint);
  FlatFs fs;
  Session session(fs, std::make_unique<DevFuseChannel>(std::move(mounted->fd)), options);
  std::thread stopper([&] {
    int sig = 0;
    sigwait(&stop, &sig);
    if (!unmount_fuse(mountpoint, false)) {
      abort_fuse_connection(mountpoint);
      (void)unmount_fuse(mountpoint, true);
    }
  });
  std::thread reporter([&] {
    for (int i = 0; i < 500 && session.connection().proto_major == 0; ++i) usleep(10000);
    usleep(100000);
    std::printf("probe_fs: %s mounted, transport %s\n", mountpoint.c_str(),
                std::string(session.transport()).c_str());
    std::fflush(stdout);
  });
  auto served = session.run();
  reporter.join();
  pthread_kill(stopper.native_handle(), SIGTERM);  // wakes sigwait if we ended otherwise
  stopper.join();
  auto stats = session.stats();
  std::printf("probe_fs: %lu requests, %lu through io_uring\n",
              static_cast<unsigned long>(stats.requests),
              static_cast<unsigned long>(stats.uring_requests));
  for (size_t q = 0; q < stats.uring_queue_requests.size(); ++q) {
    std::printf("probe_fs: io_uring queue %zu: %lu requests, %lu off its CPU\n", q,
                static_cast<unsigned long>(stats.uring_queue_requests[q]),
                static_cast<unsigned long>(stats.uring_queue_off_cpu[q]));
  }
  if (!served) return std::fprintf(stderr, "probe_fs: %s\n", served.error().message.c_str()), 1;
  return 0;
}

}  // namespace
}  // namespace fusebpf::fuse

int main(int argc, char** argv) { return fusebpf::fuse::run(argc, argv); }
