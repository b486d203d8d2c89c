// Validation and *at() helpers; see resolve.h.
#include "backing/internal/resolve.h"

#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>

namespace fusebpf::backing {
namespace {

// x86_64/arm64 generic numbers of the 6.13 xattr-at syscalls; Debian 12's headers predate them.
#ifndef SYS_setxattrat
constexpr long kSysSetxattrat = 463;
constexpr long kSysGetxattrat = 464;
constexpr long kSysListxattrat = 465;
constexpr long kSysRemovexattrat = 466;
#else
constexpr long kSysSetxattrat = SYS_setxattrat;
constexpr long kSysGetxattrat = SYS_getxattrat;
constexpr long kSysListxattrat = SYS_listxattrat;
constexpr long kSysRemovexattrat = SYS_removexattrat;
#endif

struct XattrArgs {
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};

std::atomic<bool> g_no_xattrat{false};

std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

Result<Name> Name::make(std::string_view name, bool allow_dots) {
  if (name.empty()) return fail(Errno::kNoEnt);
  if (name.size() > NAME_MAX) return fail(Errno::kNameTooLong);
  if (name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos)
    return fail(Errno::kInval);
  if (!allow_dots && (name == "." || name == "..")) return fail(Errno::kInval);
  Name n;
  std::memcpy(n.buf_.data(), name.data(), name.size());
  n.buf_[name.size()] = '\0';
  n.len_ = name.size();
  return n;
}

NodeKey key_of(const struct statx& stx) {
  return {static_cast<uint64_t>(makedev(stx.stx_dev_major, stx.stx_dev_minor)), stx.stx_ino};
}

void stat_from_statx(const struct statx& stx, struct stat* st) {
  *st = {};
  st->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
  st->st_ino = stx.stx_ino;
  st->st_mode = stx.stx_mode;
  st->st_nlink = stx.stx_nlink;
  st->st_uid = stx.stx_uid;
  st->st_gid = stx.stx_gid;
  st->st_rdev = makedev(stx.stx_rdev_major, stx.stx_rdev_minor);
  st->st_size = static_cast<off_t>(stx.stx_size);
  st->st_blksize = stx.stx_blksize;
  st->st_blocks = static_cast<blkcnt_t>(stx.stx_blocks);
  st->st_atim = {stx.stx_atime.tv_sec, stx.stx_atime.tv_nsec};
  st->st_mtim = {stx.stx_mtime.tv_sec, stx.stx_mtime.tv_nsec};
  st->st_ctim = {stx.stx_ctime.tv_sec, stx.stx_ctime.tv_nsec};
}

Result<struct statx> statx_at(int dir, const char* path, int flags, unsigned int mask) {
  struct statx stx {};
  if (::statx(dir, path, flags, mask, &stx) < 0) return fail_errno();
  return stx;
}

Result<struct stat> stat_fd(int fd) {
  struct stat st {};
  if (::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return fail_errno();
  return st;
}

Result<void> setxattr_fd(int proc_dir, int fd, const char* name, const void* value, size_t size,
                         int flags) {
  if (!g_no_xattrat.load(std::memory_order_relaxed)) {
    XattrArgs args{reinterpret_cast<uintptr_t>(value), static_cast<uint32_t>(size),
                   static_cast<uint32_t>(flags)};
    if (::syscall(kSysSetxattrat, proc_dir, FdName(fd).c_str(), 0, name, &args, sizeof args) == 0)
      return {};
    if (errno != ENOSYS) return fail_errno();
    g_no_xattrat.store(true, std::memory_order_relaxed);
  }
  if (::setxattr(proc_path(fd).c_str(), name, value, size, flags) < 0) return fail_errno();
  return {};
}

Result<size_t> getxattr_fd(int proc_dir, int fd, const char* name, void* value, size_t size) {
  if (!g_no_xattrat.load(std::memory_order_relaxed)) {
    XattrArgs args{reinterpret_cast<uintptr_t>(value), static_cast<uint32_t>(size), 0};
    long n = ::syscall(kSysGetxattrat, proc_dir, FdName(fd).c_str(), 0, name, &args, sizeof args);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != ENOSYS) return fail_errno();
    g_no_xattrat.store(true, std::memory_order_relaxed);
  }
  ssize_t n = ::getxattr(proc_path(fd).c_str(), name, value, size);
  if (n < 0) return fail_errno();
  return static_cast<size_t>(n);
}

Result<size_t> listxattr_fd(int proc_dir, int fd, char* list, size_t size) {
  if (!g_no_xattrat.load(std::memory_order_relaxed)) {
    long n = ::syscall(kSysListxattrat, proc_dir, FdName(fd).c_str(), 0, list, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != ENOSYS) return fail_errno();
    g_no_xattrat.store(true, std::memory_order_relaxed);
  }
  ssize_t n = ::listxattr(proc_path(fd).c_str(), list, size);
  if (n < 0) return fail_errno();
  return static_cast<size_t>(n);
}

Result<void> removexattr_fd(int proc_dir, int fd, const char* name) {
  if (!g_no_xattrat.load(std::memory_order_relaxed)) {
    if (::syscall(kSysRemovexattrat, proc_dir, FdName(fd).c_str(), 0, name) == 0) return {};
    if (errno != ENOSYS) return fail_errno();
    g_no_xattrat.store(true, std::memory_order_relaxed);
  }
  if (::removexattr(proc_path(fd).c_str(), name) < 0) return fail_errno();
  return {};
}

}  // namespace fusebpf::backing
