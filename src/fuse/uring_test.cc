// FUSE over io_uring on a real mount: a tiny in-process file system is served with the uring
// transport (and, for comparison, with /dev/fuse) while a child process stats, lists and reads
// it from every CPU. The test process never touches the mount itself: a hang there would be
// unkillable. On timeout the connection is aborted through fusectl and lazily unmounted.
//
// Needs root and /dev/fuse: exits 77 (ctest: skipped) without them, unless CI=true.
#include "fuse/uring.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "abi/fuse_kernel.h"
#include "fuse/internal/uring_queue.h"
#include "fuse/mount.h"
#include "fuse/session.h"

namespace fusebpf::fuse {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kHello = "hello world\n";
constexpr std::string_view kSlow = "answered from another thread\n";
constexpr uint64_t kHelloId = 2, kSlowId = 3, kHangId = 4;

// Pinned threads (the ring workers) have exactly one CPU in their affinity mask.
bool on_pinned_thread() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1;
}

// Root directory with three files: "hello" (answered inline), "slow" (READ answered from
// another thread later: a handed-over slot) and "hang" (READ held until released).
class HelloFs : public OpHandler {
 public:
  ~HelloFs() override { release_held(); }

  void lookup(const Request<Opcode::kLookup>& req, ReplySlot reply) override {
    count(req.header());
    uint64_t id = req.name() == "hello"  ? kHelloId
                  : req.name() == "slow" ? kSlowId
                  : req.name() == "hang" ? kHangId
                                         : 0;
    if (req.nodeid() != abi::kRootId || id == 0) return reply.error(Errno::kNoEnt);
    abi::fuse_entry_out out{};
    out.nodeid = id;
    out.attr = attr_of(id);
    reply.send(out);  // zero timeouts: every stat reaches us
  }
  void getattr(const Request<Opcode::kGetattr>& req, ReplySlot reply) override {
    count(req.header());
    abi::fuse_attr_out out{};
    out.attr = attr_of(req.nodeid());
    reply.send(out);
  }
  void opendir(const Request<Opcode::kOpendir>& req, ReplySlot reply) override {
    count(req.header());
    reply.send(abi::fuse_open_out{});
  }
  void releasedir(const Request<Opcode::kReleasedir>& req, ReplySlot reply) override { reply.ok(); }
  void readdir(const Request<Opcode::kReaddir>& req, ReplySlot reply) override {
    count(req.header());
    reply.send(list(req.in(), false));
  }
  void readdirplus(const Request<Opcode::kReaddirplus>& req, ReplySlot reply) override {
    count(req.header());
    reply.send(list(req.in(), true));
  }
  void open(const Request<Opcode::kOpen>& req, ReplySlot reply) override {
    count(req.header());
    abi::fuse_open_out out{};
    out.open_flags = abi::kFopenDirectIo;  // every read reaches us
    reply.send(out);
  }
  void release(const Request<Opcode::kRelease>& req, ReplySlot reply) override { reply.ok(); }
  void flush(const Request<Opcode::kFlush>& req, ReplySlot reply) override { reply.ok(); }
  void read(const Request<Opcode::kRead>& req, ReplySlot reply) override {
    count(req.header());
    if (req.nodeid() == kHangId) {
      std::lock_guard lock(mutex_);
      held_.push_back(std::move(reply));
      return;
    }
    std::string_view data = req.nodeid() == kSlowId ? kSlow : kHello;
    size_t off = std::min<size_t>(req.in().offset, data.size());
    std::string body(data.substr(off, req.in().size));
    if (req.nodeid() != kSlowId) return reply.send(sys_bytes(body));
    std::lock_guard lock(mutex_);
    helpers_.emplace_back([body, reply = std::move(reply)]() mutable {
      std::this_thread::sleep_for(20ms);
      reply.send(sys_bytes(body));
    });
  }

  uint64_t pinned_requests() const { return pinned_.load(); }
  uint64_t requests() const { return requests_.load(); }
  size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  void release_held() {
    std::vector<std::thread> helpers;
    std::vector<ReplySlot> held;
    {
      std::lock_guard lock(mutex_);
      helpers.swap(helpers_);
      held.swap(held_);
    }
    for (auto& t : helpers) t.join();
    for (auto& slot : held) slot.error(Errno::kIntr);
  }

 private:
  static std::span<const std::byte> sys_bytes(const std::string& s) {
    return std::as_bytes(std::span<const char>(s.data(), s.size()));
  }
  static std::vector<std::byte> list(const abi::fuse_read_in& in, bool plus) {
    static const std::pair<const char*, uint64_t> kEntries[] = {
        {".", 1}, {"..", 1}, {"hello", kHelloId}, {"slow", kSlowId}, {"hang", kHangId}};
    std::vector<std::byte> out;
    for (size_t i = in.offset; i < std::size(kEntries); ++i) {
      auto [name, id] = kEntries[i];
      size_t namelen = std::strlen(name);
      size_t size = plus ? abi::direntplus_size(namelen) : abi::dirent_size(namelen);
      if (out.size() + size > in.size) break;
      abi::fuse_direntplus d{};
      d.entry_out.nodeid = i < 2 ? 0 : id;
      d.entry_out.attr = attr_of(id);
      d.dirent = {id, i + 1, static_cast<uint32_t>(namelen), i < 2 ? DT_DIR : DT_REG};
      size_t at = out.size();
      out.resize(at + size);
      if (plus) {
        std::memcpy(out.data() + at, &d, sizeof d);
        at += sizeof d;
      } else {
        std::memcpy(out.data() + at, &d.dirent, sizeof d.dirent);
        at += sizeof d.dirent;
      }
      std::memcpy(out.data() + at, name, namelen);
    }
    return out;
  }
  static abi::fuse_attr attr_of(uint64_t id) {
    abi::fuse_attr a{};
    a.ino = id;
    a.nlink = 1;
    if (id == abi::kRootId) {
      a.mode = S_IFDIR | 0755;
      a.nlink = 2;
    } else {
      a.mode = S_IFREG | 0644;
      a.size = id == kSlowId ? kSlow.size() : id == kHelloId ? kHello.size() : 1;
    }
    a.blksize = 4096;
    return a;
  }
  void count(const abi::fuse_in_header&) {
    requests_.fetch_add(1);
    if (on_pinned_thread()) pinned_.fetch_add(1);
  }

  std::atomic<uint64_t> requests_{0}, pinned_{0};
  std::mutex mutex_;
  std::vector<std::thread> helpers_;
  std::vector<ReplySlot> held_;
};

// ---- the child: only async-signal-safe calls (the parent is multithreaded) ----

bool read_equals(const char* path, std::string_view want) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) return false;
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  return n == static_cast<ssize_t>(want.size()) && std::memcmp(buf, want.data(), n) == 0;
}

bool lists_names(const char* dir) {
  int fd = ::open(dir, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  alignas(8) char buf[4096];
  bool hello = false, slow = false;
  for (;;) {
    long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long at = 0; at < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + at);
      if (std::strcmp(d->d_name, "hello") == 0) hello = true;
      if (std::strcmp(d->d_name, "slow") == 0) slow = true;
      at += d->d_reclen;
    }
  }
  ::close(fd);
  return hello && slow;
}

// Exit code: 0 when everything matched, else which check failed.
int child_checks(const char* mnt, const char* hello, const char* slow, const char* missing,
                 unsigned cpus) {
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);  // a CPU we may not use: stay where we are
    for (int round = 0; round < 3; ++round) {
      struct stat st {};
      if (::stat(hello, &st) != 0 || st.st_size != static_cast<off_t>(kHello.size())) return 10;
      if (!read_equals(hello, kHello)) return 11;
      if (!lists_names(mnt)) return 12;
      if (!read_equals(slow, kSlow)) return 13;
      if (::stat(missing, &st) == 0 || errno != ENOENT) return 14;
    }
  }
  return 0;
}

// Runs fn in a child process; returns its exit status, or -1 after `timeout` (the child is
// killed and the mount's connection aborted so nothing stays blocked).
template <typename Fn>
int in_child(const std::string& mnt, std::chrono::milliseconds timeout, Fn fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      abort_fuse_connection(mnt);
      (void)unmount_fuse(mnt, true);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A mounted HelloFs served by a Session on a background thread.
class MountedFs {
 public:
  explicit MountedFs(Transport transport) {
    char tmpl[] = "/tmp/fusebpf-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    auto mounted = mount_fuse(dir_, MountOptions{});
    if (!mounted) {
      ADD_FAILURE() << mounted.error();
      return;
    }
    guard_.emplace(dir_);
    SessionOptions options;
    options.transport = transport;
    options.passthrough = false;
    session_ = std::make_unique<Session>(
        fs_, std::make_unique<DevFuseChannel>(std::move(mounted->fd)), options);
    runner_ = std::thread([this] {
      auto r = session_->run();
      if (!r) run_error_ = r.error().message;
      done_.store(true);
    });
  }
  ~MountedFs() {
    if (runner_.joinable()) {
      abort_fuse_connection(dir_);
      (void)unmount_fuse(dir_, true);
      runner_.join();
    }
    fs_.release_held();
    guard_.reset();  // unmounts if something is still mounted
    ::rmdir(dir_.c_str());
  }
  // Unmounts and waits (bounded) for run() to return; false on timeout (then aborts).
  bool unmount_and_wait(bool abort_first = false) {
    if (abort_first) abort_fuse_connection(dir_);
    auto unmounted = unmount_fuse(dir_, abort_first);
    if (!unmounted) ADD_FAILURE() << unmounted.error();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done_.load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    bool clean = done_.load();
    if (!clean) abort_fuse_connection(dir_);
    (void)unmount_fuse(dir_, true);
    runner_.join();
    return clean;
  }
  // Waits until the session serves with the expected transport.
  bool wait_for_transport(std::string_view name) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (session_ && session_->connection().proto_major != 0 && session_->transport() == name)
        return true;
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }
  int check_in_child() {
    std::string hello = dir_ + "/hello", slow = dir_ + "/slow", missing = dir_ + "/missing";
    unsigned cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_CONF));
    return in_child(dir_, 30s, [&] {
      return child_checks(dir_.c_str(), hello.c_str(), slow.c_str(), missing.c_str(), cpus);
    });
  }

  std::string dir_;
  HelloFs fs_;
  std::optional<MountGuard> guard_;
  std::unique_ptr<Session> session_;
  std::thread runner_;
  std::atomic<bool> done_{false};
  std::string run_error_;
};

TEST(UringMount, ServesStatReaddirAndReadOnRingThreads) {
  MountedFs m(Transport::kUring);
  ASSERT_TRUE(m.session_);
  ASSERT_TRUE(m.wait_for_transport("uring")) << "io_uring queues never registered";
  EXPECT_EQ(m.check_in_child(), 0);
  auto stats = m.session_->stats();
  EXPECT_EQ(stats.transport, "uring");
  // 3 rounds x every CPU x (lookup/getattr, open, read, opendir, readdir, ...).
  EXPECT_GT(stats.uring_requests, 20u);
  EXPECT_GT(m.fs_.pinned_requests(), 20u) << "requests were not served on pinned ring threads";
  EXPECT_GE(m.fs_.pinned_requests() * 10, m.fs_.requests() * 9)
      << m.fs_.pinned_requests() << " of " << m.fs_.requests() << " on ring threads";
  // The kernel picks the queue by the caller's CPU and the child visited every CPU it may
  // use: each of those queues served some, and always on its own CPU.
  ASSERT_EQ(stats.uring_queue_requests.size(), possible_cpu_count());
  ASSERT_EQ(stats.uring_queue_off_cpu.size(), possible_cpu_count());
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  for (unsigned q = 0; q < possible_cpu_count(); ++q) {
    if (CPU_ISSET(q, &allowed)) {
      EXPECT_GT(stats.uring_queue_requests[q], 0u) << "queue " << q;
    }
    EXPECT_EQ(stats.uring_queue_off_cpu[q], 0u) << "queue " << q << " served off its CPU";
  }
  EXPECT_TRUE(m.unmount_and_wait()) << "run() did not return after unmount";
  EXPECT_EQ(m.run_error_, "");
}

TEST(UringMount, DevTransportStillWorksWhenTheKernelOffersUring) {
  MountedFs m(Transport::kDev);
  ASSERT_TRUE(m.session_);
  ASSERT_TRUE(m.wait_for_transport("dev"));
  EXPECT_EQ(m.check_in_child(), 0);
  auto stats = m.session_->stats();
  EXPECT_EQ(stats.transport, "dev");
  EXPECT_EQ(stats.uring_requests, 0u);
  EXPECT_EQ(m.fs_.pinned_requests(), 0u);
  EXPECT_TRUE(m.unmount_and_wait());
}

TEST(UringMount, AbortWithARequestInFlightEndsTheSession) {
  MountedFs m(Transport::kUring);
  ASSERT_TRUE(m.session_);
  ASSERT_TRUE(m.wait_for_transport("uring"));
  std::string hang = m.dir_ + "/hang";
  // The child blocks in read(2) on "hang" until the connection goes away.
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    int fd = ::open(hang.c_str(), O_RDONLY);
    _exit(fd >= 0 && ::read(fd, &c, 1) < 0 ? 0 : 1);
  }
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (m.fs_.held() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(m.fs_.held(), 1u);
  EXPECT_TRUE(m.unmount_and_wait(/*abort_first=*/true)) << "run() hung with a ring entry held";
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the reader did not fail";
  m.fs_.release_held();  // a late reply to a stopped queue is dropped, not a crash
}

}  // namespace
}  // namespace fusebpf::fuse

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const char* ci = std::getenv("CI");
  bool must_run = ci != nullptr && std::string_view(ci) == "true";
  std::string missing;
  if (::access("/dev/fuse", R_OK | W_OK) != 0)
    missing = "/dev/fuse";
  else if (geteuid() != 0)
    missing = "root";
  else if (auto enabled = fusebpf::fuse::enable_uring(); !enabled)
    missing = enabled.error();
  if (!missing.empty()) {
    std::fprintf(stderr, "fuse_uring_test: skipped: needs %s\n", missing.c_str());
    return must_run ? 1 : 77;
  }
  return RUN_ALL_TESTS();
}
