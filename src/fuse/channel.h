// Transport: a Channel reads requests into a buffer and writes replies from iovecs. The session
// and handlers never see the fd, so other transports (io_uring, an in-memory fake) plug in
// behind the same request handling.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::fuse {

// Transport failures end (or restart) the serving loop; they are never sent as replies.
struct SessionError {
  enum class Kind { kUnmounted, kIo, kProtocol };
  Kind kind = Kind::kIo;
  Errno error = Errno::kIo;
  std::string message;
};

class Channel {
 public:
  virtual ~Channel() = default;
  // Reads one whole request. kUnmounted once the file system is gone.
  virtual Result<size_t, SessionError> read(std::span<std::byte> buffer) = 0;
  // Writes one whole reply or notification. A reply to a request the kernel no longer waits
  // for (interrupted, aborted) is not an error.
  virtual Result<void, SessionError> write(std::span<const iovec> message) = 0;
  // A second channel sharing the same connection, for another worker thread. Replies to a
  // request must go to the channel that read it.
  virtual Result<std::unique_ptr<Channel>, SessionError> clone() = 0;
  // Kernel passthrough: register an open file, returning its backing id.
  virtual Result<int32_t> open_backing(int fd) { return fail(Errno::kNoSys); }
  virtual Result<void> close_backing(int32_t backing_id) { return fail(Errno::kNoSys); }
};

// The /dev/fuse transport.
class DevFuseChannel final : public Channel {
 public:
  explicit DevFuseChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  Result<size_t, SessionError> read(std::span<std::byte> buffer) override;
  Result<void, SessionError> write(std::span<const iovec> message) override;
  Result<std::unique_ptr<Channel>, SessionError> clone() override;
  Result<int32_t> open_backing(int fd) override;
  Result<void> close_backing(int32_t backing_id) override;
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace fusebpf::fuse
