// Backing: attribute operations -- setattr, access and extended attributes (see backing.h).
//
// Calls on a node (no open file) go through the node's O_PATH fd: *at(fd, "", AT_EMPTY_PATH)
// where the kernel allows it, otherwise through the /proc/self/fd magic link, which resolves
// to the object itself (a symlink node stays the symlink) with the caller's permission checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "backing/backing.h"
#include "backing/internal/impl.h"

namespace fusebpf::backing {
namespace {

void times_of(const SetAttr& a, struct timespec ts[2]) {
  ts[0] = a.atime;
  ts[1] = a.mtime;
  if (!(a.valid & kSetAtime)) ts[0].tv_nsec = UTIME_OMIT;
  if (!(a.valid & kSetMtime)) ts[1].tv_nsec = UTIME_OMIT;
  if (a.valid & kSetAtimeNow) ts[0].tv_nsec = UTIME_NOW;
  if (a.valid & kSetMtimeNow) ts[1].tv_nsec = UTIME_NOW;
}

bool wants_times(const SetAttr& a) {
  return (a.valid & (kSetAtime | kSetMtime | kSetAtimeNow | kSetMtimeNow)) != 0;
}

uid_t uid_of(const SetAttr& a) { return (a.valid & kSetUid) ? a.uid : static_cast<uid_t>(-1); }
gid_t gid_of(const SetAttr& a) { return (a.valid & kSetGid) ? a.gid : static_cast<gid_t>(-1); }

Result<void> setattr_open(int fd, const SetAttr& a) {
  if ((a.valid & kSetMode) && ::fchmod(fd, a.mode & 07777) < 0) return fail_errno();
  if ((a.valid & (kSetUid | kSetGid)) && ::fchown(fd, uid_of(a), gid_of(a)) < 0)
    return fail_errno();
  if ((a.valid & kSetSize) && ::ftruncate(fd, a.size) < 0) return fail_errno();
  if (wants_times(a)) {
    struct timespec ts[2];
    times_of(a, ts);
    if (::futimens(fd, ts) < 0) return fail_errno();
  }
  return {};
}

// truncate(2) on an O_PATH node: the same checks as the syscall (EISDIR, EINVAL for
// non-regular files, write permission) by opening for writing through the magic link.
Result<void> truncate_node(int proc_dir, int fd, off_t size) {
  FUSEBPF_TRY(st, stat_fd(fd));
  if (S_ISDIR(st.st_mode)) return fail(Errno::kIsDir);
  if (!S_ISREG(st.st_mode)) return fail(Errno::kInval);
  FUSEBPF_TRY(w, sys::open_at(proc_dir, FdName(fd).c_str(), O_WRONLY | O_NONBLOCK | O_NOCTTY));
  if (::ftruncate(w.get(), size) < 0) return fail_errno();
  return {};
}

Result<void> setattr_node(int proc_dir, int fd, const SetAttr& a) {
  if ((a.valid & kSetMode) && ::fchmodat(proc_dir, FdName(fd).c_str(), a.mode & 07777, 0) < 0)
    return fail_errno();
  if ((a.valid & (kSetUid | kSetGid)) &&
      ::fchownat(fd, "", uid_of(a), gid_of(a), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
    return fail_errno();
  if (a.valid & kSetSize) FUSEBPF_TRY_VOID(truncate_node(proc_dir, fd, a.size));
  if (wants_times(a)) {
    struct timespec ts[2];
    times_of(a, ts);
    if (::utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return fail_errno();
  }
  return {};
}

}  // namespace

Result<struct stat> Backing::setattr(NodeId node, const SetAttr& attr) {
  if (attr.valid & kSetHandle) {
    FUSEBPF_TRY(f, impl_->file(attr.handle));
    // O_PATH-like handles (directories opened O_RDONLY work with f* calls too).
    FUSEBPF_TRY_VOID(setattr_open(f->fd.get(), attr));
    return sys::fstat_fd(f->fd.get());
  }
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  FUSEBPF_TRY_VOID(setattr_node(impl_->proc_dir.get(), fd.get(), attr));
  return stat_fd(fd.get());
}

Result<void> Backing::access(NodeId node, int mask) {
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  // faccessat2 (not the glibc emulation): AT_EACCESS checks with the fsuid/fsgid/groups.
  if (::syscall(SYS_faccessat2, fd.get(), "", mask, AT_EACCESS | AT_EMPTY_PATH) < 0)
    return fail_errno();
  return {};
}

Result<void> Backing::setxattr(NodeId node, std::string_view name, std::span<const std::byte> value,
                               int flags) {
  if (name.empty() || name.find('\0') != std::string_view::npos) return fail(Errno::kInval);
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  std::string n(name);
  return setxattr_fd(impl_->proc_dir.get(), fd.get(), n.c_str(), value.data(), value.size(), flags);
}

Result<size_t> Backing::getxattr(NodeId node, std::string_view name, std::span<std::byte> buf) {
  if (name.empty() || name.find('\0') != std::string_view::npos) return fail(Errno::kInval);
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  std::string n(name);
  return getxattr_fd(impl_->proc_dir.get(), fd.get(), n.c_str(), buf.data(), buf.size());
}

Result<size_t> Backing::listxattr(NodeId node, std::span<char> buf) {
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  return listxattr_fd(impl_->proc_dir.get(), fd.get(), buf.data(), buf.size());
}

Result<void> Backing::removexattr(NodeId node, std::string_view name) {
  if (name.empty() || name.find('\0') != std::string_view::npos) return fail(Errno::kInval);
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  std::string n(name);
  return removexattr_fd(impl_->proc_dir.get(), fd.get(), n.c_str());
}

}  // namespace fusebpf::backing
