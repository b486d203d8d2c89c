// The FUSE-BPF structures on the host (C++) side, with the same layouts as the BPF side's
// include/fusebpf/vmlinux.h: filter metadata, fuse_buffer, the FUSE-BPF-only out structs,
// lookup entries and the return codes. C++ user filters (user_filter.h) see exactly these.
// Layouts are guarded by static_asserts here. Semantics: src/filter/README.md.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "abi/fuse_kernel.h"

namespace fusebpf::filter {

// The kernel names of the FUSE in/out structs filters see.
using abi::fuse_access_in;
using abi::fuse_attr_out;
using abi::fuse_copy_file_range_in;
using abi::fuse_create_in;
using abi::fuse_entry_out;
using abi::fuse_fallocate_in;
using abi::fuse_flush_in;
using abi::fuse_fsync_in;
using abi::fuse_getattr_in;
using abi::fuse_getxattr_in;
using abi::fuse_getxattr_out;
using abi::fuse_link_in;
using abi::fuse_lseek_in;
using abi::fuse_lseek_out;
using abi::fuse_mkdir_in;
using abi::fuse_mknod_in;
using abi::fuse_open_in;
using abi::fuse_open_out;
using abi::fuse_read_in;
using abi::fuse_release_in;
using abi::fuse_rename2_in;
using abi::fuse_rename_in;
using abi::fuse_setattr_in;
using abi::fuse_setxattr_in;
using abi::fuse_statfs_out;
using abi::fuse_write_in;
using abi::fuse_write_out;

inline constexpr uint32_t kFusePrefilter = 0x10000;   // FUSE_PREFILTER
inline constexpr uint32_t kFusePostfilter = 0x20000;  // FUSE_POSTFILTER
inline constexpr uint32_t kFuseOpcodeFilter = 0x0ffff;

// struct bpf_fuse_meta_info, followed by what only C++ filters see (the caller).
struct FilterMeta {
  uint64_t nodeid = 0;
  uint32_t opcode = 0;    // FUSE opcode | kFusePrefilter / kFusePostfilter
  uint32_t error_in = 0;  // negative errno of the backing op (postfilters), as u32
  uint32_t error_out = 0;
  uint32_t padding = 0;
  // ---- C++ only (BPF programs see the 24 bytes above) ----
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
};
inline constexpr uint32_t kBpfMetaSize = 24;
static_assert(offsetof(FilterMeta, error_out) == 16 && offsetof(FilterMeta, uid) == kBpfMetaSize);

// fuse_buffer flags.
inline constexpr int32_t kBufImmutable = 1 << 0;
inline constexpr int32_t kBufVariableSize = 1 << 1;
inline constexpr int32_t kBufMustAllocate = 1 << 2;
inline constexpr int32_t kBufModified = 1 << 3;
inline constexpr int32_t kBufAllocated = 1 << 4;

// struct fuse_buffer. BPF programs reach it only through the kfuncs; C++ filters use
// buffer_view() / buffer_writable() (same rules as the kfuncs).
struct FuseBuffer {
  void* data = nullptr;
  uint32_t size = 0;
  uint32_t alloc_size = 0;
  uint32_t max_size = 0;
  int32_t flags = 0;
};
static_assert(sizeof(FuseBuffer) == 24 && offsetof(FuseBuffer, flags) == 20);

// The readable bytes of a buffer.
inline std::span<const std::byte> buffer_view(const FuseBuffer& b) {
  return {static_cast<const std::byte*>(b.data), b.size};
}
// A name buffer without its trailing NUL.
inline std::string_view buffer_name(const FuseBuffer& b) {
  std::string_view s(static_cast<const char*>(b.data), b.size);
  return !s.empty() && s.back() == '\0' ? s.substr(0, s.size() - 1) : s;
}
// Every FuseBuffer a filter gets is the first member of one of these: the heap block that
// growing or privately copying it allocates (freed by the daemon after the hook). The
// editing functions below are inline because --user-filter modules cannot link against
// the daemon's symbols.
struct BufferStorage {
  FuseBuffer buf;
  std::byte* heap = nullptr;
};

// bpf_fuse_get_rw_dynptr's rules (src/filter/README.md "fuse_buffer"): the writable data or
// nullptr. Used by the kfuncs as well.
inline std::byte* buffer_make_writable(FuseBuffer& b, uint64_t size, bool copy) {
  if (b.flags & kBufImmutable) return nullptr;
  const bool variable = (b.flags & kBufVariableSize) != 0;
  if (size > b.max_size || (!variable && size > b.size)) return nullptr;
  const bool private_copy = (b.flags & kBufMustAllocate) && !(b.flags & kBufAllocated);
  if (private_copy || size > b.alloc_size) {
    auto& storage = reinterpret_cast<BufferStorage&>(b);
    const uint32_t cap = static_cast<uint32_t>(std::max<uint64_t>(size, b.size));
    auto* mem = new std::byte[cap]();
    if ((copy || private_copy) && b.data) std::memcpy(mem, b.data, std::min<uint64_t>(b.size, cap));
    delete[] storage.heap;
    storage.heap = mem;
    b.data = mem;
    b.alloc_size = cap;
    b.flags |= kBufAllocated;
  }
  if (variable) b.size = static_cast<uint32_t>(size);
  b.flags |= kBufModified;
  return static_cast<std::byte*>(b.data);
}

// Makes `size` bytes of b writable (bpf_fuse_get_rw_dynptr's rules); empty span on failure.
// Valid only during the hook call that received b.
inline std::span<std::byte> buffer_writable(FuseBuffer& b, uint64_t size, bool copy) {
  std::byte* data = buffer_make_writable(b, size, copy);
  return data ? std::span<std::byte>(data, size) : std::span<std::byte>();
}

// Replaces a name buffer's content with `name` + NUL (false if not allowed / too long).
inline bool buffer_set_name(FuseBuffer& b, std::string_view name) {
  auto w = buffer_writable(b, name.size() + 1, false);
  if (w.empty()) return false;
  std::memcpy(w.data(), name.data(), name.size());
  w[name.size()] = std::byte{0};
  return true;
}

// FUSE-BPF-only structs.
struct fuse_read_iter_out {
  uint64_t ret;
};
struct fuse_write_iter_out {
  uint64_t ret;
};
struct fuse_read_out {  // readdir postfilter
  uint64_t offset;
  uint32_t again;
  uint32_t padding;
};
inline constexpr uint32_t kEntryBacking = 1;
inline constexpr uint32_t kEntryBpf = 2;
inline constexpr uint32_t kEntryRemoveBacking = 3;
inline constexpr uint32_t kEntryRemoveBpf = 4;
inline constexpr size_t kMaxEntries = 2;
struct fuse_bpf_entry_out {
  uint32_t entry_type;
  uint32_t unused;
  union {
    struct {
      uint64_t unused2;
      uint64_t fd;
    };
    char name[16];
  };
};
static_assert(sizeof(fuse_bpf_entry_out) == 24);
// fusebpf's backing redirect (the kernel passes an fd, which a filter here cannot have): a
// FUSE_ENTRY_BACKING entry names a path relative to the mount's filter root. `fd` is the
// byte offset of the path in the entries buffer (at least kEntryPathOffset, i.e. after both
// entry slots) and `unused2` its length in bytes; the path ends there or at its first NUL.
// The entries buffer may grow to kEntriesMaxSize for this. src/filter/README.md.
inline constexpr uint32_t kEntryPathOffset = kMaxEntries * sizeof(fuse_bpf_entry_out);
inline constexpr uint32_t kEntriesMaxSize = kEntryPathOffset + 4096;
// Writes a FUSE_ENTRY_BACKING redirect to `path` into the first free entry slot of a lookup
// postfilter's `entries` (keeping entries already there). False if there is no free slot,
// the path is empty or too long, or the buffer is not writable.
inline bool entries_redirect(FuseBuffer& entries, std::string_view path) {
  if (path.empty() || path.size() > kEntriesMaxSize - kEntryPathOffset) return false;
  uint32_t old_size = entries.size;
  auto w = buffer_writable(entries, kEntryPathOffset + path.size(), true);
  if (w.empty()) return false;
  // Bytes past the old size are not ours: clear them so unused slots read as type 0.
  if (old_size < w.size()) std::memset(w.data() + old_size, 0, w.size() - old_size);
  for (size_t slot = 0; slot < kMaxEntries; ++slot) {
    fuse_bpf_entry_out e;
    std::memcpy(&e, w.data() + slot * sizeof e, sizeof e);
    if (e.entry_type != 0) continue;
    e = fuse_bpf_entry_out{};
    e.entry_type = kEntryBacking;
    e.unused2 = path.size();
    e.fd = kEntryPathOffset;
    std::memcpy(w.data() + slot * sizeof e, &e, sizeof e);
    std::memcpy(w.data() + kEntryPathOffset, path.data(), path.size());
    return true;
  }
  return false;
}

// Return codes of filters (BPF_FUSE_*); a negative value fails the op with that errno.
enum BpfFuseReturn : int32_t {
  kBpfFuseContinue = 0,
  kBpfFuseUser = 1,
  kBpfFuseUserPrefilter = 2,
  kBpfFusePostfilter = 3,
  kBpfFuseUserPostfilter = 4,
  kBpfFuseCallDefault = 5,
};

}  // namespace fusebpf::filter
