// Flow cases for the filter chain tests, chosen by name prefix of the looked-up entry:
//   "deny*"     -> lookup prefilter fails with EPERM
//   "user*"     -> BPF_FUSE_USER_POSTFILTER (C++ postfilter, if any)
//   anything    -> POSTFILTER; the postfilter turns a missing "ghost" into EACCES
// unlink postfilter: EACCES from the backing fs becomes EROFS (error rewriting). getattr postfilter: reported mode gets 0444 for
// regular files whose size is 7 (a visible attribute edit).
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline bool starts(struct fuse_buffer *b, const char *p, int n) {
  struct bpf_dynptr d;
  char *s;
  bpf_fuse_get_ro_dynptr(b, &d);
  s = bpf_dynptr_slice(&d, 0, NULL, 4);
  if (!s) return false;
  for (int i = 0; i < 4 && i < n; i++)
    if (s[i] != p[i]) return false;
  return true;
}

u32 BPF_STRUCT_OPS(lookup_pre, const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name) {
  if (starts(name, "deny", 4)) return -EPERM;
  if (starts(name, "user", 4)) return BPF_FUSE_USER_POSTFILTER;
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(lookup_post, const struct bpf_fuse_meta_info *meta,
                   const struct fuse_buffer *name, struct fuse_entry_out *out,
                   struct fuse_buffer *entries) {
  if (meta->error_in == (u32)-ENOENT && starts((struct fuse_buffer *)name, "ghos", 4))
    return -EACCES;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(unlink_pre, const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(unlink_post, const struct bpf_fuse_meta_info *meta,
                   const struct fuse_buffer *name) {
  if (meta->error_in == (u32)-EACCES) return -EROFS;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(getattr_pre, const struct bpf_fuse_meta_info *meta,
                   struct fuse_getattr_in *in) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(getattr_post, const struct bpf_fuse_meta_info *meta,
                   const struct fuse_getattr_in *in, struct fuse_attr_out *out) {
  if ((out->attr.mode & 0170000) == 0100000 && out->attr.size == 7)
    out->attr.mode = (out->attr.mode & ~07777) | 0444;
  return BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops flow = {
    .lookup_prefilter = (void *)lookup_pre,
    .lookup_postfilter = (void *)lookup_post,
    .unlink_prefilter = (void *)unlink_pre,
    .unlink_postfilter = (void *)unlink_post,
    .getattr_prefilter = (void *)getattr_pre,
    .getattr_postfilter = (void *)getattr_post,
    .name = "flow",
};
