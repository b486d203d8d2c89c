// Session: serves one FUSE connection. It negotiates INIT, runs worker threads (each with its
// own cloned channel), decodes requests and dispatches them to an OpHandler, answers INTERRUPT
// and keeps per-opcode statistics.
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
#include <vector>

#include "fuse/channel.h"
#include "fuse/internal/decode.h"
#include "fuse/internal/latency.h"
#include "fuse/op_handler.h"

namespace fusebpf::fuse {

struct SessionOptions {
  unsigned threads = 2;           // worker threads (>= 1)
  uint32_t max_write = 1u << 20;  // bytes per WRITE/READ request
  bool passthrough = true;        // ask for kernel passthrough (needs CAP_SYS_ADMIN)
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

  // SessionControl
  Result<int32_t> open_backing(int fd) override;
  Result<void> close_backing(int32_t backing_id) override;
  Result<void> notify_inval_entry(uint64_t parent, std::string_view name) override;
  Result<void> notify_inval_inode(uint64_t nodeid, int64_t offset, int64_t length) override;
  Result<void> notify_delete(uint64_t parent, uint64_t child, std::string_view name) override;

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

  OpHandler& handler_;
  std::unique_ptr<Channel> channel_;  // the original /dev/fuse fd; notifications go here
  SessionOptions options_;
  ConnectionInfo connection_{};
  DecodeOptions decode_options_{};
  std::atomic<bool> initialized_{false};

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
  std::set<uint64_t> interrupted_;               // INTERRUPTs that arrived (bounded)
};

}  // namespace fusebpf::fuse
