// Helpers shared by stacked_fs.cc and filtered_ops.cc (internal to src/filter).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "abi/fuse_kernel.h"
#include "backing/backing.h"
#include "backing/creds.h"
#include "filter/stacked_fs.h"
#include "fuse/reply.h"

namespace fusebpf::filter {

inline constexpr uint64_t kSecond = 1000000000ull;
using fuse::bytes_of;

inline void split_ns(uint64_t ns, uint64_t& sec, uint32_t& nsec) {
  sec = ns / kSecond;
  nsec = static_cast<uint32_t>(ns % kSecond);
}

inline void to_fuse_attr(const struct stat& st, abi::fuse_attr& a) {
  a.ino = st.st_ino;
  a.size = static_cast<uint64_t>(st.st_size);
  a.blocks = static_cast<uint64_t>(st.st_blocks);
  a.atime = static_cast<uint64_t>(st.st_atim.tv_sec);
  a.mtime = static_cast<uint64_t>(st.st_mtim.tv_sec);
  a.ctime = static_cast<uint64_t>(st.st_ctim.tv_sec);
  a.atimensec = static_cast<uint32_t>(st.st_atim.tv_nsec);
  a.mtimensec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  a.ctimensec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
  a.mode = st.st_mode;
  a.nlink = static_cast<uint32_t>(st.st_nlink);
  a.uid = st.st_uid;
  a.gid = st.st_gid;
  a.rdev = static_cast<uint32_t>(st.st_rdev);
  a.blksize = static_cast<uint32_t>(st.st_blksize);
}

inline abi::fuse_sx_time to_sx_time(const struct statx_timestamp& t) {
  return abi::fuse_sx_time{t.tv_sec, t.tv_nsec, 0};
}

inline std::span<const std::byte> string_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// A per-thread buffer for READ/GETXATTR/LISTXATTR replies and O_DIRECT writes. Page aligned,
// because O_DIRECT I/O on the lower fs may require aligned memory.
inline std::span<std::byte> scratch(size_t size) {
  struct AlignedFree {
    void operator()(std::byte* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<std::byte, AlignedFree> buffer;
  thread_local size_t capacity = 0;
  if (capacity < size || !buffer) {
    size_t want = std::max<size_t>((size + 4095) & ~size_t{4095}, 4096);
    void* p = std::aligned_alloc(4096, want);
    if (p == nullptr) throw std::bad_alloc();
    buffer.reset(static_cast<std::byte*>(p));
    capacity = want;
  }
  return std::span<std::byte>(buffer.get(), size);
}

inline backing::SetAttr to_set_attr(const abi::fuse_setattr_in& in) {
  backing::SetAttr attr;
  attr.valid = in.valid;
  attr.mode = static_cast<mode_t>(in.mode);
  attr.uid = in.uid;
  attr.gid = in.gid;
  attr.size = static_cast<off_t>(in.size);
  attr.atime = {static_cast<time_t>(in.atime), static_cast<long>(in.atimensec)};
  attr.mtime = {static_cast<time_t>(in.mtime), static_cast<long>(in.mtimensec)};
  attr.ctime = {static_cast<time_t>(in.ctime), static_cast<long>(in.ctimensec)};
  attr.handle = in.fh;
  return attr;
}

inline void to_kstatfs(const struct statfs& st, abi::fuse_kstatfs& out) {
  out.blocks = st.f_blocks;
  out.bfree = st.f_bfree;
  out.bavail = st.f_bavail;
  out.files = st.f_files;
  out.ffree = st.f_ffree;
  out.bsize = static_cast<uint32_t>(st.f_bsize);
  out.namelen = static_cast<uint32_t>(st.f_namelen);
  out.frsize = static_cast<uint32_t>(st.f_frsize);
}

inline backing::LockRange to_lock_range(const abi::fuse_file_lock& lk) {
  return backing::LockRange{lk.start, lk.end, lk.type, lk.pid};
}

inline bool daemon_is_root() {
  static const bool root = ::geteuid() == 0 && ::getegid() == 0;
  return root;
}

// Runs the enclosed backing calls with the caller's fsuid/fsgid/groups (--creds=caller).
class StackedFs::CallerCreds {
 public:
  CallerCreds(const StackedFs& fs, const fuse::DecodedRequest& req) {
    if (fs.options_.creds != CredsMode::kCaller) return;
    auto c = req.caller();
    // A root caller of a root daemon needs no switch: same fsuid/fsgid, and its supplementary
    // groups cannot change a decision that CAP_DAC_OVERRIDE/CAP_CHOWN already make. This
    // saves the credential syscalls (and the /proc groups lookup) on most root workloads.
    if (c.uid == 0 && c.gid == 0 && daemon_is_root()) return;
    scope_.emplace(backing::Caller{c.uid, c.gid, static_cast<pid_t>(c.pid)});
  }

 private:
  std::optional<backing::CredentialScope> scope_;
};

}  // namespace fusebpf::filter
