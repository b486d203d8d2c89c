// The daemon: backing tree + FUSE session + control socket, with clean unmount on signals.
#include <fmt/format.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "backing/backing.h"
#include "base/log.h"
#include "base/sys.h"
#include "cli/commands.h"
#include "cli/control.h"
#include "fuse/mount.h"
#include "fuse/session.h"
#include "fuse/uring.h"

namespace fusebpf::cli {
namespace {

void report_ready(int ready_fd, std::string_view message) {
  if (ready_fd < 0) return;
  std::string line = std::string(message) + "\n";
  (void)sys::write_all(ready_fd, sys::bytes(line));
  ::close(ready_fd);
}

const char* creds_name(filter::CredsMode m) {
  return m == filter::CredsMode::kCaller ? "caller" : "daemon";
}
const char* cache_name(filter::CacheMode m) {
  return m == filter::CacheMode::kNone ? "none" : m == filter::CacheMode::kAuto ? "auto" : "always";
}

nlohmann::json stats_json(const MountConfig& config, const fuse::Session& session,
                          const filter::StackedFs& fs) {
  auto stats = session.stats();
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& op : stats.ops) {
    ops[std::string(op.name)] = {{"count", op.count},
                                 {"errors", op.errors},
                                 {"p50_us", op.p50_ns / 1000.0},
                                 {"p90_us", op.p90_ns / 1000.0},
                                 {"p99_us", op.p99_ns / 1000.0}};
  }
  return {{"pid", getpid()},
          {"mountpoint", config.mountpoint},
          {"backing", config.backing},
          {"transport", std::string(stats.transport)},
          {"uring_requests", stats.uring_requests},
          {"threads", config.threads},
          {"creds", creds_name(config.creds)},
          {"cache", cache_name(config.cache)},
          {"passthrough", fs.passthrough_active()},
          {"nodes", fs.node_count()},
          {"requests", stats.requests},
          {"unknown_opcodes", stats.unknown_opcodes},
          {"malformed", stats.malformed},
          {"ops", ops}};
}

// Unmounts on request (signal or control command): a normal unmount first; if the mount is
// busy, detach it and, after a grace period, abort the connection so the daemon can exit.
class Unmounter {
 public:
  explicit Unmounter(std::string mountpoint) : mountpoint_(std::move(mountpoint)) {}
  ~Unmounter() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    if (thread_.joinable()) thread_.join();
  }
  void request(std::string_view why) {
    std::lock_guard lock(mutex_);
    if (requested_ || done_) return;
    requested_ = true;
    FUSEBPF_LOG(kInfo, "unmounting {} ({})", mountpoint_, why);
    thread_ = std::thread([this] { run(); });
  }

 private:
  void run() {
    if (!fuse::unmount_fuse(mountpoint_, false)) {
      FUSEBPF_LOG(kWarn, "{} is busy: detaching it", mountpoint_);
      fuse::abort_fuse_connection(mountpoint_);
      (void)fuse::unmount_fuse(mountpoint_, true);
    }
  }
  std::string mountpoint_;
  std::mutex mutex_;
  bool requested_ = false;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

int serve_mount(const MountConfig& config, int ready_fd,
                std::unique_ptr<filter::FilterChain> filters) {
  // Signals are taken by one thread with sigwait; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto backing = backing::Backing::create(config.backing, backing::Options{});
  if (!backing) {
    report_ready(ready_fd, fmt::format("error: cannot open backing directory {}: {}",
                                       config.backing, errno_message(backing.error())));
    return 1;
  }
  filter::StackedFs fs(**backing,
                       filter::StackedFsOptions{config.creds, config.cache, config.passthrough});
  if (filters) {
    install_trace_buffer();
    fs.set_filters(std::move(filters));
  }
  if (config.transport != fuse::Transport::kDev && geteuid() == 0) {
    // The kernel offers FUSE over io_uring at INIT only if enable_uring was set before mount.
    auto enabled = fuse::enable_uring();
    if (!enabled && config.transport == fuse::Transport::kUring) {
      report_ready(ready_fd, "error: --transport=uring: " + enabled.error());
      return 1;
    }
  }
  fuse::MountOptions mount_options;
  // With --creds=daemon the lower fs checks the daemon, so let the kernel check modes.
  // The kernel checks permissions (mode bits and, with FUSE_POSIX_ACL, ACLs) on every path
  // walk, including through cached dentries the daemon never sees; with --creds=caller the
  // lower fs then checks again as the caller.
  mount_options.default_permissions = true;
  auto mounted = fuse::mount_fuse(config.mountpoint, mount_options);
  if (!mounted) {
    report_ready(ready_fd, "error: " + mounted.error());
    return 1;
  }
  fuse::MountGuard guard(config.mountpoint);
  fuse::SessionOptions session_options;
  session_options.threads = config.threads;
  session_options.passthrough = config.passthrough && !mounted->via_fusermount;
  session_options.cache_symlinks = config.cache != filter::CacheMode::kNone;
  session_options.trace = config.trace;
  session_options.transport = geteuid() == 0 ? config.transport : fuse::Transport::kDev;
  if (config.passthrough && mounted->via_fusermount) {
    FUSEBPF_LOG(kWarn,
                "not root: kernel passthrough needs CAP_SYS_ADMIN, file data goes "
                "through the daemon");
  }
  fuse::Session session(fs, std::make_unique<fuse::DevFuseChannel>(std::move(mounted->fd)),
                        session_options);

  Unmounter unmounter(config.mountpoint);
  std::string socket_path = control_path_base(config.mountpoint) + ".sock";
  auto control = ControlServer::start(socket_path, [&](const nlohmann::json& req) {
    std::string cmd = req.value("cmd", "");
    if (cmd == "stats") {
      auto j = stats_json(config, session, fs);
      if (fs.filters()) j["filters"] = filter_stats_json(fs.filters());
      return j;
    }
    if (cmd == "map" || cmd == "trace") return filter_control(req, fs.filters());
    if (cmd == "shutdown") {
      unmounter.request("fusebpf umount");
      return nlohmann::json{{"ok", true}, {"pid", getpid()}};
    }
    return nlohmann::json{{"error", "unknown command: " + cmd}};
  });
  if (!control) {
    report_ready(ready_fd, "error: " + control.error());
    return 1;
  }
  std::atomic<bool> exiting{false};
  std::thread signal_thread([&] {
    int sig = 0;
    while (sigwait(&signals, &sig) == 0 && !exiting.load()) unmounter.request(strsignal(sig));
  });
  FUSEBPF_LOG(kInfo, "serving {} on {} ({} threads, creds={}, cache={})", config.backing,
              config.mountpoint, config.threads, creds_name(config.creds),
              cache_name(config.cache));
  report_ready(ready_fd, "ok");
  auto served = session.run();
  int status = 0;
  if (!served) {
    FUSEBPF_LOG(kError, "session ended: {}", served.error().message);
    status = 1;
  }
  (*control)->stop();
  exiting.store(true);
  pthread_kill(signal_thread.native_handle(), SIGTERM);  // ends sigwait
  signal_thread.join();
  FUSEBPF_LOG(kInfo, "{} unmounted; daemon exits", config.mountpoint);
  return status;
}

}  // namespace fusebpf::cli
