// fuse_buffer rules on a real mount. Each hook returns a distinct errno when a rule is
// broken, so the failing syscall names the rule:
//   EFAULT  an IMMUTABLE buffer was writable (create/mkdir/mknod/unlink/rmdir/rename/symlink
//           names in both stages, and every postfilter input: lookup name, create name)
//   E2BIG   a VARIABLE buffer grew beyond max_size (lookup names: NAME_MAX + 1)
//   ENOMEM  an allowed rw dynptr failed
//   ERANGE  bpf_fuse_return_len disagreed
//   EBADE   old contents were not kept (MUST_ALLOCATE copy, copy=true growth)
// Lookup prefilter rewrites (the backing lookup must get the edited name):
//   "shrink_me_please" -> "shr" (shrinks), "grow" -> "grown_target" (after growing to the
//   maximum), "cow_abc" -> "Cow_abc" (copy-on-first-write of the request's name, copy=false),
//   "keep" -> "keep_it" (grows with copy=true keeping "keep").
#include "names.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline u32 immutable_pre(struct fuse_buffer* name) {
  return writable(name) ? -EFAULT : BPF_FUSE_POSTFILTER;
}
static __always_inline u32 immutable_post(const struct fuse_buffer* name) {
  return writable(name) ? -EFAULT : BPF_FUSE_CONTINUE;
}

static __always_inline u32 shrink(struct fuse_buffer* name) {
  struct bpf_dynptr d;
  char* s;
  if (bpf_fuse_return_len(name) != 17) return -ERANGE;  // "shrink_me_please" + NUL
  bpf_fuse_get_rw_dynptr(name, &d, 4, false);
  s = bpf_dynptr_slice_rdwr(&d, 0, NULL, 4);
  if (!s) return -ENOMEM;
  __builtin_memcpy(s, "shr", 4);
  if (bpf_fuse_return_len(name) != 4) return -ERANGE;
  return BPF_FUSE_POSTFILTER;
}

static __always_inline u32 grow(struct fuse_buffer* name) {
  struct bpf_dynptr d;
  char* s;
  bpf_fuse_get_rw_dynptr(name, &d, 257, true);  // max_size is NAME_MAX + 1
  if (bpf_dynptr_slice_rdwr(&d, 0, NULL, 1)) return -E2BIG;
  bpf_fuse_get_rw_dynptr(name, &d, 256, true);
  s = bpf_dynptr_slice_rdwr(&d, 0, NULL, 256);
  if (!s) return -ENOMEM;
  if (bpf_fuse_return_len(name) != 256) return -ERANGE;
  if (s[0] != 'g' || s[3] != 'w' || s[4] != 0) return -EBADE;
  bpf_fuse_get_rw_dynptr(name, &d, 13, false);
  s = bpf_dynptr_slice_rdwr(&d, 0, NULL, 13);
  if (!s) return -ENOMEM;
  __builtin_memcpy(s, "grown_target", 13);
  return BPF_FUSE_POSTFILTER;
}

static __always_inline u32 copy_on_write(struct fuse_buffer* name) {
  struct bpf_dynptr d;
  char* s;
  bpf_fuse_get_rw_dynptr(name, &d, 8, false);
  s = bpf_dynptr_slice_rdwr(&d, 0, NULL, 8);
  if (!s) return -ENOMEM;
  if (s[0] != 'c' || s[4] != 'a' || s[6] != 'c' || s[7] != 0) return -EBADE;
  s[0] = 'C';
  return BPF_FUSE_POSTFILTER;
}

static __always_inline u32 keep(struct fuse_buffer* name) {
  struct bpf_dynptr d;
  char* s;
  bpf_fuse_get_rw_dynptr(name, &d, 9, true);
  s = bpf_dynptr_slice_rdwr(&d, 0, NULL, 9);
  if (!s) return -ENOMEM;
  if (s[0] != 'k' || s[3] != 'p' || s[4] != 0) return -EBADE;
  __builtin_memcpy(s + 4, "_it", 3);
  if (bpf_fuse_return_len(name) != 9) return -ERANGE;
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(buf_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  if (NAME_IS(name, "shrink_me_please")) return shrink(name);
  if (NAME_IS(name, "grow")) return grow(name);
  if (NAME_IS(name, "cow_abc")) return copy_on_write(name);
  if (NAME_IS(name, "keep")) return keep(name);
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(buf_lookup_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, struct fuse_entry_out* out,
                   struct fuse_buffer* entries) {
  return immutable_post(name);
}

u32 BPF_STRUCT_OPS(buf_mkdir_pre, const struct bpf_fuse_meta_info* meta, struct fuse_mkdir_in* in,
                   struct fuse_buffer* name) {
  return immutable_pre(name);
}
u32 BPF_STRUCT_OPS(buf_mkdir_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_mkdir_in* in, const struct fuse_buffer* name) {
  return immutable_post(name);
}

u32 BPF_STRUCT_OPS(buf_mknod_pre, const struct bpf_fuse_meta_info* meta, struct fuse_mknod_in* in,
                   struct fuse_buffer* name) {
  return immutable_pre(name);
}
u32 BPF_STRUCT_OPS(buf_mknod_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_mknod_in* in, const struct fuse_buffer* name) {
  return immutable_post(name);
}

u32 BPF_STRUCT_OPS(buf_create_pre, const struct bpf_fuse_meta_info* meta, struct fuse_create_in* in,
                   struct fuse_buffer* name) {
  return immutable_pre(name);
}
u32 BPF_STRUCT_OPS(buf_create_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_create_in* in, const struct fuse_buffer* name,
                   struct fuse_entry_out* entry_out, struct fuse_open_out* out) {
  return immutable_post(name);
}

u32 BPF_STRUCT_OPS(buf_unlink_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return immutable_pre(name);
}
u32 BPF_STRUCT_OPS(buf_unlink_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name) {
  return immutable_post(name);
}

u32 BPF_STRUCT_OPS(buf_rmdir_pre, const struct bpf_fuse_meta_info* meta, struct fuse_buffer* name) {
  return immutable_pre(name);
}
u32 BPF_STRUCT_OPS(buf_rmdir_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name) {
  return immutable_post(name);
}

u32 BPF_STRUCT_OPS(buf_rename_pre, const struct bpf_fuse_meta_info* meta, struct fuse_rename_in* in,
                   struct fuse_buffer* old_name, struct fuse_buffer* new_name) {
  return writable(old_name) ? -EFAULT : immutable_pre(new_name);
}
u32 BPF_STRUCT_OPS(buf_rename_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_rename_in* in, const struct fuse_buffer* old_name,
                   const struct fuse_buffer* new_name) {
  return writable(old_name) ? -EFAULT : immutable_post(new_name);
}

u32 BPF_STRUCT_OPS(buf_rename2_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_rename2_in* in, struct fuse_buffer* old_name,
                   struct fuse_buffer* new_name) {
  return writable(old_name) ? -EFAULT : immutable_pre(new_name);
}
u32 BPF_STRUCT_OPS(buf_rename2_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_rename2_in* in, const struct fuse_buffer* old_name,
                   const struct fuse_buffer* new_name) {
  return writable(old_name) ? -EFAULT : immutable_post(new_name);
}

u32 BPF_STRUCT_OPS(buf_symlink_pre, const struct bpf_fuse_meta_info* meta, struct fuse_buffer* name,
                   struct fuse_buffer* path) {
  return immutable_pre(name);
}
u32 BPF_STRUCT_OPS(buf_symlink_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, const struct fuse_buffer* path) {
  return writable(path) ? -EFAULT : immutable_post(name);
}

SEC(".struct_ops")
struct fuse_ops buffers = {
    .lookup_prefilter = (void*)buf_lookup_pre,
    .lookup_postfilter = (void*)buf_lookup_post,
    .mkdir_prefilter = (void*)buf_mkdir_pre,
    .mkdir_postfilter = (void*)buf_mkdir_post,
    .mknod_prefilter = (void*)buf_mknod_pre,
    .mknod_postfilter = (void*)buf_mknod_post,
    .create_open_prefilter = (void*)buf_create_pre,
    .create_open_postfilter = (void*)buf_create_post,
    .unlink_prefilter = (void*)buf_unlink_pre,
    .unlink_postfilter = (void*)buf_unlink_post,
    .rmdir_prefilter = (void*)buf_rmdir_pre,
    .rmdir_postfilter = (void*)buf_rmdir_post,
    .rename_prefilter = (void*)buf_rename_pre,
    .rename_postfilter = (void*)buf_rename_post,
    .rename2_prefilter = (void*)buf_rename2_pre,
    .rename2_postfilter = (void*)buf_rename2_post,
    .symlink_prefilter = (void*)buf_symlink_pre,
    .symlink_postfilter = (void*)buf_symlink_post,
    .name = "buffers",
};
