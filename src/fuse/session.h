// Session: serves one FUSE connection. It negotiates INIT, runs worker threads (each with its
// own cloned channel, plus one pinned thread per CPU with the io_uring transport), decodes
// requests and dispatches them to an OpHandler, answers INTERRUPT and keeps per-opcode
// statistics.
//
// Lifetime: run() returns when the file system is unmounted (ENODEV on read) or the transport
// fails. The handler must outlive the session.
#pragma once

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuse/channel.h"
#include "fuse/internal/decode.h"
#include "fuse/internal/latency.h"
#include "fuse/op_handler.h"

namespace fusebpf::fuse {

class UringTransport;

// How requests reach the daemon. kUring: FUSE over io_uring, one ring and one pinned thread
// per possible CPU (src/fuse/internal/uring_queue.h); INIT, FORGET, INTERRUPT and
// notifications still use /dev/fuse. kAuto: io_uring when the kernel offers it at INIT and we
// are root, else /dev/fuse. The kernel offers it only if enable_uring() (uring.h) ran before
// the mount; when it does not, kUring logs an error and serves over /dev/fuse.
enum class Transport { kDev, kUring, kAuto };
std::string_view transport_name(Transport transport);  // "dev", "uring", "auto"
std::optional<Transport> parse_transport(std::string_view name);

struct SessionOptions {
  Transport transport = Transport::kDev;
  unsigned uring_queue_depth = 4;  // ring entries per CPU queue (each has a max_write buffer)
  unsigned threads = 2;            // /dev/fuse worker threads (>= 1)
  uint32_t max_write = 1u << 20;   // bytes per WRITE/READ request
  bool passthrough = true;         // ask for kernel passthrough (needs CAP_SYS_ADMIN)
  bool cache_symlinks = false;
  bool trace = false;  // log every request and reply
};

// Counters for one opcode.
struct OpStats {
  std::string_view name;
  uint64_t count = 0;
  uint64_t errors = 0;
  uint64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_bucket_ns = 0;
};

struct SessionStats {
  std::string_view transport;   // "dev" or "uring" (what is serving requests)
  uint64_t uring_requests = 0;  // requests that arrived through io_uring queues
  // Per io_uring queue (index = qid = the CPU it serves): requests, and how many of them
  // its thread started on another CPU (should stay 0: the queue thread is pinned).
  std::vector<uint64_t> uring_queue_requests;
  std::vector<uint64_t> uring_queue_off_cpu;
  std::vector<OpStats> ops;  // only opcodes seen at least once
  uint64_t requests = 0;
  uint64_t unknown_opcodes = 0;
  uint64_t malformed = 0;
};

class Session final : public ReplySink, public SessionControl {
 public:
  Session(OpHandler& handler, std::unique_ptr<Channel> channel, SessionOptions options);
  ~Session() override;

  // Serves until unmount. Returns the transport error that ended it, if not a clean unmount.
  Result<void, SessionError> run();

  const ConnectionInfo& connection() const { return connection_; }
  SessionStats stats() const;
  // The transport serving requests: "uring" once INIT enabled FUSE over io_uring and every
  // queue submitted its registration, else "dev". Thread-safe.
  std::string_view transport() const;

  // SessionControl
  Result<int32_t> open_backing(int fd) override;
  Result<void> close_backing(int32_t backing_id) override;
  Result<void> notify_inval_entry(uint64_t parent, std::string_view name) override;
  Result<void> notify_inval_inode(uint64_t nodeid, int64_t offset, int64_t length) override;
  Result<void> notify_delete(uint64_t parent, uint64_t child, std::string_view name) override;
  Result<void> notify_inc_epoch() override;

  // Processes one raw request read from `channel` (public for tests with a fake channel).
  void process(Channel& channel, std::span<const std::byte> message);

  void begin_interruptible(uint64_t unique, std::atomic<bool>* cancelled) override;
  void end_interruptible(uint64_t unique) override;

 private:
  void send_reply(const ReplyTarget& target, Errno error,
                  std::span<const iovec> body) noexcept override;
  void worker_loop(Channel& channel, std::vector<std::byte>& buffer);
  void handle_init(const DecodedRequest& req, ReplySlot reply);
  void handle_interrupt(uint64_t unique);
  void dispatch(const DecodedRequest& req, ReplySlot reply);
  Result<void> notify(abi::NotifyCode code, std::span<const iovec> parts);
  size_t buffer_size() const;
  bool want_uring(uint64_t offered) const;
  void start_uring();

  OpHandler& handler_;
  std::unique_ptr<Channel> channel_;  // the original /dev/fuse fd; notifications go here
  SessionOptions options_;
  ConnectionInfo connection_{};
  DecodeOptions decode_options_{};
  std::atomic<bool> initialized_{false};
  // Created by INIT (before its reply, so a failure can still fall back to /dev/fuse);
  // threads joined by run() or the destructor.
  std::unique_ptr<UringTransport> uring_;
  std::atomic<bool> uring_active_{false};

  struct OpCounters {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> errors{0};
    LatencyHistogram latency;
  };
  std::unique_ptr<std::array<OpCounters, kMaxOpcode + 1>> counters_;
  std::atomic<uint64_t> unknown_opcodes_{0};
  std::atomic<uint64_t> malformed_{0};

  // Lock order: interrupt_mutex_ is a leaf.
  mutable std::mutex interrupt_mutex_;
  struct Waiter {
    pthread_t thread;
    std::atomic<bool>* cancelled;
  };
  std::map<uint64_t, Waiter> interruptible_;  // unique -> serving thread
  std::set<uint64_t> interrupted_;            // INTERRUPTs that arrived (bounded)
};

}  // namespace fusebpf::fuse
