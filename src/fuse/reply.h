// ReplySlot: the right (and duty) to answer one request exactly once.
//
// Every request that expects a reply gets a move-only ReplySlot. Sending consumes it; a slot
// destroyed without a reply answers EIO and logs the opcode, so a handler bug can never leave a
// caller waiting forever. Slots may be moved to another thread and answered later.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <type_traits>

#include "base/errno.h"
#include "fuse/opcode.h"

namespace fusebpf::fuse {

class Channel;

// Where a reply goes: the channel the request was read from (each cloned /dev/fuse fd has its
// own list of requests in processing, so a reply must be written to the same fd).
struct ReplyTarget {
  Channel* channel = nullptr;
  uint64_t unique = 0;
  Opcode opcode = Opcode::kLookup;
  uint64_t start_ns = 0;  // when the request was read (latency statistics)
};

class ReplySink {
 public:
  virtual ~ReplySink() = default;
  // error is a positive errno or 0; body is empty for errors.
  virtual void send_reply(const ReplyTarget& target, Errno error,
                          std::span<const iovec> body) noexcept = 0;
};

template <typename T>
std::span<const std::byte> bytes_of(const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  return std::as_bytes(std::span<const T>(&value, 1));
}

class ReplySlot {
 public:
  ReplySlot() = default;
  ReplySlot(ReplySink* sink, ReplyTarget target) : sink_(sink), target_(target) {}
  ReplySlot(ReplySlot&& other) noexcept : sink_(other.sink_), target_(other.target_) {
    other.sink_ = nullptr;
  }
  ReplySlot& operator=(ReplySlot&& other) noexcept;
  ReplySlot(const ReplySlot&) = delete;
  ReplySlot& operator=(const ReplySlot&) = delete;
  ~ReplySlot();

  bool pending() const { return sink_ != nullptr; }
  uint64_t unique() const { return target_.unique; }
  Opcode opcode() const { return target_.opcode; }

  // Success with the given body parts, concatenated.
  void send_iov(std::span<const iovec> parts);
  void send_parts(std::initializer_list<std::span<const std::byte>> parts);
  void send(std::span<const std::byte> body) { send_parts({body}); }
  template <typename T>
  requires(std::is_trivially_copyable_v<T> &&
           !std::is_convertible_v<T, std::span<const std::byte>>) void send(const T& value) {
    send(bytes_of(value));
  }
  // Success with an empty body.
  void ok() { send_iov({}); }
  // Failure with a (positive) errno.
  void error(Errno e);

 private:
  ReplySink* sink_ = nullptr;
  ReplyTarget target_{};
};

}  // namespace fusebpf::fuse
