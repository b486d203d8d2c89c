// Backing: open files -- open/create/tmpfile, data I/O, sync, locks and ioctls (see backing.h).
//
// Data fds are opened through the /proc/self/fd magic link of the node's O_PATH fd, so the
// permission check is the current fs creds' and no path is ever built. While a handle is open
// its node pins an O_PATH fd, which keeps unlinked-but-open files reachable by node id.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

#include "backing/backing.h"
#include "backing/creds.h"
#include "backing/internal/impl.h"

namespace fusebpf::backing {
namespace {

// FUSE already strips these; a stray O_CREAT must never reach a magic-link open.
constexpr int kOpenStrip = O_CREAT | O_EXCL | O_NOCTTY | O_PATH;

}  // namespace

Result<UniqueFd> Backing::Impl::reopen_fd(int fd, int flags) const {
  return sys::open_at(proc_dir.get(), FdName(fd).c_str(), (flags & ~kOpenStrip) | O_NOCTTY);
}

HandleId Backing::Impl::add_handle(UniqueFd fd, NodeId node, int flags, bool dir) {
  auto file = std::make_shared<OpenFile>();
  file->fd = std::move(fd);
  file->node = node;
  file->flags = flags;
  if (dir) file->dir = std::make_unique<DirState>();
  if (auto lease = nodes->fd(node)) nodes->pin(node, *lease);
  return handles.add(std::move(file));
}

Result<HandleId> Backing::open(NodeId node, int flags) {
  FUSEBPF_TRY(path_fd, impl_->nodes->fd(node));
  FUSEBPF_TRY(fd, impl_->reopen_fd(path_fd.get(), flags));
  return impl_->add_handle(std::move(fd), node, flags & ~kOpenStrip, false);
}

Result<UniqueFd> Backing::reopen(NodeId node, int flags) {
  FUSEBPF_TRY(path_fd, impl_->nodes->fd(node));
  return impl_->reopen_fd(path_fd.get(), flags);
}

Result<Backing::Created> Backing::create(NodeId parent, std::string_view name, int flags,
                                         mode_t mode, mode_t umask) {
  FUSEBPF_TRY(n, Name::make(name));
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  int oflags = (flags & ~(O_NOCTTY | O_PATH | O_DIRECTORY)) | O_CREAT | O_NOFOLLOW | O_NOCTTY;
  FUSEBPF_TRY(fd, sys::open_at(dir.get(), n.c_str(), oflags, apply_request_umask(mode, umask)));
  FUSEBPF_TRY(path_fd, impl_->reopen_fd(fd.get(), O_PATH));
  FUSEBPF_TRY(entry, impl_->entry_from_fd(std::move(path_fd), false));
  Created out;
  out.entry = entry;
  out.handle = impl_->add_handle(std::move(fd), entry.node, oflags & ~kOpenStrip, false);
  return out;
}

Result<Backing::Created> Backing::tmpfile(NodeId parent, int flags, mode_t mode, mode_t umask) {
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  int oflags = (flags & ~(kOpenStrip | O_DIRECTORY)) | O_TMPFILE;
  if ((oflags & O_ACCMODE) == O_RDONLY) oflags |= O_RDWR;  // O_TMPFILE needs write access
  FUSEBPF_TRY(fd, sys::open_at(dir.get(), ".", oflags, apply_request_umask(mode, umask)));
  FUSEBPF_TRY(path_fd, impl_->reopen_fd(fd.get(), O_PATH));
  FUSEBPF_TRY(entry, impl_->entry_from_fd(std::move(path_fd), false));
  Created out;
  out.entry = entry;
  out.handle = impl_->add_handle(std::move(fd), entry.node, oflags & ~O_TMPFILE, false);
  return out;
}

Result<size_t> Backing::read(HandleId handle, std::span<std::byte> buf, off_t offset) {
  FUSEBPF_TRY(f, impl_->file(handle));
  return sys::pread_some(f->fd.get(), buf, offset);
}

Result<size_t> Backing::write(HandleId handle, std::span<const std::byte> buf, off_t offset,
                              std::optional<bool> append) {
  FUSEBPF_TRY(f, impl_->file(handle));
  bool fd_appends = (f->flags & O_APPEND) != 0;
  if (!append || *append == fd_appends) return sys::pwrite_some(f->fd.get(), buf, offset);
  // The caller's file flags changed since open (fcntl F_SETFL): write the way they say now.
  constexpr int kRwfAppend = 0x10, kRwfNoAppend = 0x20;  // uapi fs.h (RWF_NOAPPEND: 6.9+)
  struct iovec iov {
    const_cast<std::byte*>(buf.data()), buf.size()
  };
  ssize_t n;
  do {
    n = ::pwritev2(f->fd.get(), &iov, 1, offset, *append ? kRwfAppend : kRwfNoAppend);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return fail_errno();
  return static_cast<size_t>(n);
}

Result<void> Backing::flush(HandleId handle, uint64_t lock_owner) {
  FUSEBPF_TRY(f, impl_->file(handle));
  impl_->locks->drop(f->node, lock_owner);
  // close() of a duplicate reports what the lower fs reports at close (e.g. NFS write-back).
  int dup = ::fcntl(f->fd.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail_errno();
  if (::close(dup) < 0 && errno != EINTR) return fail_errno();
  return {};
}

void Backing::release(HandleId handle) {
  auto f = impl_->handles.remove(handle);
  if (!f) return;
  impl_->locks->release_file(*f);
  impl_->nodes->unpin(f->node);
}

Result<void> Backing::fsync(HandleId handle, bool datasync) {
  FUSEBPF_TRY(f, impl_->file(handle));
  if ((datasync ? ::fdatasync(f->fd.get()) : ::fsync(f->fd.get())) < 0) return fail_errno();
  return {};
}

Result<void> Backing::fallocate(HandleId handle, int mode, off_t offset, off_t length) {
  FUSEBPF_TRY(f, impl_->file(handle));
  if (::fallocate(f->fd.get(), mode, offset, length) < 0) return fail_errno();
  return {};
}

Result<off_t> Backing::lseek(HandleId handle, off_t offset, int whence) {
  FUSEBPF_TRY(f, impl_->file(handle));
  off_t r = ::lseek(f->fd.get(), offset, whence);
  if (r < 0) return fail_errno();
  return r;
}

Result<size_t> Backing::copy_file_range(HandleId in, off_t in_offset, HandleId out,
                                        off_t out_offset, size_t length, unsigned int flags) {
  FUSEBPF_TRY(src, impl_->file(in));
  FUSEBPF_TRY(dst, impl_->file(out));
  loff_t from = in_offset;
  loff_t to = out_offset;
  ssize_t n = ::copy_file_range(src->fd.get(), &from, dst->fd.get(), &to, length, flags);
  if (n < 0) return fail_errno();
  return static_cast<size_t>(n);
}

Result<size_t> Backing::ioctl(HandleId handle, uint32_t cmd, std::span<const std::byte> in,
                              std::span<std::byte> out) {
  FUSEBPF_TRY(f, impl_->file(handle));
  int fd = f->fd.get();
  switch (cmd) {
    case FS_IOC_GETFLAGS: {
      // Declared with `long` but every fs reads/writes an int; reply zero-extended.
      int flags = 0;
      if (out.size() < sizeof flags) return fail(Errno::kInval);
      if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) return fail_errno();
      size_t n = out.size() >= sizeof(long) ? sizeof(long) : sizeof flags;
      std::memset(out.data(), 0, n);
      std::memcpy(out.data(), &flags, sizeof flags);
      return n;
    }
    case FS_IOC_SETFLAGS: {
      int flags = 0;
      if (in.size() < sizeof flags) return fail(Errno::kInval);
      std::memcpy(&flags, in.data(), sizeof flags);
      if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) return fail_errno();
      return 0;
    }
    case FS_IOC_FSGETXATTR: {
      struct fsxattr fa {};
      if (out.size() < sizeof fa) return fail(Errno::kInval);
      if (::ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0) return fail_errno();
      std::memcpy(out.data(), &fa, sizeof fa);
      return sizeof fa;
    }
    case FS_IOC_FSSETXATTR: {
      struct fsxattr fa {};
      if (in.size() < sizeof fa) return fail(Errno::kInval);
      std::memcpy(&fa, in.data(), sizeof fa);
      if (::ioctl(fd, FS_IOC_FSSETXATTR, &fa) < 0) return fail_errno();
      return 0;
    }
    default:
      return fail(Errno::kNoTty);
  }
}

int Backing::file_fd(HandleId handle) const {
  auto f = impl_->handles.get(handle);
  return f ? f->fd.get() : -1;
}

Result<LockRange> Backing::getlk(HandleId handle, uint64_t owner, const LockRange& lock) {
  FUSEBPF_TRY(f, impl_->file(handle));
  return impl_->locks->getlk(*f, owner, lock);
}

Result<void> Backing::setlk(HandleId handle, uint64_t owner, const LockRange& lock, bool wait,
                            const std::atomic<bool>* cancel) {
  FUSEBPF_TRY(f, impl_->file(handle));
  return impl_->locks->setlk(*f, owner, lock, wait, cancel);
}

Result<void> Backing::flock(HandleId handle, int op, const std::atomic<bool>* cancel) {
  FUSEBPF_TRY(f, impl_->file(handle));
  struct Ctx {
    int fd;
    int op;
  } ctx{f->fd.get(), op | LOCK_NB};
  auto attempt = [](void* p) -> Result<void> {
    auto* c = static_cast<Ctx*>(p);
    if (::flock(c->fd, c->op) < 0) return fail_errno();
    return {};
  };
  if ((op & LOCK_NB) || (op & LOCK_UN)) return attempt(&ctx);
  return wait_until(cancel, attempt, &ctx);
}

}  // namespace fusebpf::backing
