// OpHandler: one virtual hook per FUSE operation, generated from abi/fuse_ops.def. Every hook
// defaults to ENOSYS (or, for FORGET/BATCH_FORGET, to doing nothing). Implementations mark
// their hooks `override`, so a drifted signature fails to compile.
//
// Threading: hooks are called concurrently from every worker thread. A hook must answer its
// ReplySlot exactly once, now or later from another thread; dropping it answers EIO.
// Hooks must not throw (the session catches, logs and answers EIO as a last resort).
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "fuse/reply.h"
#include "fuse/request.h"

namespace fusebpf::fuse {

// What INIT negotiated.
struct ConnectionInfo {
  uint32_t proto_major = 0;
  uint32_t proto_minor = 0;
  uint64_t kernel_flags = 0;  // what the kernel offered
  uint64_t flags = 0;         // what we enabled
  uint32_t max_write = 0;
  uint32_t max_readahead = 0;
  uint32_t max_pages = 0;
  bool passthrough = false;  // kernel passthrough (backing ids) is available
};

// Services of the session a handler may use (backing ids, cache invalidation).
// Thread-safe. Notifications may block until the kernel processes them: never call
// them while holding a lock a FUSE request handler could need.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  virtual Result<int32_t> open_backing(int fd) = 0;
  virtual Result<void> close_backing(int32_t backing_id) = 0;
  virtual Result<void> notify_inval_entry(uint64_t parent, std::string_view name) = 0;
  virtual Result<void> notify_inval_inode(uint64_t nodeid, int64_t offset, int64_t length) = 0;
  virtual Result<void> notify_delete(uint64_t parent, uint64_t child, std::string_view name) = 0;
  // Invalidates every cached name of the mount at once (Linux 6.16+; EINVAL before).
  virtual Result<void> notify_inc_epoch() = 0;
  // Interruptible requests (see InterruptibleScope).
  virtual void begin_interruptible(uint64_t unique, std::atomic<bool>* cancelled) = 0;
  virtual void end_interruptible(uint64_t unique) = 0;
};

// Marks the calling thread as serving request `unique` while it exists. An INTERRUPT for the
// request sets cancelled() and sends the thread a signal without SA_RESTART, so a blocking
// syscall fails with EINTR; polling waits should check cancelled().
class InterruptibleScope {
 public:
  InterruptibleScope(SessionControl& control, uint64_t unique)
      : control_(control), unique_(unique) {
    control_.begin_interruptible(unique_, &cancelled_);
  }
  ~InterruptibleScope() { control_.end_interruptible(unique_); }
  InterruptibleScope(const InterruptibleScope&) = delete;
  InterruptibleScope& operator=(const InterruptibleScope&) = delete;
  const std::atomic<bool>* cancelled() const { return &cancelled_; }

 private:
  SessionControl& control_;
  uint64_t unique_;
  std::atomic<bool> cancelled_{false};
};

class OpHandler {
 public:
  virtual ~OpHandler() = default;

  // Called once after INIT negotiation, before any other request is dispatched.
  virtual void init(const ConnectionInfo& connection, SessionControl& control) {}
  // Called on each worker thread before it serves its first request.
  virtual void worker_started() {}
  // DESTROY (sent for fuseblk/unmount of some mounts; plain fuse mounts just see ENODEV).
  virtual void destroy() {}

#define FUSE_OP_kReply(Name, method)                                          \
  virtual void method(const Request<Opcode::k##Name>& req, ReplySlot reply) { \
    reply.error(Errno::kNoSys);                                               \
  }
#define FUSE_OP_kNoReply(Name, method) \
  virtual void method(const Request<Opcode::k##Name>& req) {}
#define FUSE_OP(Name, method, KNAME, num, In, min_in, names, reply) FUSE_OP_##reply(Name, method)
#include "abi/fuse_ops.def"
#undef FUSE_OP
#undef FUSE_OP_kReply
#undef FUSE_OP_kNoReply
};

}  // namespace fusebpf::fuse
