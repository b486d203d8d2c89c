// Our own declarations of the FUSE-over-io_uring part of the kernel ABI (protocol 7.42,
// Linux 6.14+), written from the documented kernel facts (include/uapi/linux/fuse.h and
// Documentation/filesystems/fuse-io-uring.rst); Debian 12's headers predate it and liburing 2.3
// has no helper for the command. Names follow the kernel's.
//
// The flow (see docs/ARCHITECTURE.md "FUSE protocol" and src/fuse/internal/uring_queue.h):
//   * INIT is negotiated on /dev/fuse; the daemon sets init::kOverIoUring in its reply (the
//     kernel only offers it when /sys/module/fuse/parameters/enable_uring is Y).
//   * For every possible CPU (qid = CPU number) the daemon submits REGISTER commands, one per
//     ring entry: an IORING_OP_URING_CMD SQE128 on the /dev/fuse fd with cmd_op = kRegister,
//     addr/len = an iovec[2] {fuse_uring_req_header, payload buffer >= the kernel's
//     max(8 KiB, max_write, max_pages * 4 KiB)}, and fuse_uring_cmd_req in the SQE's 80-byte
//     command area. Until every queue has an entry the kernel does not use the ring.
//   * A request arrives as the command's completion (res 0): fuse_in_header in in_out, the
//     op's fixed input struct in op_in, everything after it (names, data, extensions) in the
//     payload buffer, its size in ring_ent_in_out.payload_sz, the unique in commit_id.
//   * The daemon answers with kCommitAndFetch (commit_id = that unique): fuse_out_header in
//     in_out, the reply body in the payload with payload_sz set. The same SQE waits for the
//     next request.
//   * On unmount or abort every pending command completes with a negative res.
// FORGET, INTERRUPT and notifications keep using /dev/fuse.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fusebpf::abi {

// cmd_op values of IORING_OP_URING_CMD on /dev/fuse.
enum class UringCmd : uint32_t {
  kInvalid = 0,
  kRegister = 1,        // FUSE_IO_URING_CMD_REGISTER: register buffers, fetch a request
  kCommitAndFetch = 2,  // FUSE_IO_URING_CMD_COMMIT_AND_FETCH: answer, fetch the next
};

inline constexpr size_t kUringInOutHeaderSize = 128;  // FUSE_URING_IN_OUT_HEADER_SZ
inline constexpr size_t kUringOpInOutSize = 128;      // FUSE_URING_OP_IN_OUT_SZ
inline constexpr unsigned kUringIovSegments = 2;      // headers + payload

// Written by the kernel with each request, by the daemon with each reply.
struct fuse_uring_ent_in_out {
  uint64_t flags;
  uint64_t commit_id;   // the request's unique, echoed in fuse_uring_cmd_req.commit_id
  uint32_t payload_sz;  // valid bytes in the payload buffer (either direction)
  uint32_t padding;
  uint64_t reserved;
};
static_assert(sizeof(fuse_uring_ent_in_out) == 32);
static_assert(offsetof(fuse_uring_ent_in_out, commit_id) == 8);
static_assert(offsetof(fuse_uring_ent_in_out, payload_sz) == 16);

// iov[0] of a REGISTER: one per ring entry, shared with the kernel for the entry's lifetime.
struct fuse_uring_req_header {
  char in_out[kUringInOutHeaderSize];  // fuse_in_header (request) / fuse_out_header (reply)
  char op_in[kUringOpInOutSize];       // the op's fixed input struct (unused on reply)
  fuse_uring_ent_in_out ring_ent_in_out;
};
static_assert(sizeof(fuse_uring_req_header) == 288);
static_assert(offsetof(fuse_uring_req_header, op_in) == 128);
static_assert(offsetof(fuse_uring_req_header, ring_ent_in_out) == 256);

// The command data in the 80-byte area at offset 48 of a 128-byte SQE.
struct fuse_uring_cmd_req {
  uint64_t flags;
  uint64_t commit_id;  // REGISTER: 0; COMMIT_AND_FETCH: the unique being answered
  uint16_t qid;        // queue index = CPU number
  uint8_t padding[6];
};
static_assert(sizeof(fuse_uring_cmd_req) == 24);
static_assert(offsetof(fuse_uring_cmd_req, qid) == 16);

inline constexpr size_t kSqe128CmdOffset = 48;  // offsetof(io_uring_sqe, cmd)
inline constexpr size_t kSqe128CmdSize = 80;
static_assert(sizeof(fuse_uring_cmd_req) <= kSqe128CmdSize);

// The module parameter that makes the kernel offer init::kOverIoUring (root may set it).
inline constexpr const char* kEnableUringParam = "/sys/module/fuse/parameters/enable_uring";

}  // namespace fusebpf::abi
