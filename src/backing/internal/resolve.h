// Secure single-component resolution helpers for the backing layer.
//
// Invariants: names are validated before any syscall sees them (no '/', no NUL, not empty,
// <= NAME_MAX, "." and ".." only where the caller allows them); every name is resolved with a
// *at() call relative to an fd we hold, never with O_FOLLOW on the last component; data fds and
// xattr calls go through the held /proc/self/fd directory fd ("magic link" reopen), so no
// absolute path is ever built.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::backing {

// (st_dev, st_ino): the identity of a lower inode.
struct NodeKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  bool operator==(const NodeKey&) const = default;
};

struct NodeKeyHash {
  size_t operator()(const NodeKey& k) const noexcept {
    uint64_t h = k.ino * 0x9E3779B97F4A7C15ull ^ (k.dev + 0x632BE59BD9B4E019ull);
    return static_cast<size_t>(h ^ (h >> 29));
  }
};

// A validated, NUL-terminated copy of one path component.
class Name {
 public:
  // allow_dots: accept "." and ".." (LOOKUP only).
  static Result<Name> make(std::string_view name, bool allow_dots = false);
  const char* c_str() const { return buf_.data(); }
  std::string_view view() const { return {buf_.data(), len_}; }
  bool is_dot() const { return view() == "."; }
  bool is_dotdot() const { return view() == ".."; }

 private:
  std::array<char, NAME_MAX + 1> buf_{};
  size_t len_ = 0;
};

// Decimal text of an fd, for openat(proc_self_fd, text, ...).
class FdName {
 public:
  explicit FdName(int fd) {
    auto r = std::to_chars(buf_, buf_ + sizeof buf_ - 1, fd);
    *r.ptr = '\0';
  }
  const char* c_str() const { return buf_; }

 private:
  char buf_[16];
};

inline NodeKey key_of(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)};
}
NodeKey key_of(const struct statx& stx);
void stat_from_statx(const struct statx& stx, struct stat* st);

// statx(dir, path, flags, mask) with EINTR handled by the kernel (statx does not block).
Result<struct statx> statx_at(int dir, const char* path, int flags, unsigned int mask);
// fstatat(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW).
Result<struct stat> stat_fd(int fd);

// The *xattrat() family (Linux 6.13+) on `proc_dir`/"<fd>", following the magic link to the
// object itself (symlinks included). ENOSYS on older kernels is handled by a fallback through
// the /proc/self/fd/<fd> path text (not a backing path).
Result<void> setxattr_fd(int proc_dir, int fd, const char* name, const void* value, size_t size,
                         int flags);
Result<size_t> getxattr_fd(int proc_dir, int fd, const char* name, void* value, size_t size);
Result<size_t> listxattr_fd(int proc_dir, int fd, char* list, size_t size);
Result<void> removexattr_fd(int proc_dir, int fd, const char* name);

}  // namespace fusebpf::backing
