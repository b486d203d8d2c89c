// An in-memory Channel for tests: requests are queued by the test, replies are captured.
#pragma once

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "fuse/channel.h"

namespace fusebpf::fuse {

class FakeChannel final : public Channel {
 public:
  // Queues a request; an empty message means "unmounted".
  void push(std::vector<std::byte> message) {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(message));
    cv_.notify_all();
  }
  void close() { push({}); }

  Result<size_t, SessionError> read(std::span<std::byte> buffer) override {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !requests_.empty(); });
    auto message = std::move(requests_.front());
    if (message.empty()) {  // stays queued so every reader sees the unmount
      return fail(SessionError{SessionError::Kind::kUnmounted, Errno::kNoDev, "unmounted"});
    }
    requests_.pop_front();
    if (message.size() > buffer.size()) {
      return fail(SessionError{SessionError::Kind::kIo, Errno::kInval, "buffer too small"});
    }
    std::memcpy(buffer.data(), message.data(), message.size());
    return message.size();
  }

  Result<void, SessionError> write(std::span<const iovec> message) override {
    std::vector<std::byte> out;
    for (const iovec& part : message) {
      auto* p = static_cast<const std::byte*>(part.iov_base);
      out.insert(out.end(), p, p + part.iov_len);
    }
    std::lock_guard lock(mutex_);
    replies_.push_back(std::move(out));
    cv_.notify_all();
    return {};
  }

  Result<std::unique_ptr<Channel>, SessionError> clone() override {
    return fail(SessionError{SessionError::Kind::kIo, Errno::kNoSys, "fake channels do not clone"});
  }

  std::vector<std::vector<std::byte>> replies() {
    std::lock_guard lock(mutex_);
    return replies_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::vector<std::byte>> requests_;
  std::vector<std::vector<std::byte>> replies_;
};

}  // namespace fusebpf::fuse
