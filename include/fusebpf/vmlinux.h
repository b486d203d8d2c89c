/* vmlinux.h for fusebpf filters: the types a FUSE-BPF kernel's BTF would give a filter
 * (basic kernel integer types, the FUSE uapi in/out structs, the FUSE-BPF additions and
 * struct fuse_ops), so that a filter written for the kernel patch set builds unchanged with
 * `-I include/fusebpf`. Layouts match src/abi/fuse_kernel.h (FUSE 7.42), checked by
 * hand against src/abi/fuse_kernel.h (a BTF-based layout test is still to do). BPF-side C only.
 * Interface facts: src/filter/README.md and ../shared/fusebpf-api.md. */
#ifndef FUSEBPF_VMLINUX_H
#define FUSEBPF_VMLINUX_H

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)
#endif

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __s8 s8;
typedef __u8 u8;
typedef __s16 s16;
typedef __u16 u16;
typedef __s32 s32;
typedef __u32 u32;
typedef __s64 s64;
typedef __u64 u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __le16;
typedef __u32 __le32;
typedef __u64 __le64;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
typedef unsigned long size_t;
typedef long ssize_t;
typedef __u32 umode_t;
typedef __s64 loff_t;

/* ---- eBPF uapi bits programs use (the map types fusebpf supports, update flags) ---- */
enum bpf_map_type {
  BPF_MAP_TYPE_UNSPEC = 0,
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_LPM_TRIE = 11,
};
enum {
  BPF_ANY = 0,
  BPF_NOEXIST = 1,
  BPF_EXIST = 2,
  BPF_F_NO_PREALLOC = 1,
};
struct bpf_lpm_trie_key {
  __u32 prefixlen;
  __u8 data[0];
};

/* ---- eBPF types the kfuncs use ---- */
struct bpf_dynptr {
  __u64 __opaque[2];
} __attribute__((aligned(8)));

/* ---- FUSE opcodes (uapi linux/fuse.h) and the FUSE-BPF filter stage bits ---- */
enum fuse_opcode {
  FUSE_LOOKUP = 1,
  FUSE_FORGET = 2,
  FUSE_GETATTR = 3,
  FUSE_SETATTR = 4,
  FUSE_READLINK = 5,
  FUSE_SYMLINK = 6,
  FUSE_MKNOD = 8,
  FUSE_MKDIR = 9,
  FUSE_UNLINK = 10,
  FUSE_RMDIR = 11,
  FUSE_RENAME = 12,
  FUSE_LINK = 13,
  FUSE_OPEN = 14,
  FUSE_READ = 15,
  FUSE_WRITE = 16,
  FUSE_STATFS = 17,
  FUSE_RELEASE = 18,
  FUSE_FSYNC = 20,
  FUSE_SETXATTR = 21,
  FUSE_GETXATTR = 22,
  FUSE_LISTXATTR = 23,
  FUSE_REMOVEXATTR = 24,
  FUSE_FLUSH = 25,
  FUSE_INIT = 26,
  FUSE_OPENDIR = 27,
  FUSE_READDIR = 28,
  FUSE_RELEASEDIR = 29,
  FUSE_FSYNCDIR = 30,
  FUSE_GETLK = 31,
  FUSE_SETLK = 32,
  FUSE_SETLKW = 33,
  FUSE_ACCESS = 34,
  FUSE_CREATE = 35,
  FUSE_INTERRUPT = 36,
  FUSE_BMAP = 37,
  FUSE_DESTROY = 38,
  FUSE_IOCTL = 39,
  FUSE_POLL = 40,
  FUSE_NOTIFY_REPLY = 41,
  FUSE_BATCH_FORGET = 42,
  FUSE_FALLOCATE = 43,
  FUSE_READDIRPLUS = 44,
  FUSE_RENAME2 = 45,
  FUSE_LSEEK = 46,
  FUSE_COPY_FILE_RANGE = 47,
  FUSE_SETUPMAPPING = 48,
  FUSE_REMOVEMAPPING = 49,
  FUSE_SYNCFS = 50,
  FUSE_TMPFILE = 51,
  FUSE_STATX = 52,
  FUSE_CANONICAL_PATH = 2016, /* Android */
};

enum {
  FUSE_OPCODE_FILTER = 0x0ffff,
  FUSE_PREFILTER = 0x10000,
  FUSE_POSTFILTER = 0x20000,
};

/* Return codes of struct_ops filters (v3/v4). Negative values fail the op with that errno. */
enum bpf_fuse_return {
  BPF_FUSE_CONTINUE = 0,
  BPF_FUSE_USER = 1,
  BPF_FUSE_USER_PREFILTER = 2,
  BPF_FUSE_POSTFILTER = 3,
  BPF_FUSE_USER_POSTFILTER = 4,
  BPF_FUSE_CALL_DEFAULT = 5,
};

/* fuse_buffer flags: set by the host ... */
enum {
  BPF_FUSE_IMMUTABLE = 1 << 0,
  BPF_FUSE_VARIABLE_SIZE = 1 << 1,
  BPF_FUSE_MUST_ALLOCATE = 1 << 2,
  /* ... and by bpf_fuse_get_rw_dynptr */
  BPF_FUSE_MODIFIED = 1 << 3,
  BPF_FUSE_ALLOCATED = 1 << 4,
};

enum { BPF_FUSE_NAME_MAX = 15, FUSE_BPF_MAX_ENTRIES = 2 };

/* fuse_bpf_entry_out.entry_type */
enum {
  FUSE_ENTRY_BACKING = 1,
  FUSE_ENTRY_BPF = 2,
  FUSE_ENTRY_REMOVE_BACKING = 3,
  FUSE_ENTRY_REMOVE_BPF = 4,
};

/* ---- FUSE-BPF structs ---- */
struct bpf_fuse_meta_info {
  __u64 nodeid;
  __u32 opcode;
  __u32 error_in;
  __u32 error_out;
};

/* Opaque to programs: use bpf_fuse_get_ro_dynptr / bpf_fuse_get_rw_dynptr /
 * bpf_fuse_return_len (direct access is rejected by the verifier). */
struct fuse_buffer {
  void *data;
  unsigned size;
  unsigned alloc_size;
  unsigned max_size;
  int flags;
};

struct fuse_bpf_entry_out {
  __u32 entry_type;
  __u32 unused;
  union {
    struct {
      __u64 unused2;
      __u64 fd;
    };
    char name[16];
  };
};

struct fuse_read_iter_out {
  __u64 ret;
};
struct fuse_write_iter_out {
  __u64 ret;
};

/* ---- FUSE uapi structs (protocol 7.42) ---- */
struct fuse_attr {
  __u64 ino, size, blocks, atime, mtime, ctime;
  __u32 atimensec, mtimensec, ctimensec;
  __u32 mode, nlink, uid, gid, rdev, blksize, flags;
};
struct fuse_kstatfs {
  __u64 blocks, bfree, bavail, files, ffree;
  __u32 bsize, namelen, frsize, padding;
  __u32 spare[6];
};
struct fuse_entry_out {
  __u64 nodeid, generation, entry_valid, attr_valid;
  __u32 entry_valid_nsec, attr_valid_nsec;
  struct fuse_attr attr;
};
struct fuse_getattr_in {
  __u32 getattr_flags, dummy;
  __u64 fh;
};
struct fuse_attr_out {
  __u64 attr_valid;
  __u32 attr_valid_nsec, dummy;
  struct fuse_attr attr;
};
struct fuse_mknod_in {
  __u32 mode, rdev, umask, padding;
};
struct fuse_mkdir_in {
  __u32 mode, umask;
};
struct fuse_rename_in {
  __u64 newdir;
};
struct fuse_rename2_in {
  __u64 newdir;
  __u32 flags, padding;
};
struct fuse_link_in {
  __u64 oldnodeid;
};
struct fuse_setattr_in {
  __u32 valid, padding;
  __u64 fh, size, lock_owner, atime, mtime, ctime;
  __u32 atimensec, mtimensec, ctimensec, mode, unused4, uid, gid, unused5;
};
struct fuse_open_in {
  __u32 flags, open_flags;
};
struct fuse_create_in {
  __u32 flags, mode, umask, open_flags;
};
struct fuse_open_out {
  __u64 fh;
  __u32 open_flags;
  __s32 backing_id;
};
struct fuse_release_in {
  __u64 fh;
  __u32 flags, release_flags;
  __u64 lock_owner;
};
struct fuse_flush_in {
  __u64 fh;
  __u32 unused, padding;
  __u64 lock_owner;
};
struct fuse_read_in {
  __u64 fh, offset;
  __u32 size, read_flags;
  __u64 lock_owner;
  __u32 flags, padding;
};
struct fuse_read_out { /* FUSE-BPF readdir */
  __u64 offset;
  __u32 again;
  __u32 padding;
};
struct fuse_write_in {
  __u64 fh, offset;
  __u32 size, write_flags;
  __u64 lock_owner;
  __u32 flags, padding;
};
struct fuse_write_out {
  __u32 size, padding;
};
struct fuse_statfs_out {
  struct fuse_kstatfs st;
};
struct fuse_fsync_in {
  __u64 fh;
  __u32 fsync_flags, padding;
};
struct fuse_setxattr_in {
  __u32 size, flags, setxattr_flags, padding;
};
struct fuse_getxattr_in {
  __u32 size, padding;
};
struct fuse_getxattr_out {
  __u32 size, padding;
};
struct fuse_access_in {
  __u32 mask, padding;
};
struct fuse_fallocate_in {
  __u64 fh, offset, length;
  __u32 mode, padding;
};
struct fuse_lseek_in {
  __u64 fh, offset;
  __u32 whence, padding;
};
struct fuse_lseek_out {
  __u64 offset;
};
struct fuse_copy_file_range_in {
  __u64 fh_in, off_in, nodeid_out, fh_out, off_out, len, flags;
};
struct fuse_dirent {
  __u64 ino, off;
  __u32 namelen, type;
  char name[];
};

/* ---- the struct_ops type (v4 member set) ---- */
#define FUSEBPF_PRE_POST(op, pre_args, post_args) \
  __u32 (*op##_prefilter) pre_args;               \
  __u32 (*op##_postfilter) post_args;

typedef const struct bpf_fuse_meta_info *fuse_meta_t;

struct fuse_ops {
  __u32 (*default_filter)(const struct bpf_fuse_meta_info *meta);
  FUSEBPF_PRE_POST(open, (fuse_meta_t, struct fuse_open_in *),
                   (fuse_meta_t, const struct fuse_open_in *, struct fuse_open_out *))
  FUSEBPF_PRE_POST(opendir, (fuse_meta_t, struct fuse_open_in *),
                   (fuse_meta_t, const struct fuse_open_in *, struct fuse_open_out *))
  FUSEBPF_PRE_POST(create_open, (fuse_meta_t, struct fuse_create_in *, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_create_in *, const struct fuse_buffer *,
                    struct fuse_entry_out *, struct fuse_open_out *))
  FUSEBPF_PRE_POST(release, (fuse_meta_t, struct fuse_release_in *),
                   (fuse_meta_t, const struct fuse_release_in *))
  FUSEBPF_PRE_POST(releasedir, (fuse_meta_t, struct fuse_release_in *),
                   (fuse_meta_t, const struct fuse_release_in *))
  FUSEBPF_PRE_POST(flush, (fuse_meta_t, struct fuse_flush_in *),
                   (fuse_meta_t, const struct fuse_flush_in *))
  FUSEBPF_PRE_POST(lseek, (fuse_meta_t, struct fuse_lseek_in *),
                   (fuse_meta_t, const struct fuse_lseek_in *, struct fuse_lseek_out *))
  FUSEBPF_PRE_POST(copy_file_range, (fuse_meta_t, struct fuse_copy_file_range_in *),
                   (fuse_meta_t, const struct fuse_copy_file_range_in *, struct fuse_write_out *))
  FUSEBPF_PRE_POST(fsync, (fuse_meta_t, struct fuse_fsync_in *),
                   (fuse_meta_t, const struct fuse_fsync_in *))
  FUSEBPF_PRE_POST(dir_fsync, (fuse_meta_t, struct fuse_fsync_in *),
                   (fuse_meta_t, const struct fuse_fsync_in *))
  FUSEBPF_PRE_POST(getxattr, (fuse_meta_t, struct fuse_getxattr_in *, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_getxattr_in *, const struct fuse_buffer *,
                    struct fuse_buffer *, struct fuse_getxattr_out *))
  FUSEBPF_PRE_POST(listxattr, (fuse_meta_t, struct fuse_getxattr_in *),
                   (fuse_meta_t, const struct fuse_getxattr_in *, struct fuse_buffer *,
                    struct fuse_getxattr_out *))
  FUSEBPF_PRE_POST(setxattr,
                   (fuse_meta_t, struct fuse_setxattr_in *, struct fuse_buffer *,
                    struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_setxattr_in *, const struct fuse_buffer *,
                    const struct fuse_buffer *))
  FUSEBPF_PRE_POST(removexattr, (fuse_meta_t, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_buffer *))
  /* read_iter/write_iter: fusebpf adds the data as a last fuse_buffer argument (docs). */
  FUSEBPF_PRE_POST(read_iter, (fuse_meta_t, struct fuse_read_in *),
                   (fuse_meta_t, const struct fuse_read_in *, struct fuse_read_iter_out *))
  FUSEBPF_PRE_POST(write_iter, (fuse_meta_t, struct fuse_write_in *),
                   (fuse_meta_t, const struct fuse_write_in *, struct fuse_write_iter_out *))
  FUSEBPF_PRE_POST(file_fallocate, (fuse_meta_t, struct fuse_fallocate_in *),
                   (fuse_meta_t, const struct fuse_fallocate_in *))
  FUSEBPF_PRE_POST(lookup, (fuse_meta_t, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_buffer *, struct fuse_entry_out *,
                    struct fuse_buffer *))
  FUSEBPF_PRE_POST(mknod, (fuse_meta_t, struct fuse_mknod_in *, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_mknod_in *, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(mkdir, (fuse_meta_t, struct fuse_mkdir_in *, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_mkdir_in *, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(rmdir, (fuse_meta_t, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(rename2,
                   (fuse_meta_t, struct fuse_rename2_in *, struct fuse_buffer *,
                    struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_rename2_in *, const struct fuse_buffer *,
                    const struct fuse_buffer *))
  FUSEBPF_PRE_POST(rename,
                   (fuse_meta_t, struct fuse_rename_in *, struct fuse_buffer *,
                    struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_rename_in *, const struct fuse_buffer *,
                    const struct fuse_buffer *))
  FUSEBPF_PRE_POST(unlink, (fuse_meta_t, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(link, (fuse_meta_t, struct fuse_link_in *, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_link_in *, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(getattr, (fuse_meta_t, struct fuse_getattr_in *),
                   (fuse_meta_t, const struct fuse_getattr_in *, struct fuse_attr_out *))
  FUSEBPF_PRE_POST(setattr, (fuse_meta_t, struct fuse_setattr_in *),
                   (fuse_meta_t, const struct fuse_setattr_in *, struct fuse_attr_out *))
  FUSEBPF_PRE_POST(statfs, (fuse_meta_t), (fuse_meta_t, struct fuse_statfs_out *))
  FUSEBPF_PRE_POST(get_link, (fuse_meta_t, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(symlink, (fuse_meta_t, struct fuse_buffer *, struct fuse_buffer *),
                   (fuse_meta_t, const struct fuse_buffer *, const struct fuse_buffer *))
  FUSEBPF_PRE_POST(readdir, (fuse_meta_t, struct fuse_read_in *),
                   (fuse_meta_t, const struct fuse_read_in *, struct fuse_read_out *,
                    struct fuse_buffer *))
  FUSEBPF_PRE_POST(access, (fuse_meta_t, struct fuse_access_in *),
                   (fuse_meta_t, const struct fuse_access_in *))
  char name[BPF_FUSE_NAME_MAX + 1];
};
#undef FUSEBPF_PRE_POST

/* ---- Android single-program form (BPF_PROG_TYPE_FUSE, section "fuse/<name>") ---- */
enum {
  FUSE_MAX_IN_ARGS = 5,
  FUSE_MAX_OUT_ARGS = 3,
  FUSE_BPF_FORCE = 1 << 0,
  FUSE_BPF_OUT_ARGVAR = 1 << 6,
  FUSE_BPF_USER_FILTER = 1,
  FUSE_BPF_BACKING = 2,
  FUSE_BPF_POST_FILTER = 4,
  FUSE_ACTION_KEEP = 0,
  FUSE_ACTION_REMOVE = 1,
  FUSE_ACTION_REPLACE = 2,
};
struct fuse_bpf_in_arg {
  __u32 size;
  const void *value;
  const void *end_offset;
};
struct fuse_bpf_arg {
  __u32 size;
  void *value;
  void *end_offset;
};
struct fuse_bpf_args {
  __u64 nodeid;
  __u32 opcode;
  __u32 error_in;
  __u32 in_numargs;
  __u32 out_numargs;
  __u32 flags;
  struct fuse_bpf_in_arg in_args[FUSE_MAX_IN_ARGS];
  struct fuse_bpf_arg out_args[FUSE_MAX_OUT_ARGS];
};
struct fuse_entry_bpf_out {
  __u64 backing_action;
  __u64 backing_fd;
  __u64 bpf_action;
  __u64 bpf_fd;
};

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* FUSEBPF_VMLINUX_H */
