// Backing: the lower ("backing") directory tree as seen by a stacked FUSE filesystem.
//
// One Backing object mirrors one backing root. Every FUSE request maps onto one call here:
// node ids are FUSE nodeids, handle ids are FUSE fh values, errors are the lower fs's errno.
// See src/backing/README.md for the invariants, the mount-boundary policy and cache advice.
//
// Nodes: keyed by (st_dev, st_ino); hard links share a node. Ids are non-zero, kRootNode == 1,
// and encode (slot index | generation << 32), so an id is never reused while the kernel may
// still hold it; a stale id yields ESTALE. Every successful call that returns an Entry
// (lookup, mkdir, mknod, symlink, link, create, tmpfile, readdirplus with node != 0) adds one
// to that node's lookup count; forget() takes counts away and frees the node at zero.
//
// Threads: every method may be called concurrently from any number of threads. The hot path
// (lookup/getattr of a remembered node with a cached fd) takes two short mutex sections.
// Lock order (outer to inner): DirState::mu (one open directory; held across a readdir call,
// which may look entries up) -> NodeTable::mu_ (nodes, key map and the fd LRU) ->
// HandleTable::mu_ -> LockTable::mu_. No syscall that may block runs under NodeTable::mu_,
// HandleTable::mu_ or LockTable::mu_; blocking lock waits hold no mutex at all.
//
// Credentials: calls run with the calling thread's fsuid/fsgid/groups; wrap a call in a
// CredentialScope (creds.h) for `--creds=caller`. Call prepare_worker_thread() first.
#pragma once

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::backing {

using NodeId = uint64_t;
using HandleId = uint64_t;
inline constexpr NodeId kRootNode = 1;

struct Options {
  // Remember nodes by file handle (name_to_handle_at) and keep only an LRU of O_PATH fds.
  // Needs CAP_DAC_READ_SEARCH and a lower fs with export support; when either is missing the
  // Backing falls back to one pinned O_PATH fd per node (see pinned_fds_mode()).
  bool use_file_handles = true;
  // Maximum number of O_PATH fds kept open by the LRU (handle mode only).
  size_t fd_cache_capacity = 4096;
};

// What FUSE needs for an entry reply (nodeid, generation, attr).
struct Entry {
  NodeId node = 0;
  uint64_t generation = 0;
  struct stat attr {};
};

// setattr fields; the bit values equal the kernel's FATTR_* so `valid` can be copied from
// fuse_setattr_in.valid (bits not listed here are ignored).
enum SetAttrBits : uint32_t {
  kSetMode = 1u << 0,
  kSetUid = 1u << 1,
  kSetGid = 1u << 2,
  kSetSize = 1u << 3,
  kSetAtime = 1u << 4,
  kSetMtime = 1u << 5,
  kSetHandle = 1u << 6,  // `handle` is valid: apply through the open file (ftruncate, fchmod..)
  kSetAtimeNow = 1u << 7,
  kSetMtimeNow = 1u << 8,
  kSetCtime = 1u << 10,  // accepted and ignored: the lower fs sets ctime on every change
};

struct SetAttr {
  uint32_t valid = 0;
  mode_t mode = 0;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  off_t size = 0;
  struct timespec atime {};  // tv_nsec may be UTIME_NOW / UTIME_OMIT as well
  struct timespec mtime {};
  struct timespec ctime {};
  HandleId handle = 0;
};

// One directory entry. `offset` is the cookie to pass to readdir() to resume AFTER this entry.
struct DirEntry {
  std::string_view name;
  uint64_t ino = 0;
  uint32_t type = 0;  // DT_*
  uint64_t offset = 0;
};

// A POSIX byte-range lock (struct flock in kernel units: end is inclusive; len 0 = to EOF).
struct LockRange {
  uint64_t start = 0;
  uint64_t end = 0;   // inclusive; UINT64_MAX / OFFSET_MAX = to EOF
  uint32_t type = 0;  // F_RDLCK / F_WRLCK / F_UNLCK
  uint32_t pid = 0;   // getlk reply: pid of the holder (0 when held by another owner of ours)
};

class NodeTable;
class HandleTable;
class LockTable;
struct OpenFile;

class Backing {
 public:
  // Opens `root` (must be a directory) and prepares the node table. Fails with the errno of
  // opening the root. `root` is the only absolute path this layer ever uses.
  static Result<std::unique_ptr<Backing>> create(const std::string& root, const Options& options);
  ~Backing();
  Backing(const Backing&) = delete;
  Backing& operator=(const Backing&) = delete;

  // True when nodes pin an O_PATH fd each (no file-handle support); then at most about
  // (RLIMIT_NOFILE - reserve) nodes can be remembered and further lookups fail with EMFILE.
  bool pinned_fds_mode() const;
  // Nodes currently remembered (including the root).
  size_t node_count() const;
  // O_PATH fds currently held by the LRU.
  size_t cached_fd_count() const;

  // ---- node namespace -------------------------------------------------------------------
  // `name` may be "." (same node) or ".." (parent; the root's parent is the root).
  // EXDEV when the name is a mount point below the backing root (see README).
  Result<Entry> lookup(NodeId parent, std::string_view name);
  // Adopts an object from outside the node namespace (a filter's backing redirect): resolves
  // `relative_path` with openat2(dir_fd, O_PATH, resolve_flags) and remembers the result
  // like lookup() (one lookup count). The final component is followed if it is a symlink;
  // pass RESOLVE_BENEATH or RESOLVE_IN_ROOT (plus RESOLVE_NO_SYMLINKS to refuse symlinks) so
  // the path cannot leave dir_fd. The object must be on the backing root's mount (EXDEV
  // otherwise): node ids are file handles of that mount. Empty path: ENOENT; NUL: EINVAL.
  Result<Entry> lookup_at(int dir_fd, std::string_view relative_path, uint64_t resolve_flags);
  // Drops `n` lookups; the node is freed at zero (never the root). Unknown ids are ignored.
  void forget(NodeId node, uint64_t n);
  struct Forget {
    NodeId node;
    uint64_t n;
  };
  void batch_forget(std::span<const Forget> items);

  Result<struct stat> getattr(NodeId node);
  Result<struct stat> getattr_handle(HandleId handle);
  Result<struct statx> statx(NodeId node, uint32_t mask, uint32_t sync_flags = 0);
  Result<struct statx> statx_handle(HandleId handle, uint32_t mask, uint32_t sync_flags = 0);
  // Applies the fields in attr.valid (mode, then owner, then size, then times) and returns the
  // new attributes. With kSetHandle the open file is used (ftruncate works on a 0444 file
  // opened for writing, as natively).
  Result<struct stat> setattr(NodeId node, const SetAttr& attr);
  Result<std::string> readlink(NodeId node);

  // Creation calls take the request's umask and apply it like the kernel (not under a default
  // ACL). Pass umask 0 when the kernel already masked `mode`.
  Result<Entry> mkdir(NodeId parent, std::string_view name, mode_t mode, mode_t umask);
  Result<Entry> mknod(NodeId parent, std::string_view name, mode_t mode, dev_t rdev, mode_t umask);
  Result<Entry> symlink(NodeId parent, std::string_view name, std::string_view target);
  Result<Entry> link(NodeId node, NodeId new_parent, std::string_view new_name);
  Result<void> unlink(NodeId parent, std::string_view name);
  Result<void> rmdir(NodeId parent, std::string_view name);
  // flags: RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT (renameat2 semantics).
  Result<void> rename(NodeId parent, std::string_view name, NodeId new_parent,
                      std::string_view new_name, uint32_t flags);

  // ---- files ----------------------------------------------------------------------------
  // open: O_CREAT/O_EXCL/O_NOCTTY are ignored (FUSE strips them); O_TRUNC, O_APPEND, O_DIRECT,
  // O_SYNC... are honoured by the lower fs. Permission is checked as the current fs creds.
  Result<HandleId> open(NodeId node, int flags);
  struct Created {
    Entry entry;
    HandleId handle = 0;
  };
  // open(O_CREAT | flags) of `name`; O_EXCL and O_TRUNC honoured; never follows a symlink
  // (ELOOP), since the kernel only sends CREATE for a negative dentry.
  Result<Created> create(NodeId parent, std::string_view name, int flags, mode_t mode,
                         mode_t umask);
  // O_TMPFILE in directory `parent`.
  Result<Created> tmpfile(NodeId parent, int flags, mode_t mode, mode_t umask);
  // pread into buf; returns bytes read (0 at EOF).
  Result<size_t> read(HandleId handle, std::span<std::byte> buf, off_t offset);
  // pwrite; with O_APPEND the data goes to EOF whatever `offset` says (Linux pwrite rule).
  // `append`, when given, is the caller's current O_APPEND state (it may have changed with
  // fcntl(F_SETFL) since open) and overrides the handle's.
  Result<size_t> write(HandleId handle, std::span<const std::byte> buf, off_t offset,
                       std::optional<bool> append = std::nullopt);
  // close() semantics for POSIX locks: releases every lock `lock_owner` holds on the inode.
  Result<void> flush(HandleId handle, uint64_t lock_owner);
  // Closes the handle (flock locks held through it go with it). Unknown ids are ignored.
  void release(HandleId handle);
  Result<void> fsync(HandleId handle, bool datasync);
  Result<void> fallocate(HandleId handle, int mode, off_t offset, off_t length);
  // SEEK_SET/CUR/END/DATA/HOLE on the handle's own file position; returns the new offset.
  Result<off_t> lseek(HandleId handle, off_t offset, int whence);
  Result<size_t> copy_file_range(HandleId in, off_t in_offset, HandleId out, off_t out_offset,
                                 size_t length, unsigned int flags);
  // FS_IOC_GETFLAGS/SETFLAGS (int argument) and FS_IOC_FSGETXATTR/FSSETXATTR (struct fsxattr):
  // `in` carries the argument for SET, `out` receives it for GET; returns bytes written to out.
  // Any other command: ENOTTY.
  Result<size_t> ioctl(HandleId handle, uint32_t cmd, std::span<const std::byte> in,
                       std::span<std::byte> out);
  // The real fd of an open handle, for FUSE_DEV_IOC_BACKING_OPEN. Borrowed: valid until
  // release(handle). -1 for unknown handles.
  int file_fd(HandleId handle) const;
  // A fresh fd for `node` opened with `flags` (through /proc/self/fd), owned by the caller.
  Result<UniqueFd> reopen(NodeId node, int flags);

  // ---- locks ----------------------------------------------------------------------------
  // POSIX locks per lock owner, implemented with one open file description per
  // (inode, owner) and OFD locks, so owners conflict with each other exactly like processes.
  Result<LockRange> getlk(HandleId handle, uint64_t owner, const LockRange& lock);
  // wait=false: EAGAIN on conflict. wait=true blocks until granted or until *cancel becomes
  // true (then EINTR); cancel may be null (then waits until granted).
  Result<void> setlk(HandleId handle, uint64_t owner, const LockRange& lock, bool wait,
                     const std::atomic<bool>* cancel = nullptr);
  // flock(2) on the handle's open file description: op is LOCK_SH/LOCK_EX/LOCK_UN [|LOCK_NB].
  // A blocking request polls and honours *cancel like setlk.
  Result<void> flock(HandleId handle, int op, const std::atomic<bool>* cancel = nullptr);

  // ---- directories ----------------------------------------------------------------------
  Result<HandleId> opendir(NodeId node, int flags);
  // Calls fill(entry) for each entry from cookie `offset` (0 = start) in lower-fs order until
  // fill returns false (that entry is not consumed; resume at its predecessor's offset) or
  // the end. Sequential calls cost O(entries): the handle keeps its position and buffer.
  template <typename F>
  Result<void> readdir(HandleId handle, uint64_t offset, F&& fill) {
    return readdir_impl(
        handle, offset, false,
        [](void* ctx, const DirEntry& e, const Entry*) {
          return (*static_cast<std::remove_reference_t<F>*>(ctx))(e);
        },
        &fill);
  }
  // Like readdir, and each entry except "." and ".." is looked up (one lookup count, which
  // is dropped again if fill returns false). entry.node == 0 when it could not be looked up
  // (vanished, mount point): FUSE then simply does not instantiate it.
  template <typename F>
  Result<void> readdirplus(HandleId handle, uint64_t offset, F&& fill) {
    return readdir_impl(
        handle, offset, true,
        [](void* ctx, const DirEntry& d, const Entry* e) {
          return (*static_cast<std::remove_reference_t<F>*>(ctx))(d, *e);
        },
        &fill);
  }
  void releasedir(HandleId handle) { release(handle); }
  Result<void> fsyncdir(HandleId handle, bool datasync) { return fsync(handle, datasync); }

  // ---- misc -----------------------------------------------------------------------------
  Result<struct statfs> statfs(NodeId node);
  // Checks `mask` (R_OK|W_OK|X_OK or F_OK) with the current fs creds (faccessat AT_EACCESS).
  Result<void> access(NodeId node, int mask);
  // flags: XATTR_CREATE / XATTR_REPLACE. Names include the namespace ("user.x",
  // "system.posix_acl_access"). Values are raw bytes as the xattr syscalls see them.
  Result<void> setxattr(NodeId node, std::string_view name, std::span<const std::byte> value,
                        int flags);
  // size-0 probing: an empty `buf` returns the value's size; too small a buf gives ERANGE.
  Result<size_t> getxattr(NodeId node, std::string_view name, std::span<std::byte> buf);
  // NUL-separated names, same probing rules as getxattr.
  Result<size_t> listxattr(NodeId node, std::span<char> buf);
  Result<void> removexattr(NodeId node, std::string_view name);

 private:
  using FillFn = bool (*)(void* ctx, const DirEntry&, const Entry*);
  Backing();
  Result<void> readdir_impl(HandleId handle, uint64_t offset, bool plus, FillFn fn, void* ctx);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fusebpf::backing
