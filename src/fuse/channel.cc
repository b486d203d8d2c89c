// /dev/fuse transport; see channel.h and docs/ARCHITECTURE.md "FUSE protocol".
#include "fuse/channel.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "abi/fuse_kernel.h"
#include "base/log.h"
#include "base/sys.h"

namespace fusebpf::fuse {

Result<size_t, SessionError> DevFuseChannel::read(std::span<std::byte> buffer) {
  for (;;) {
    auto n = sys::read_some(fd_.get(), buffer);
    if (n) return *n;
    switch (n.error()) {
      case Errno::kNoEnt:  // the request was interrupted before we read it
      case Errno::kAgain:
        continue;
      case Errno::kNoDev:  // unmounted (or the connection was aborted)
        return fail(SessionError{SessionError::Kind::kUnmounted, Errno::kNoDev, "unmounted"});
      default:
        return fail(SessionError{SessionError::Kind::kIo, n.error(),
                                 fmt::format("read /dev/fuse: {}", errno_message(n.error()))});
    }
  }
}

Result<void, SessionError> DevFuseChannel::write(std::span<const iovec> message) {
  auto n = sys::writev_some(fd_.get(), message.data(), static_cast<int>(message.size()));
  if (n) return {};
  switch (n.error()) {
    case Errno::kNoEnt:  // the kernel stopped waiting (interrupted or aborted request)
      return {};
    case Errno::kNoDev:
      return fail(SessionError{SessionError::Kind::kUnmounted, Errno::kNoDev, "unmounted"});
    default:
      return fail(SessionError{SessionError::Kind::kProtocol, n.error(),
                               fmt::format("write /dev/fuse: {}", errno_message(n.error()))});
  }
}

Result<std::unique_ptr<Channel>, SessionError> DevFuseChannel::clone() {
  auto fd = sys::open_at(AT_FDCWD, "/dev/fuse", O_RDWR);
  if (!fd) {
    return fail(SessionError{SessionError::Kind::kIo, fd.error(), "open /dev/fuse for clone"});
  }
  uint32_t master = static_cast<uint32_t>(fd_.get());
  if (::ioctl(fd->get(), abi::kDevIocClone, &master) < 0) {
    Errno e = last_errno();
    return fail(SessionError{SessionError::Kind::kIo, e,
                             fmt::format("FUSE_DEV_IOC_CLONE: {}", errno_message(e))});
  }
  return std::unique_ptr<Channel>(new DevFuseChannel(std::move(*fd)));
}

Result<int32_t> DevFuseChannel::open_backing(int fd) {
  abi::fuse_backing_map map{};
  map.fd = fd;
  int id = ::ioctl(fd_.get(), abi::kDevIocBackingOpen, &map);
  if (id < 0) return fail_errno();
  return id;
}

Result<void> DevFuseChannel::close_backing(int32_t backing_id) {
  uint32_t id = static_cast<uint32_t>(backing_id);
  if (::ioctl(fd_.get(), abi::kDevIocBackingClose, &id) < 0) return fail_errno();
  return {};
}

}  // namespace fusebpf::fuse
