// RingEntry without a kernel: a request laid out the way the kernel writes it becomes one
// contiguous message for the decoder, and replies land in the shared buffers at the right
// time (inline, staged while the handler may still read its payload, or handed over to the
// queue thread when answered later).
#include "fuse/internal/uring_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string_view>

#include "abi/fuse_kernel.h"

namespace fusebpf::fuse {

struct RingEntryTestPeer {
  static abi::fuse_uring_req_header& header(RingEntry& e) { return *e.header_; }
  static std::byte* payload(RingEntry& e) { return e.payload_; }
  static std::span<const std::byte> begin(RingEntry& e) { return e.begin_request(); }
  static bool end(RingEntry& e) { return e.end_handler(); }
  static RingEntry& entry(UringQueue& q, size_t i) { return *q.entries_[i]; }
  static size_t handed_over(UringQueue& q) {
    std::lock_guard lock(q.handover_mutex_);
    return q.handed_over_.size();
  }
};

namespace {

using Peer = RingEntryTestPeer;

class RingEntryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto q = UringQueue::create(UringQueueConfig{.dev_fd = -1, .entries = 1, .payload_size = 8192});
    ASSERT_TRUE(q) << q.error().message;
    queue = std::move(*q);
  }
  RingEntry& entry() { return Peer::entry(*queue, 0); }
  // What the kernel writes for a request: header, input struct in op_in, rest in payload.
  void kernel_sends(uint32_t opcode, uint64_t unique, std::span<const std::byte> op_in,
                    std::string_view payload) {
    auto& h = Peer::header(entry());
    abi::fuse_in_header in{};
    in.len = static_cast<uint32_t>(sizeof in + op_in.size() + payload.size());
    in.opcode = opcode;
    in.unique = unique;
    in.nodeid = 1;
    std::memcpy(h.in_out, &in, sizeof in);
    std::memcpy(h.op_in, op_in.data(), op_in.size());
    std::memcpy(Peer::payload(entry()), payload.data(), payload.size());
    h.ring_ent_in_out.commit_id = unique;
    h.ring_ent_in_out.payload_sz = static_cast<uint32_t>(payload.size());
  }
  // Writes a reply the way Session::send_reply does: out header, then the body.
  Result<void, SessionError> reply(uint64_t unique, std::string_view body) {
    abi::fuse_out_header out{static_cast<uint32_t>(sizeof out + body.size()), 0, unique};
    iovec iov[] = {{&out, sizeof out}, {const_cast<char*>(body.data()), body.size()}};
    return entry().write(iov);
  }
  std::string committed_body() {
    auto& h = Peer::header(entry());
    return std::string(reinterpret_cast<const char*>(Peer::payload(entry())),
                       h.ring_ent_in_out.payload_sz);
  }
  abi::fuse_out_header committed_header() {
    abi::fuse_out_header out{};
    std::memcpy(&out, Peer::header(entry()).in_out, sizeof out);
    return out;
  }
  std::unique_ptr<UringQueue> queue;
};

TEST_F(RingEntryTest, RequestBecomesOneContiguousMessage) {
  abi::fuse_getattr_in in{};
  in.fh = 77;
  kernel_sends(3, 5, std::as_bytes(std::span(&in, 1)), "");
  auto message = Peer::begin(entry());
  ASSERT_EQ(message.size(), sizeof(abi::fuse_in_header) + sizeof in);
  abi::fuse_in_header h{};
  std::memcpy(&h, message.data(), sizeof h);
  EXPECT_EQ(h.opcode, 3u);
  EXPECT_EQ(h.unique, 5u);
  EXPECT_EQ(h.len, message.size());
  abi::fuse_getattr_in got{};
  std::memcpy(&got, message.data() + sizeof h, sizeof got);
  EXPECT_EQ(got.fh, 77u);
  // The payload is not copied: the message ends exactly where the payload starts.
  EXPECT_EQ(message.data() + message.size(), Peer::payload(entry()));
}

TEST_F(RingEntryTest, NamesFollowTheInputStruct) {
  kernel_sends(1, 6, {}, std::string_view("hello\0", 6));  // LOOKUP: no input struct
  auto message = Peer::begin(entry());
  ASSERT_EQ(message.size(), sizeof(abi::fuse_in_header) + 6);
  EXPECT_EQ(std::memcmp(message.data() + sizeof(abi::fuse_in_header), "hello", 6), 0);
}

TEST_F(RingEntryTest, InlineReplyIsStagedUntilTheHandlerReturns) {
  kernel_sends(1, 7, {}, std::string_view("name\0", 5));
  Peer::begin(entry());
  ASSERT_TRUE(reply(7, "entry-out"));
  // The handler may still read its name from the payload buffer.
  EXPECT_EQ(std::memcmp(Peer::payload(entry()), "name", 4), 0);
  EXPECT_FALSE(reply(7, "again")) << "a second reply must be refused";
  EXPECT_TRUE(Peer::end(entry())) << "the reply is ready to commit";
  EXPECT_EQ(committed_body(), "entry-out");
  EXPECT_EQ(committed_header().unique, 7u);
  EXPECT_EQ(committed_header().len, sizeof(abi::fuse_out_header) + 9);
}

TEST_F(RingEntryTest, LateReplyIsHandedToTheQueueThread) {
  abi::fuse_read_in in{};
  kernel_sends(15, 8, std::as_bytes(std::span(&in, 1)), "");
  Peer::begin(entry());
  EXPECT_FALSE(Peer::end(entry())) << "no reply yet: nothing to commit";
  EXPECT_EQ(Peer::handed_over(*queue), 0u);
  ASSERT_TRUE(reply(8, "data"));
  EXPECT_EQ(Peer::handed_over(*queue), 1u);
  EXPECT_EQ(committed_body(), "data");
  EXPECT_FALSE(reply(8, "twice"));
}

TEST_F(RingEntryTest, ErrorsCarryNoBodyAndOversizedRepliesBecomeEio) {
  abi::fuse_read_in in{};
  kernel_sends(15, 9, std::as_bytes(std::span(&in, 1)), "");
  Peer::begin(entry());
  std::string huge(9000, 'x');  // larger than the 8 KiB payload buffer
  ASSERT_TRUE(reply(9, huge));
  ASSERT_TRUE(Peer::end(entry()));
  EXPECT_EQ(committed_header().error, -EIO);
  EXPECT_EQ(committed_body(), "");
}

TEST_F(RingEntryTest, RepliesAfterStopAreDropped) {
  abi::fuse_read_in in{};
  kernel_sends(15, 10, std::as_bytes(std::span(&in, 1)), "");
  Peer::begin(entry());
  Peer::end(entry());
  queue->stop();
  auto r = reply(10, "late");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SessionError::Kind::kUnmounted);
}

}  // namespace
}  // namespace fusebpf::fuse
