// ReplySlot; see reply.h.
#include "fuse/reply.h"

#include <utility>
#include <vector>

#include "base/log.h"

namespace fusebpf::fuse {

ReplySlot& ReplySlot::operator=(ReplySlot&& other) noexcept {
  if (this != &other) {
    if (sink_ != nullptr) error(Errno::kIo);
    sink_ = std::exchange(other.sink_, nullptr);
    target_ = other.target_;
  }
  return *this;
}

ReplySlot::~ReplySlot() {
  if (sink_ != nullptr) {
    FUSEBPF_LOG(kError, "{} (unique {}) was never answered: replying EIO", op_name(target_.opcode),
                target_.unique);
    error(Errno::kIo);
  }
}

void ReplySlot::send_iov(std::span<const iovec> parts) {
  ReplySink* sink = std::exchange(sink_, nullptr);
  if (sink != nullptr) sink->send_reply(target_, Errno::kOk, parts);
}

void ReplySlot::send_parts(std::initializer_list<std::span<const std::byte>> parts) {
  iovec iov[8];
  size_t n = 0;
  for (auto part : parts) {
    if (n == std::size(iov)) break;
    iov[n++] = iovec{const_cast<std::byte*>(part.data()), part.size()};
  }
  send_iov(std::span<const iovec>(iov, n));
}

void ReplySlot::error(Errno e) {
  ReplySink* sink = std::exchange(sink_, nullptr);
  if (sink != nullptr) sink->send_reply(target_, e == Errno::kOk ? Errno::kIo : e, {});
}

}  // namespace fusebpf::fuse
