// OpHandler: one virtual hook per FUSE operation, generated from abi/fuse_ops.def. Every hook
// defaults to ENOSYS (or, for FORGET/BATCH_FORGET, to doing nothing). Implementations mark
// their hooks `override`, so a drifted signature fails to compile.
//
// Threading: hooks are called concurrently from every worker thread. A hook must answer its
// ReplySlot exactly once, now or later from another thread; dropping it answers EIO.
// Hooks must not throw (the session catches, logs and answers EIO as a last resort).
#pragma once

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
