// Session tests over an in-memory channel: INIT negotiation, decoding checks, exactly-once
// replies, ENOSYS defaults, and replies routed to the channel that read the request.
#include "fuse/session.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/sys.h"
#include "fuse/internal/fake_channel.h"

namespace fusebpf::fuse {
namespace {

std::vector<std::byte> make_request(uint32_t opcode, uint64_t unique, uint64_t nodeid,
                                    std::span<const std::byte> body) {
  abi::fuse_in_header h{};
  h.len = static_cast<uint32_t>(sizeof h + body.size());
  h.opcode = opcode;
  h.unique = unique;
  h.nodeid = nodeid;
  std::vector<std::byte> out(sizeof h + body.size());
  std::memcpy(out.data(), &h, sizeof h);
  if (!body.empty()) std::memcpy(out.data() + sizeof h, body.data(), body.size());
  return out;
}

template <typename T>
std::vector<std::byte> request_with(uint32_t opcode, uint64_t unique, const T& in,
                                    std::string_view tail = {}) {
  std::vector<std::byte> body(sizeof in + tail.size());
  std::memcpy(body.data(), &in, sizeof in);
  std::memcpy(body.data() + sizeof in, tail.data(), tail.size());
  return make_request(opcode, unique, 1, body);
}

abi::fuse_out_header header_of(const std::vector<std::byte>& reply) {
  abi::fuse_out_header h{};
  std::memcpy(&h, reply.data(), sizeof h);
  return h;
}

class RecordingHandler : public OpHandler {
 public:
  void lookup(const Request<Opcode::kLookup>& req, ReplySlot reply) override {
    last_name = std::string(req.name());
    if (req.name() == "drop") return;  // dropping the slot must answer EIO
    abi::fuse_entry_out out{};
    out.nodeid = 42;
    reply.send(out);
  }
  void forget(const Request<Opcode::kForget>& req) override { forgotten += req.in().nlookup; }
  void init(const ConnectionInfo& c, SessionControl&) override { info = c; }
  std::string last_name;
  uint64_t forgotten = 0;
  ConnectionInfo info;
};

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    auto ch = std::make_unique<FakeChannel>();
    channel = ch.get();
    session = std::make_unique<Session>(handler, std::move(ch), SessionOptions{.threads = 1});
  }
  void init() {
    abi::fuse_init_in in{};
    in.major = 7;
    in.minor = 42;
    in.max_readahead = 131072;
    in.flags = static_cast<uint32_t>(abi::init::kAsyncRead | abi::init::kMaxPages |
                                     abi::init::kInitExt | abi::init::kWritebackCache);
    in.flags2 = static_cast<uint32_t>(abi::init::kPassthrough >> 32);
    session->process(*channel, request_with(26, 1, in));
  }
  RecordingHandler handler;
  FakeChannel* channel;
  std::unique_ptr<Session> session;
};

TEST_F(SessionTest, InitNegotiatesWhatBothSidesWant) {
  init();
  auto replies = channel->replies();
  ASSERT_EQ(replies.size(), 1u);
  ASSERT_EQ(header_of(replies[0]).error, 0);
  abi::fuse_init_out out{};
  std::memcpy(&out, replies[0].data() + sizeof(abi::fuse_out_header), sizeof out);
  uint64_t flags = out.flags | (uint64_t{out.flags2} << 32);
  EXPECT_TRUE(flags & abi::init::kAsyncRead);
  EXPECT_TRUE(flags & abi::init::kPassthrough);
  EXPECT_FALSE(flags & abi::init::kWritebackCache) << "writeback cache breaks passthrough";
  EXPECT_FALSE(flags & abi::init::kDoReaddirplus) << "not offered by this kernel";
  EXPECT_EQ(out.max_stack_depth, 1u);
  EXPECT_EQ(out.max_write, 1u << 20);
  EXPECT_TRUE(handler.info.passthrough);
}

TEST_F(SessionTest, RequestsBeforeInitAreRejected) {
  session->process(*channel, make_request(1, 7, 1, sys::bytes(std::string_view("a\0", 2))));
  auto replies = channel->replies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(header_of(replies[0]).error, -EPROTO);
  EXPECT_EQ(header_of(replies[0]).unique, 7u);
}

TEST_F(SessionTest, LookupDecodesNameAndReplies) {
  init();
  session->process(*channel, make_request(1, 9, 1, sys::bytes(std::string_view("hello\0", 6))));
  auto replies = channel->replies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(handler.last_name, "hello");
  EXPECT_EQ(header_of(replies[1]).error, 0);
  EXPECT_EQ(header_of(replies[1]).len, sizeof(abi::fuse_out_header) + sizeof(abi::fuse_entry_out));
}

TEST_F(SessionTest, NameWithoutNulIsEio) {
  init();
  session->process(*channel, make_request(1, 10, 1, sys::bytes("abc")));
  EXPECT_EQ(header_of(channel->replies().back()).error, -EIO);
  EXPECT_EQ(handler.last_name, "");
}

TEST_F(SessionTest, DroppedSlotAnswersEio) {
  init();
  session->process(*channel, make_request(1, 11, 1, sys::bytes(std::string_view("drop\0", 5))));
  auto replies = channel->replies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(header_of(replies[1]).error, -EIO);
  EXPECT_EQ(header_of(replies[1]).unique, 11u);
}

TEST_F(SessionTest, UnknownAndUnimplementedOpsGetEnosys) {
  init();
  session->process(*channel, make_request(999, 12, 1, {}));
  session->process(*channel, make_request(17, 13, 1, {}));  // STATFS: default hook
  auto replies = channel->replies();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(header_of(replies[1]).error, -ENOSYS);
  EXPECT_EQ(header_of(replies[2]).error, -ENOSYS);
}

TEST_F(SessionTest, ForgetGetsNoReplyAndShortInputIsRejected) {
  init();
  abi::fuse_forget_in f{3};
  session->process(*channel, request_with(2, 14, f));
  EXPECT_EQ(handler.forgotten, 3u);
  EXPECT_EQ(channel->replies().size(), 1u);
  // GETATTR needs 16 bytes of input.
  session->process(*channel, make_request(3, 15, 1, sys::bytes("short")));
  EXPECT_EQ(header_of(channel->replies().back()).error, -EIO);
}

TEST_F(SessionTest, RunEndsOnUnmountAndCountsStats) {
  init();
  channel->push(make_request(1, 20, 1, sys::bytes(std::string_view("x\0", 2))));
  channel->close();
  ASSERT_TRUE(session->run());
  auto stats = session->stats();
  bool saw_lookup = false;
  for (const auto& op : stats.ops) {
    if (op.name == "LOOKUP") {
      saw_lookup = true;
      EXPECT_EQ(op.count, 1u);
      EXPECT_EQ(op.errors, 0u);
    }
  }
  EXPECT_TRUE(saw_lookup);
}

}  // namespace
}  // namespace fusebpf::fuse
