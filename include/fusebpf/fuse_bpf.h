/* fuse_bpf.h: everything a fusebpf filter program needs, in one include.
 *
 *   #include "fuse_bpf.h"              (clang -O2 -g -target bpf -I include/fusebpf)
 *
 *   SEC("struct_ops/lookup_prefilter")     (or: u32 BPF_STRUCT_OPS(lookup_pre, ...))
 *   u32 BPF_PROG(lookup_pre, const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name)
 *   { ... return BPF_FUSE_CONTINUE; }
 *
 *   SEC(".struct_ops") struct fuse_ops my_ops = { .lookup_prefilter = (void *)lookup_pre,
 *                                                  .name = "my_ops" };
 *
 * It includes vmlinux.h (types), libbpf's bpf_helpers.h / bpf_tracing.h (SEC, BPF_PROG,
 * bpf_printk, helpers) and declares the FUSE-BPF kfuncs like the kernel's bpf_common.h.
 * The host side (verifier context per op, kfunc semantics, flow) is described in
 * src/filter/README.md. */
#ifndef FUSEBPF_FUSE_BPF_H
#define FUSEBPF_FUSE_BPF_H

#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* errno values filters commonly return (negated); vmlinux.h has no errno.h. */
#ifndef EPERM
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define E2BIG 7
#define EBADF 9
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EBUSY 16
#define EEXIST 17
#define EXDEV 18
#define ENODEV 19
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENOSPC 28
#define EROFS 30
#define ERANGE 34
#define ENAMETOOLONG 36
#define ENOSYS 38
#define ENOTEMPTY 39
#define ENODATA 61
#define EOPNOTSUPP 95
#endif

/* A read-only dynptr over buf->data[0, size). */
extern void bpf_fuse_get_ro_dynptr(const struct fuse_buffer *buf, struct bpf_dynptr *out) __ksym;
/* Makes buf writable with `size` bytes and a read-write dynptr over them. Fails (the dynptr
 * is then invalid and every slice of it is NULL) for IMMUTABLE buffers, for fixed-size
 * buffers asked to grow and for sizes above max_size. `copy`: keep the old contents when
 * the buffer must be reallocated (size then stays the old size until written). */
extern void bpf_fuse_get_rw_dynptr(struct fuse_buffer *buf, struct bpf_dynptr *out, u64 size,
                                   bool copy) __ksym;
/* The buffer's current size (names count their trailing NUL). */
extern u32 bpf_fuse_return_len(struct fuse_buffer *buf) __ksym;
/* Pointer to ptr[offset, offset + len) or NULL when out of range (buffer may be NULL). */
extern void *bpf_dynptr_slice(const struct bpf_dynptr *ptr, u32 offset, void *buffer,
                              u32 buffer__szk) __ksym;
extern void *bpf_dynptr_slice_rdwr(const struct bpf_dynptr *ptr, u32 offset, void *buffer,
                                   u32 buffer__szk) __ksym;

/* fusebpf lookup backing redirect (the kernel takes an fd here, which a filter cannot have):
 * in a lookup postfilter, makes the child the object at `path` (`len` bytes, cut at the first
 * NUL) below the mount's filter root (`--filter OBJ.o,root=DIR`), resolved with
 * RESOLVE_IN_ROOT so it cannot leave the root; the child's ops then go to that object, and it
 * also answers a name the backing directory lacks. Writes entry slot 0 (FUSE_ENTRY_BACKING,
 * unused2 = len, fd = offset of the path) and clears slot 1; add a FUSE_ENTRY_BPF entry in
 * slot 1 afterwards if wanted. `len` must be a constant or proven <= the size of `path`.
 * Returns 0, or -EINVAL when the entries buffer cannot hold it. */
#define FUSE_BPF_ENTRY_PATH_OFFSET 48
static __always_inline int fuse_bpf_redirect(struct fuse_buffer *entries, const void *path,
                                             u32 len) {
  struct fuse_bpf_entry_out e[2] = {};
  struct bpf_dynptr d;
  e[0].entry_type = FUSE_ENTRY_BACKING;
  e[0].unused2 = len;
  e[0].fd = FUSE_BPF_ENTRY_PATH_OFFSET;
  bpf_fuse_get_rw_dynptr(entries, &d, FUSE_BPF_ENTRY_PATH_OFFSET + len, false);
  if (bpf_dynptr_write(&d, 0, e, sizeof(e), 0) != 0) return -EINVAL;
  if (bpf_dynptr_write(&d, FUSE_BPF_ENTRY_PATH_OFFSET, (void *)path, len, 0) != 0) return -EINVAL;
  return 0;
}

/* The selftests' spelling: `u32 BPF_STRUCT_OPS(name, args...) { ... }` defines the program
 * `name` in section "struct_ops/name". */
#define BPF_STRUCT_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)

/* The plain opcode of meta->opcode, and the stage bits. */
#define FUSE_OP(meta) ((meta)->opcode & FUSE_OPCODE_FILTER)
#define FUSE_IS_PREFILTER(meta) (((meta)->opcode & FUSE_PREFILTER) != 0)
#define FUSE_IS_POSTFILTER(meta) (((meta)->opcode & FUSE_POSTFILTER) != 0)

#endif /* FUSEBPF_FUSE_BPF_H */
