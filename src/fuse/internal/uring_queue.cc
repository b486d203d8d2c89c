// FUSE-over-io_uring queues; see uring_queue.h and src/abi/fuse_uring.h.
#include "fuse/internal/uring_queue.h"

#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "abi/fuse_kernel.h"
#include "base/log.h"
#include "base/sys.h"
#include "fuse/opcode.h"

namespace fusebpf::fuse {
namespace {

// User data of the eventfd read; entries use their index.
constexpr uint64_t kWakeTag = ~uint64_t{0};
// Bytes in front of the payload where a request's header and input struct are copied, so
// the decoder sees one contiguous message without copying the payload.
constexpr size_t kRoom = 4096;
static_assert(kRoom >= sizeof(abi::fuse_in_header) + abi::kUringOpInOutSize);

SessionError io_error(Errno e, std::string message) {
  return SessionError{SessionError::Kind::kIo, e, std::move(message)};
}

// Completion results that mean the connection (or the daemon's ring) is gone.
bool is_shutdown(int res) {
  return res == -ENOTCONN || res == -ECANCELED || res == -ECONNABORTED || res == -ENODEV;
}

void pin_to_cpu(unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    FUSEBPF_LOG(kWarn, "io_uring queue {}: cannot pin to CPU {} ({}); running unpinned", cpu, cpu,
                errno_message(last_errno()));
  }
}

}  // namespace

unsigned possible_cpu_count() {
  // Format: "0-3,8-11". The kernel sizes its queue array by the count.
  auto text = sys::read_file(AT_FDCWD, "/sys/devices/system/cpu/possible");
  unsigned count = 0;
  if (text) {
    const char* p = text->c_str();
    while (*p != '\0' && *p != '\n') {
      char* end = nullptr;
      unsigned long first = std::strtoul(p, &end, 10);
      unsigned long last = first;
      if (end == p) break;
      p = end;
      if (*p == '-') {
        last = std::strtoul(p + 1, &end, 10);
        p = end;
      }
      count += static_cast<unsigned>(last - first + 1);
      if (*p == ',') ++p;
    }
  }
  if (count == 0) count = static_cast<unsigned>(std::max(1L, sysconf(_SC_NPROCESSORS_CONF)));
  return count;
}

// ---- RingEntry ----

RingEntry::RingEntry(UringQueue& queue, uint32_t index, size_t payload_size)
    : queue_(queue), index_(index), payload_size_(payload_size) {
  // Page-aligned like the kernel's own buffers; sizes are multiples of the alignment.
  header_.reset(static_cast<abi::fuse_uring_req_header*>(std::aligned_alloc(4096, 4096)));
  size_t payload_alloc = (payload_size + 4095) & ~size_t{4095};
  block_.reset(static_cast<std::byte*>(std::aligned_alloc(4096, kRoom + payload_alloc)));
  if (!header_ || !block_) throw std::bad_alloc();
  std::memset(header_.get(), 0, sizeof(abi::fuse_uring_req_header));
  payload_ = block_.get() + kRoom;
  iov_[0] = iovec{header_.get(), sizeof(abi::fuse_uring_req_header)};
  iov_[1] = iovec{payload_, payload_size};
}

Result<size_t, SessionError> RingEntry::read(std::span<std::byte>) {
  return fail(SessionError{SessionError::Kind::kProtocol, Errno::kInval,
                           "ring entries are not read like /dev/fuse"});
}

Result<std::unique_ptr<Channel>, SessionError> RingEntry::clone() {
  return fail(SessionError{SessionError::Kind::kIo, Errno::kNoSys, "ring entries do not clone"});
}

std::span<const std::byte> RingEntry::begin_request() {
  const auto& ent = header_->ring_ent_in_out;
  abi::fuse_in_header in{};
  std::memcpy(&in, header_->in_out, sizeof in);
  size_t payload = ent.payload_sz;
  {
    std::lock_guard lock(mutex_);
    state_ = State::kHandler;
    replied_ = false;
    staged_valid_ = false;
    request_payload_ = payload;
    commit_id_ = ent.commit_id;
  }
  if (payload > payload_size_) return {};
  // The input struct's size is not sent; it is what the header's total length leaves over.
  // Fall back to the op table's size if the kernel left len unset.
  size_t op_len = 0;
  if (in.len >= sizeof in + payload && in.len - sizeof in - payload <= abi::kUringOpInOutSize) {
    op_len = in.len - sizeof in - payload;
  } else if (const OpInfo* info = op_info(in.opcode)) {
    op_len = std::min<size_t>(info->in_size, abi::kUringOpInOutSize);
  }
  in.len = static_cast<uint32_t>(sizeof in + op_len + payload);
  std::byte* start = payload_ - op_len - sizeof in;
  std::memcpy(start, &in, sizeof in);
  std::memcpy(start + sizeof in, header_->op_in, op_len);
  return {start, in.len};
}

bool RingEntry::end_handler() {
  std::lock_guard lock(mutex_);
  if (!replied_) {
    state_ = State::kAwaitingReply;
    return false;
  }
  if (staged_valid_) {
    iovec whole{staged_.data(), staged_.size()};
    fill(std::span<const iovec>(&whole, 1));
    staged_valid_ = false;
  }
  state_ = State::kKernel;
  return true;
}

void RingEntry::fill(std::span<const iovec> message) {
  // The first sizeof(fuse_out_header) bytes go to in_out, the rest to the payload.
  abi::fuse_out_header out{};
  size_t header_left = sizeof out;
  auto* header_dst = reinterpret_cast<std::byte*>(&out);
  size_t body = 0;
  bool too_big = false;
  for (const iovec& part : message) {
    auto* src = static_cast<const std::byte*>(part.iov_base);
    size_t len = part.iov_len;
    size_t h = std::min(len, header_left);
    std::memcpy(header_dst + (sizeof out - header_left), src, h);
    header_left -= h;
    src += h;
    len -= h;
    if (len == 0) continue;
    if (body + len > payload_size_) {
      too_big = true;
      break;
    }
    std::memmove(payload_ + body, src, len);
    body += len;
  }
  if (too_big) {
    FUSEBPF_LOG(kError, "reply to unique {} does not fit the {}-byte ring buffer: EIO", out.unique,
                payload_size_);
    out.error = -EIO;
    body = 0;
  }
  out.len = static_cast<uint32_t>(sizeof out + body);
  std::memcpy(header_->in_out, &out, sizeof out);
  auto& ent = header_->ring_ent_in_out;
  ent.flags = 0;
  ent.payload_sz = static_cast<uint32_t>(body);
}

Result<void, SessionError> RingEntry::write(std::span<const iovec> message) {
  std::unique_lock lock(mutex_);
  switch (state_) {
    case State::kHandler:
      if (replied_) break;
      replied_ = true;
      if (request_payload_ == 0) {
        fill(message);  // nothing of the request lives in the payload buffer
        return {};
      }
      // The handler may still read its request's payload: keep the reply aside until it
      // returns.
      staged_.clear();
      for (const iovec& part : message) {
        auto* p = static_cast<const std::byte*>(part.iov_base);
        staged_.insert(staged_.end(), p, p + part.iov_len);
      }
      staged_valid_ = true;
      return {};
    case State::kAwaitingReply:
      fill(message);
      state_ = State::kKernel;
      lock.unlock();
      return queue_.hand_over(*this);
    case State::kKernel:
      break;
  }
  return fail(SessionError{SessionError::Kind::kProtocol, Errno::kInval,
                           "reply on a ring entry with no request pending"});
}

// ---- UringQueue ----

Result<std::unique_ptr<UringQueue>, SessionError> UringQueue::create(
    const UringQueueConfig& config) {
  std::unique_ptr<UringQueue> queue(new UringQueue(config));
  int efd = eventfd(0, EFD_CLOEXEC);
  if (efd < 0) return fail(io_error(last_errno(), "eventfd"));
  queue->wake_fd_ = UniqueFd(efd);
  io_uring_params params{};
  // SQE128: the command data lives in the SQE's second half (the kernel refuses a plain
  // ring, and a mount with no registered queue hangs).
  params.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
  // Only the queue thread submits, and it waits in io_uring_enter anyway: completion work
  // can run right there instead of interrupting it. The ring is enabled by that thread, which
  // makes it the single issuer.
  params.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED;
  unsigned depth = config.entries + 1;  // + the eventfd read
  params.cq_entries = 2 * depth;
  int rc = io_uring_queue_init_params(depth, &queue->ring_, &params);
  if (rc < 0) {
    return fail(io_error(errno_from(rc), fmt::format("io_uring_queue_init (queue {}): {}",
                                                     config.qid, errno_message(errno_from(rc)))));
  }
  queue->ring_ready_ = true;
  for (unsigned i = 0; i < config.entries; ++i) {
    queue->entries_.push_back(std::make_unique<RingEntry>(*queue, i, config.payload_size));
  }
  return queue;
}

UringQueue::~UringQueue() {
  if (ring_ready_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* UringQueue::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // Cannot happen: the SQ has one slot per entry plus the eventfd read, and each has at
    // most one command outstanding. Submit and retry rather than lose a command.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  if (sqe != nullptr) std::memset(sqe, 0, 128);  // both halves of an SQE128
  return sqe;
}

void UringQueue::prep_command(RingEntry& entry, abi::UringCmd cmd) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) {
    FUSEBPF_LOG(kError, "io_uring queue {}: no free SQE", config_.qid);
    return;
  }
  entry.last_cmd_ = cmd;
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = config_.dev_fd;
  sqe->cmd_op = static_cast<uint32_t>(cmd);
  sqe->user_data = entry.index_;
  abi::fuse_uring_cmd_req req{};
  req.qid = config_.qid;
  if (cmd == abi::UringCmd::kRegister) {
    sqe->addr = reinterpret_cast<uint64_t>(entry.iov_);
    sqe->len = abi::kUringIovSegments;
  } else {
    req.commit_id = entry.commit_id_;
  }
  std::memcpy(reinterpret_cast<std::byte*>(sqe) + abi::kSqe128CmdOffset, &req, sizeof req);
  // The kernel writes only as much of op_in as the next request's input struct needs.
  std::memset(entry.header_->op_in, 0, sizeof entry.header_->op_in);
}

void UringQueue::arm_wakeup() {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return;
  io_uring_prep_read(sqe, wake_fd_.get(), &wake_buffer_, sizeof wake_buffer_, 0);
  sqe->user_data = kWakeTag;
}

Result<void, SessionError> UringQueue::hand_over(RingEntry& entry) {
  {
    std::lock_guard lock(handover_mutex_);
    if (stopping_.load(std::memory_order_acquire)) {
      return fail(SessionError{SessionError::Kind::kUnmounted, Errno::kNoDev, "unmounted"});
    }
    handed_over_.push_back(&entry);
  }
  // The queue thread drains the list after each batch of completions; others must wake it.
  if (std::this_thread::get_id() != owner_) {
    uint64_t one = 1;
    (void)sys::write_some(wake_fd_.get(), std::as_bytes(std::span<const uint64_t>(&one, 1)));
  }
  return {};
}

void UringQueue::drain_handed_over() {
  std::vector<RingEntry*> ready;
  {
    std::lock_guard lock(handover_mutex_);
    ready.swap(handed_over_);
  }
  for (RingEntry* entry : ready) prep_command(*entry, abi::UringCmd::kCommitAndFetch);
}

void UringQueue::stop() {
  {
    std::lock_guard lock(handover_mutex_);
    stopping_.store(true, std::memory_order_release);
  }
  uint64_t one = 1;
  (void)sys::write_some(wake_fd_.get(), std::as_bytes(std::span<const uint64_t>(&one, 1)));
}

bool UringQueue::on_completion(RingEntry& entry, int res, const ProcessFn& process) {
  if (res == 0) {
    // Only this thread writes the counters: plain load + store, no locked instruction.
    served_.store(served_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (static_cast<unsigned>(sched_getcpu()) != config_.qid) {
      off_cpu_.store(off_cpu_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    auto message = entry.begin_request();
    if (message.empty()) {
      FUSEBPF_LOG(kError, "io_uring queue {}: request with an oversized payload", config_.qid);
      abi::fuse_out_header out{sizeof out, -EIO, entry.commit_id_};
      iovec iov{&out, sizeof out};
      (void)entry.write(std::span<const iovec>(&iov, 1));
    } else {
      process(entry, message);
    }
    if (entry.end_handler()) prep_command(entry, abi::UringCmd::kCommitAndFetch);
    return true;
  }
  if (res == -EAGAIN || res == -EINTR) {
    // REGISTER before the kernel finished INIT, or an interrupted submission: try again.
    if (entry.last_cmd_ == abi::UringCmd::kRegister) usleep(1000);
    prep_command(entry, entry.last_cmd_);
    return true;
  }
  if (entry.last_cmd_ == abi::UringCmd::kRegister) {
    // The kernel then gives up io_uring for the connection and keeps using /dev/fuse.
    register_failed_.store(true, std::memory_order_release);
  }
  if (!is_shutdown(res) && !error_) {
    Errno e = errno_from(res);
    error_ = io_error(e, fmt::format("io_uring queue {}: {} failed: {}", config_.qid,
                                     entry.last_cmd_ == abi::UringCmd::kRegister
                                         ? "FUSE_IO_URING_CMD_REGISTER"
                                         : "FUSE_IO_URING_CMD_COMMIT_AND_FETCH",
                                     errno_message(e)));
    FUSEBPF_LOG(kError, "{}", error_->message);
  }
  return false;
}

Result<void, SessionError> UringQueue::serve(const ProcessFn& process) {
  owner_ = std::this_thread::get_id();
  pin_to_cpu(config_.qid);
  // Visible in /proc/<pid>/task/*/comm, so per-thread scheduling counters can be told apart.
  char name[16];
  std::snprintf(name, sizeof name, "fuse-ring-%u", static_cast<unsigned>(config_.qid));
  pthread_setname_np(pthread_self(), name);
  // IORING_REGISTER_ENABLE_RINGS (liburing 2.3 declares io_uring_enable_rings but its shared
  // library does not export it).
  if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
      0) {
    Errno e = last_errno();
    return fail(io_error(
        e, fmt::format("enabling the ring of queue {}: {}", config_.qid, errno_message(e))));
  }
  for (auto& entry : entries_) prep_command(*entry, abi::UringCmd::kRegister);
  arm_wakeup();
  int submitted = io_uring_submit(&ring_);
  if (submitted < 0) {
    return fail(
        io_error(errno_from(submitted), fmt::format("io_uring_submit (queue {}): {}", config_.qid,
                                                    errno_message(errno_from(submitted)))));
  }
  registered_.store(true, std::memory_order_release);
  size_t live = entries_.size();
  while (live > 0 && !stopping_.load(std::memory_order_acquire)) {
    int rc = io_uring_submit_and_wait(&ring_, 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      return fail(
          io_error(errno_from(rc), fmt::format("io_uring_submit_and_wait (queue {}): {}",
                                               config_.qid, errno_message(errno_from(rc)))));
    }
    io_uring_cqe* cqe = nullptr;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) {
      uint64_t tag = cqe->user_data;
      int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      if (tag == kWakeTag) {
        if (!stopping_.load(std::memory_order_acquire)) arm_wakeup();
      } else if (tag < entries_.size()) {
        if (!on_completion(*entries_[tag], res, process)) --live;
      }
    }
    drain_handed_over();
  }
  if (error_) return fail(*error_);
  return {};
}

// ---- UringTransport ----

Result<std::unique_ptr<UringTransport>, SessionError> UringTransport::create(int dev_fd,
                                                                             unsigned entries,
                                                                             size_t payload_size) {
  auto transport = std::make_unique<UringTransport>();
  unsigned cpus = possible_cpu_count();
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    UringQueueConfig config;
    config.dev_fd = dev_fd;
    config.qid = static_cast<uint16_t>(cpu);
    config.entries = std::max(1u, entries);
    config.payload_size = payload_size;
    FUSEBPF_TRY(queue, UringQueue::create(config));
    transport->queues_.push_back(std::move(queue));
  }
  return transport;
}

UringTransport::~UringTransport() {
  stop();
  (void)join();
}

void UringTransport::start(ProcessFn process, std::function<void()> on_thread_start) {
  process_ = std::move(process);
  on_thread_start_ = std::move(on_thread_start);
  for (auto& queue : queues_) {
    threads_.emplace_back([this, q = queue.get()] {
      if (on_thread_start_) on_thread_start_();
      auto served = q->serve(process_);
      if (!served) {
        std::lock_guard lock(error_mutex_);
        if (!first_error_) first_error_ = served.error();
      }
    });
  }
}

void UringTransport::stop() {
  for (auto& queue : queues_) queue->stop();
}

Result<void, SessionError> UringTransport::join() {
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  std::lock_guard lock(error_mutex_);
  if (first_error_) return fail(*first_error_);
  return {};
}

uint64_t UringTransport::served() const {
  uint64_t total = 0;
  for (const auto& queue : queues_) total += queue->served();
  return total;
}

std::vector<UringTransport::QueueCounts> UringTransport::per_queue() const {
  std::vector<QueueCounts> out;
  for (const auto& queue : queues_) out.push_back({queue->served(), queue->served_off_cpu()});
  return out;
}

bool UringTransport::registered() const {
  return std::all_of(queues_.begin(), queues_.end(), [](const auto& q) { return q->registered(); });
}

}  // namespace fusebpf::fuse
