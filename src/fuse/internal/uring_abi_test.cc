// Layout checks of our FUSE-over-io_uring ABI declarations (src/abi/fuse_uring.h) against the
// kernel's documented values and liburing's SQE, plus the CPU count the queues are sized by.
#include <gtest/gtest.h>
#include <liburing.h>
#include <unistd.h>

#include <cstddef>

#include "abi/fuse_kernel.h"
#include "abi/fuse_uring.h"
#include "fuse/internal/uring_queue.h"

namespace fusebpf::fuse {
namespace {

TEST(UringAbi, CommandNumbersAndInitFlag) {
  EXPECT_EQ(static_cast<uint32_t>(abi::UringCmd::kRegister), 1u);
  EXPECT_EQ(static_cast<uint32_t>(abi::UringCmd::kCommitAndFetch), 2u);
  EXPECT_EQ(abi::init::kOverIoUring, uint64_t{1} << 41);
  // It travels in fuse_init_out.flags2 (bit 9).
  EXPECT_EQ(abi::init::kOverIoUring >> 32, uint64_t{1} << 9);
}

TEST(UringAbi, RequestHeaderLayout) {
  EXPECT_EQ(sizeof(abi::fuse_uring_req_header), 288u);
  EXPECT_EQ(offsetof(abi::fuse_uring_req_header, in_out), 0u);
  EXPECT_EQ(offsetof(abi::fuse_uring_req_header, op_in), 128u);
  EXPECT_EQ(offsetof(abi::fuse_uring_req_header, ring_ent_in_out), 256u);
  EXPECT_EQ(sizeof(abi::fuse_uring_ent_in_out), 32u);
  EXPECT_EQ(offsetof(abi::fuse_uring_ent_in_out, flags), 0u);
  EXPECT_EQ(offsetof(abi::fuse_uring_ent_in_out, commit_id), 8u);
  EXPECT_EQ(offsetof(abi::fuse_uring_ent_in_out, payload_sz), 16u);
  EXPECT_EQ(offsetof(abi::fuse_uring_ent_in_out, reserved), 24u);
  // fuse_in_header and fuse_out_header fit the in_out area.
  EXPECT_LE(sizeof(abi::fuse_in_header), abi::kUringInOutHeaderSize);
  EXPECT_LE(sizeof(abi::fuse_out_header), abi::kUringInOutHeaderSize);
}

TEST(UringAbi, CommandFitsTheSqe128CommandArea) {
  EXPECT_EQ(sizeof(abi::fuse_uring_cmd_req), 24u);
  EXPECT_EQ(offsetof(abi::fuse_uring_cmd_req, commit_id), 8u);
  EXPECT_EQ(offsetof(abi::fuse_uring_cmd_req, qid), 16u);
  // liburing's SQE: cmd_op aliases the offset field, the command area starts at byte 48 and
  // runs to the end of a 128-byte SQE.
  EXPECT_EQ(offsetof(io_uring_sqe, cmd), abi::kSqe128CmdOffset);
  EXPECT_EQ(offsetof(io_uring_sqe, cmd_op), 8u);
  EXPECT_EQ(abi::kSqe128CmdOffset + abi::kSqe128CmdSize, 128u);
  EXPECT_EQ(sizeof(io_uring_sqe), 64u);
}

TEST(UringAbi, OneQueuePerPossibleCpu) {
  EXPECT_EQ(possible_cpu_count(), static_cast<unsigned>(sysconf(_SC_NPROCESSORS_CONF)));
}

}  // namespace
}  // namespace fusebpf::fuse
