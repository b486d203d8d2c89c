// FUSE over io_uring: one queue per possible CPU, each served by one thread pinned to that CPU
// with its own ring (SQE128) and a few ring entries. ABI and flow: src/abi/fuse_uring.h.
//
// A RingEntry is the Channel a request "was read from": Session::process() gets it as the
// channel, so ReplySlot, ReplySink and the handlers are the same as for /dev/fuse. Its write()
// puts the reply into the entry's shared buffers; the COMMIT_AND_FETCH that hands it to the
// kernel is always submitted by the queue's own thread, so every command belongs to the pinned
// thread's task and the ring can be IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN (completion
// work runs when that thread waits, instead of interrupting it):
//   * reply while the handler runs on the queue thread (the usual case): the commit is
//     submitted when process() returns, so the request buffer stays valid for the whole
//     handler. If the request had a payload (names, write data), the reply is staged in a
//     side buffer first, because the payload buffer holds both.
//   * reply later from another thread (a slot handed over): the entry is queued for the
//     queue thread, which is woken through an eventfd read on its ring.
// Entries of one queue are answered in any order.
//
// Shutdown: on unmount or abort every command completes with a negative res (ENOTCONN,
// ECANCELED, ...); an entry whose reply is still outstanding gets no completion, so the
// session also calls stop() once /dev/fuse reports ENODEV. If the daemon dies, the kernel
// cancels the commands itself.
#pragma once

#include <liburing.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "abi/fuse_uring.h"
#include "base/unique_fd.h"
#include "fuse/channel.h"

namespace fusebpf::fuse {

// Decodes and dispatches one request message read from `channel` (Session::process).
using ProcessFn = std::function<void(Channel& channel, std::span<const std::byte> message)>;

class UringQueue;

// One ring entry: a header block and a payload buffer registered with the kernel.
class RingEntry final : public Channel {
 public:
  RingEntry(UringQueue& queue, uint32_t index, size_t payload_size);

  // Channel. read() and clone() are not used on ring entries. write() is thread-safe.
  Result<size_t, SessionError> read(std::span<std::byte> buffer) override;
  Result<void, SessionError> write(std::span<const iovec> message) override;
  Result<std::unique_ptr<Channel>, SessionError> clone() override;

 private:
  friend class UringQueue;
  friend struct RingEntryTestPeer;
  enum class State { kKernel, kHandler, kAwaitingReply };

  // Queue thread: a request arrived. Returns the contiguous message (fuse_in_header, the op's
  // input struct, the payload) built in place in front of the payload, or an empty span.
  std::span<const std::byte> begin_request();
  // Queue thread: process() returned. True when the reply is ready to commit.
  bool end_handler();
  // Copies header + body into the shared buffers. REQUIRES: mutex_ held.
  void fill(std::span<const iovec> message);

  UringQueue& queue_;
  const uint32_t index_;
  const size_t payload_size_;
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<abi::fuse_uring_req_header, Free> header_;  // shared with the kernel
  std::unique_ptr<std::byte, Free> block_;                    // [room for header + op_in][payload]
  std::byte* payload_ = nullptr;
  iovec iov_[abi::kUringIovSegments]{};
  abi::UringCmd last_cmd_ = abi::UringCmd::kRegister;
  uint64_t commit_id_ = 0;

  std::mutex mutex_;  // leaf lock: guards the fields below
  State state_ = State::kKernel;
  bool replied_ = false;
  size_t request_payload_ = 0;  // payload bytes of the current request
  std::vector<std::byte> staged_;
  bool staged_valid_ = false;
};

struct UringQueueConfig {
  int dev_fd = -1;   // the /dev/fuse connection; not owned, must outlive the queue
  uint16_t qid = 0;  // = the CPU it serves
  unsigned entries = 4;
  size_t payload_size = 0;  // >= the kernel's max(8 KiB, max_write, max_pages * 4 KiB)
};

class UringQueue {
 public:
  // Creates the ring and the buffers (nothing is registered yet).
  static Result<std::unique_ptr<UringQueue>, SessionError> create(const UringQueueConfig& config);
  ~UringQueue();
  UringQueue(const UringQueue&) = delete;
  UringQueue& operator=(const UringQueue&) = delete;

  // Runs on the queue's own thread: pins it to CPU qid, registers every entry and serves
  // requests until every entry has ended or stop() is called. Returns the first unexpected
  // error (ENOTCONN and friends at unmount are not errors).
  Result<void, SessionError> serve(const ProcessFn& process);
  // Thread-safe; makes serve() return soon. Later replies are dropped (kUnmounted).
  void stop();
  uint16_t qid() const { return config_.qid; }
  uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  // Requests whose handler started while the thread ran on another CPU than qid (pinning
  // failed or was changed from outside): each one paid a cross-CPU round trip.
  uint64_t served_off_cpu() const { return off_cpu_.load(std::memory_order_relaxed); }
  // True once every entry's REGISTER has been submitted and none has failed.
  bool registered() const {
    return registered_.load(std::memory_order_acquire) &&
           !register_failed_.load(std::memory_order_acquire);
  }

 private:
  friend class RingEntry;
  friend struct RingEntryTestPeer;
  explicit UringQueue(const UringQueueConfig& config) : config_(config) {}
  io_uring_sqe* next_sqe();
  void prep_command(RingEntry& entry, abi::UringCmd cmd);
  void arm_wakeup();
  // Another thread answered `entry`: queue its commit for the queue thread.
  Result<void, SessionError> hand_over(RingEntry& entry);
  void drain_handed_over();
  // Returns false when the entry has ended.
  bool on_completion(RingEntry& entry, int res, const ProcessFn& process);

  const UringQueueConfig config_;
  io_uring ring_{};
  bool ring_ready_ = false;
  UniqueFd wake_fd_;  // eventfd: another thread has work for this queue
  uint64_t wake_buffer_ = 0;
  std::vector<std::unique_ptr<RingEntry>> entries_;
  std::atomic<uint64_t> served_{0};
  std::atomic<uint64_t> off_cpu_{0};
  std::atomic<bool> registered_{false};
  std::atomic<bool> register_failed_{false};
  std::atomic<bool> stopping_{false};
  std::thread::id owner_;
  std::optional<SessionError> error_;

  std::mutex handover_mutex_;  // leaf lock (taken after a RingEntry::mutex_ is released)
  std::vector<RingEntry*> handed_over_;
};

// All queues of one connection and their threads.
class UringTransport {
 public:
  // One queue per possible CPU. Fails (nothing to clean up) when a ring cannot be created.
  static Result<std::unique_ptr<UringTransport>, SessionError> create(int dev_fd, unsigned entries,
                                                                      size_t payload_size);
  ~UringTransport();  // stop() + join()

  // Starts the pinned threads; `on_thread_start` runs first on each (OpHandler::worker_started).
  void start(ProcessFn process, std::function<void()> on_thread_start);
  void stop();
  // Waits for the threads; returns the first unexpected error of any queue.
  Result<void, SessionError> join();
  uint64_t served() const;
  // Per queue (index = qid = CPU): requests served, and those served off their CPU.
  struct QueueCounts {
    uint64_t served = 0;
    uint64_t off_cpu = 0;
  };
  std::vector<QueueCounts> per_queue() const;
  size_t queues() const { return queues_.size(); }
  bool registered() const;

 private:
  std::vector<std::unique_ptr<UringQueue>> queues_;
  std::vector<std::thread> threads_;
  ProcessFn process_;
  std::function<void()> on_thread_start_;
  std::mutex error_mutex_;
  std::optional<SessionError> first_error_;
};

// How many CPUs the kernel may run a task on (/sys/devices/system/cpu/possible). The kernel
// makes one queue per possible CPU (qid = CPU number) and uses the ring only once every queue
// has a registered entry.
unsigned possible_cpu_count();

}  // namespace fusebpf::fuse
