// Our own declarations of the FUSE kernel ABI (protocol 7.42, Linux 6.14+), written from the
// documented kernel facts because Debian 12's <linux/fuse.h> stops at 7.38 (no passthrough,
// no io_uring). Names follow the kernel's so they can be grepped against its documentation.
// Layouts are checked with static_asserts; everything is little-endian host order.
// Protocol overview: docs/ARCHITECTURE.md "FUSE protocol".
#pragma once

#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace fusebpf::abi {

inline constexpr uint32_t kKernelVersion = 7;
inline constexpr uint32_t kKernelMinorVersion = 42;
inline constexpr uint64_t kRootId = 1;

// Input type of operations that carry no fixed struct (see fuse_ops.def).
struct NoIn {};
// The smallest read buffer the kernel accepts for /dev/fuse reads.
inline constexpr size_t kMinReadBuffer = 8192;

// FUSE_INIT flags (flags | flags2 << 32).
namespace init {
inline constexpr uint64_t kAsyncRead = 1ull << 0;
inline constexpr uint64_t kPosixLocks = 1ull << 1;
inline constexpr uint64_t kFileOps = 1ull << 2;
inline constexpr uint64_t kAtomicOTrunc = 1ull << 3;
inline constexpr uint64_t kExportSupport = 1ull << 4;
inline constexpr uint64_t kBigWrites = 1ull << 5;
inline constexpr uint64_t kDontMask = 1ull << 6;
inline constexpr uint64_t kSpliceWrite = 1ull << 7;
inline constexpr uint64_t kSpliceMove = 1ull << 8;
inline constexpr uint64_t kSpliceRead = 1ull << 9;
inline constexpr uint64_t kFlockLocks = 1ull << 10;
inline constexpr uint64_t kHasIoctlDir = 1ull << 11;
inline constexpr uint64_t kAutoInvalData = 1ull << 12;
inline constexpr uint64_t kDoReaddirplus = 1ull << 13;
inline constexpr uint64_t kReaddirplusAuto = 1ull << 14;
inline constexpr uint64_t kAsyncDio = 1ull << 15;
inline constexpr uint64_t kWritebackCache = 1ull << 16;
inline constexpr uint64_t kNoOpenSupport = 1ull << 17;
inline constexpr uint64_t kParallelDirops = 1ull << 18;
inline constexpr uint64_t kHandleKillpriv = 1ull << 19;
inline constexpr uint64_t kPosixAcl = 1ull << 20;
inline constexpr uint64_t kAbortError = 1ull << 21;
inline constexpr uint64_t kMaxPages = 1ull << 22;
inline constexpr uint64_t kCacheSymlinks = 1ull << 23;
inline constexpr uint64_t kNoOpendirSupport = 1ull << 24;
inline constexpr uint64_t kExplicitInvalData = 1ull << 25;
inline constexpr uint64_t kMapAlignment = 1ull << 26;
inline constexpr uint64_t kSubmounts = 1ull << 27;
inline constexpr uint64_t kHandleKillprivV2 = 1ull << 28;
inline constexpr uint64_t kSetxattrExt = 1ull << 29;
inline constexpr uint64_t kInitExt = 1ull << 30;
inline constexpr uint64_t kInitReserved = 1ull << 31;
inline constexpr uint64_t kSecurityCtx = 1ull << 32;
inline constexpr uint64_t kHasInodeDax = 1ull << 33;
inline constexpr uint64_t kCreateSuppGroup = 1ull << 34;
inline constexpr uint64_t kHasExpireOnly = 1ull << 35;
inline constexpr uint64_t kDirectIoAllowMmap = 1ull << 36;
inline constexpr uint64_t kPassthrough = 1ull << 37;
inline constexpr uint64_t kNoExportSupport = 1ull << 38;
inline constexpr uint64_t kHasResend = 1ull << 39;
inline constexpr uint64_t kAllowIdmap = 1ull << 40;
inline constexpr uint64_t kOverIoUring = 1ull << 41;
inline constexpr uint64_t kRequestTimeout = 1ull << 42;
}  // namespace init

// fuse_open_out.open_flags
inline constexpr uint32_t kFopenDirectIo = 1u << 0;
inline constexpr uint32_t kFopenKeepCache = 1u << 1;
inline constexpr uint32_t kFopenNonseekable = 1u << 2;
inline constexpr uint32_t kFopenCacheDir = 1u << 3;
inline constexpr uint32_t kFopenStream = 1u << 4;
inline constexpr uint32_t kFopenNoflush = 1u << 5;
inline constexpr uint32_t kFopenParallelDirectWrites = 1u << 6;
inline constexpr uint32_t kFopenPassthrough = 1u << 7;

// fuse_setattr_in.valid
inline constexpr uint32_t kFattrMode = 1u << 0;
inline constexpr uint32_t kFattrUid = 1u << 1;
inline constexpr uint32_t kFattrGid = 1u << 2;
inline constexpr uint32_t kFattrSize = 1u << 3;
inline constexpr uint32_t kFattrAtime = 1u << 4;
inline constexpr uint32_t kFattrMtime = 1u << 5;
inline constexpr uint32_t kFattrFh = 1u << 6;
inline constexpr uint32_t kFattrAtimeNow = 1u << 7;
inline constexpr uint32_t kFattrMtimeNow = 1u << 8;
inline constexpr uint32_t kFattrLockowner = 1u << 9;
inline constexpr uint32_t kFattrCtime = 1u << 10;
inline constexpr uint32_t kFattrKillSuidgid = 1u << 11;

inline constexpr uint32_t kGetattrFh = 1u << 0;     // fuse_getattr_in.getattr_flags
inline constexpr uint32_t kReleaseFlush = 1u << 0;  // fuse_release_in.release_flags
inline constexpr uint32_t kReleaseFlockUnlock = 1u << 1;
inline constexpr uint32_t kWriteCache = 1u << 0;  // fuse_write_in.write_flags
inline constexpr uint32_t kWriteLockowner = 1u << 1;
inline constexpr uint32_t kWriteKillSuidgid = 1u << 2;
inline constexpr uint32_t kReadLockowner = 1u << 1;    // fuse_read_in.read_flags
inline constexpr uint32_t kOpenKillSuidgid = 1u << 0;  // fuse_open_in.open_flags
inline constexpr uint32_t kLkFlock = 1u << 0;          // fuse_lk_in.lk_flags
inline constexpr uint32_t kFsyncFdatasync = 1u << 0;   // fuse_fsync_in.fsync_flags
inline constexpr uint32_t kSetxattrAclKillSgid = 1u << 0;
inline constexpr uint32_t kIoctlCompat = 1u << 0;  // fuse_ioctl_in.flags
inline constexpr uint32_t kIoctlUnrestricted = 1u << 1;
inline constexpr uint32_t kIoctlRetry = 1u << 2;
inline constexpr uint32_t kIoctlDir = 1u << 4;
inline constexpr uint32_t kExpireOnly = 1u << 0;  // notify_inval_entry flags

// Notification codes (unique == 0 messages written by the daemon).
enum class NotifyCode : int32_t {
  kPoll = 1,
  kInvalInode = 2,
  kInvalEntry = 3,
  kStore = 4,
  kRetrieve = 5,
  kDelete = 6,
  kResend = 7,
  // 7.44 (Linux 6.16): no payload; every dentry the kernel cached before it must be looked
  // up again. Older kernels answer EINVAL.
  kIncEpoch = 8,
};

struct fuse_attr {
  uint64_t ino, size, blocks, atime, mtime, ctime;
  uint32_t atimensec, mtimensec, ctimensec;
  uint32_t mode, nlink, uid, gid, rdev, blksize, flags;
};
static_assert(sizeof(fuse_attr) == 88);

struct fuse_sx_time {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t reserved;
};

struct fuse_statx {
  uint32_t mask, blksize;
  uint64_t attributes;
  uint32_t nlink, uid, gid;
  uint16_t mode, spare0;
  uint64_t ino, size, blocks, attributes_mask;
  fuse_sx_time atime, btime, ctime, mtime;
  uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
  uint64_t spare2[14];
};
static_assert(sizeof(fuse_statx) == 256);

struct fuse_kstatfs {
  uint64_t blocks, bfree, bavail, files, ffree;
  uint32_t bsize, namelen, frsize, padding;
  uint32_t spare[6];
};
static_assert(sizeof(fuse_kstatfs) == 80);

struct fuse_file_lock {
  uint64_t start, end;
  uint32_t type, pid;
};

struct fuse_in_header {
  uint32_t len, opcode;
  uint64_t unique, nodeid;
  uint32_t uid, gid, pid;
  uint16_t total_extlen, padding;
};
static_assert(sizeof(fuse_in_header) == 40);

struct fuse_out_header {
  uint32_t len;
  int32_t error;
  uint64_t unique;
};
static_assert(sizeof(fuse_out_header) == 16);

struct fuse_entry_out {
  uint64_t nodeid, generation, entry_valid, attr_valid;
  uint32_t entry_valid_nsec, attr_valid_nsec;
  fuse_attr attr;
};
static_assert(sizeof(fuse_entry_out) == 128);

struct fuse_forget_in {
  uint64_t nlookup;
};
struct fuse_forget_one {
  uint64_t nodeid, nlookup;
};
struct fuse_batch_forget_in {
  uint32_t count, dummy;
};
struct fuse_getattr_in {
  uint32_t getattr_flags, dummy;
  uint64_t fh;
};
struct fuse_attr_out {
  uint64_t attr_valid;
  uint32_t attr_valid_nsec, dummy;
  fuse_attr attr;
};
static_assert(sizeof(fuse_attr_out) == 104);
struct fuse_statx_in {
  uint32_t getattr_flags, reserved;
  uint64_t fh;
  uint32_t sx_flags, sx_mask;
};
static_assert(sizeof(fuse_statx_in) == 24);
struct fuse_statx_out {
  uint64_t attr_valid;
  uint32_t attr_valid_nsec, flags;
  uint64_t spare[2];
  fuse_statx stat;
};
static_assert(sizeof(fuse_statx_out) == 288);
struct fuse_mknod_in {
  uint32_t mode, rdev, umask, padding;
};
struct fuse_mkdir_in {
  uint32_t mode, umask;
};
struct fuse_rename_in {
  uint64_t newdir;
};
struct fuse_rename2_in {
  uint64_t newdir;
  uint32_t flags, padding;
};
struct fuse_link_in {
  uint64_t oldnodeid;
};
struct fuse_setattr_in {
  uint32_t valid, padding;
  uint64_t fh, size, lock_owner, atime, mtime, ctime;
  uint32_t atimensec, mtimensec, ctimensec, mode, unused4, uid, gid, unused5;
};
static_assert(sizeof(fuse_setattr_in) == 88);
struct fuse_open_in {
  uint32_t flags, open_flags;
};
struct fuse_create_in {
  uint32_t flags, mode, umask, open_flags;
};
struct fuse_open_out {
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};
static_assert(sizeof(fuse_open_out) == 16);
struct fuse_release_in {
  uint64_t fh;
  uint32_t flags, release_flags;
  uint64_t lock_owner;
};
static_assert(sizeof(fuse_release_in) == 24);
struct fuse_flush_in {
  uint64_t fh;
  uint32_t unused, padding;
  uint64_t lock_owner;
};
struct fuse_read_in {
  uint64_t fh, offset;
  uint32_t size, read_flags;
  uint64_t lock_owner;
  uint32_t flags, padding;
};
static_assert(sizeof(fuse_read_in) == 40);
struct fuse_write_in {
  uint64_t fh, offset;
  uint32_t size, write_flags;
  uint64_t lock_owner;
  uint32_t flags, padding;
};
static_assert(sizeof(fuse_write_in) == 40);
struct fuse_write_out {
  uint32_t size, padding;
};
struct fuse_statfs_out {
  fuse_kstatfs st;
};
struct fuse_fsync_in {
  uint64_t fh;
  uint32_t fsync_flags, padding;
};
struct fuse_setxattr_in {
  uint32_t size, flags, setxattr_flags, padding;
};
// Without FUSE_SETXATTR_EXT the kernel sends only the first 8 bytes.
inline constexpr size_t kCompatSetxattrInSize = 8;
struct fuse_getxattr_in {
  uint32_t size, padding;
};
struct fuse_getxattr_out {
  uint32_t size, padding;
};
struct fuse_lk_in {
  uint64_t fh, owner;
  fuse_file_lock lk;
  uint32_t lk_flags, padding;
};
static_assert(sizeof(fuse_lk_in) == 48);
struct fuse_lk_out {
  fuse_file_lock lk;
};
struct fuse_access_in {
  uint32_t mask, padding;
};
struct fuse_init_in {
  uint32_t major, minor, max_readahead, flags;
  uint32_t flags2;
  uint32_t unused[11];
};
static_assert(sizeof(fuse_init_in) == 64);
// Kernels before 7.36 send only the first 16 bytes.
inline constexpr size_t kCompatInitInSize = 16;
struct fuse_init_out {
  uint32_t major, minor, max_readahead, flags;
  uint16_t max_background, congestion_threshold;
  uint32_t max_write, time_gran;
  uint16_t max_pages, map_alignment;
  uint32_t flags2;
  uint32_t max_stack_depth;
  uint16_t request_timeout;
  uint16_t unused[11];
};
static_assert(sizeof(fuse_init_out) == 64);
static_assert(offsetof(fuse_init_out, max_stack_depth) == 36);
struct fuse_interrupt_in {
  uint64_t unique;
};
struct fuse_bmap_in {
  uint64_t block;
  uint32_t blocksize, padding;
};
struct fuse_bmap_out {
  uint64_t block;
};
struct fuse_ioctl_in {
  uint64_t fh;
  uint32_t flags, cmd;
  uint64_t arg;
  uint32_t in_size, out_size;
};
static_assert(sizeof(fuse_ioctl_in) == 32);
struct fuse_ioctl_out {
  int32_t result;
  uint32_t flags, in_iovs, out_iovs;
};
struct fuse_poll_in {
  uint64_t fh, kh;
  uint32_t flags, events;
};
struct fuse_poll_out {
  uint32_t revents, padding;
};
struct fuse_fallocate_in {
  uint64_t fh, offset, length;
  uint32_t mode, padding;
};
static_assert(sizeof(fuse_fallocate_in) == 32);
struct fuse_lseek_in {
  uint64_t fh, offset;
  uint32_t whence, padding;
};
struct fuse_lseek_out {
  uint64_t offset;
};
struct fuse_copy_file_range_in {
  uint64_t fh_in, off_in, nodeid_out, fh_out, off_out, len, flags;
};
static_assert(sizeof(fuse_copy_file_range_in) == 56);
struct fuse_syncfs_in {
  uint64_t padding;
};

struct fuse_dirent {
  uint64_t ino, off;
  uint32_t namelen, type;
  // char name[namelen], padded to 8 bytes
};
static_assert(sizeof(fuse_dirent) == 24);
struct fuse_direntplus {
  fuse_entry_out entry_out;
  fuse_dirent dirent;
};
static_assert(sizeof(fuse_direntplus) == 152);
inline constexpr size_t align8(size_t n) { return (n + 7) & ~size_t{7}; }
inline constexpr size_t dirent_size(size_t namelen) {
  return align8(sizeof(fuse_dirent) + namelen);
}
inline constexpr size_t direntplus_size(size_t namelen) {
  return align8(sizeof(fuse_direntplus) + namelen);
}

struct fuse_notify_inval_inode_out {
  uint64_t ino;
  int64_t off, len;
};
struct fuse_notify_inval_entry_out {
  uint64_t parent;
  uint32_t namelen, flags;
};
struct fuse_notify_delete_out {
  uint64_t parent, child;
  uint32_t namelen, padding;
};

// Passthrough: FUSE_DEV_IOC_BACKING_OPEN registers an open file and returns a backing id.
struct fuse_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(fuse_backing_map) == 16);

inline constexpr unsigned kDevIocMagic = 229;
inline constexpr unsigned long kDevIocClone = _IOR(kDevIocMagic, 0, uint32_t);
inline constexpr unsigned long kDevIocBackingOpen = _IOW(kDevIocMagic, 1, fuse_backing_map);
inline constexpr unsigned long kDevIocBackingClose = _IOW(kDevIocMagic, 2, uint32_t);

}  // namespace fusebpf::abi
