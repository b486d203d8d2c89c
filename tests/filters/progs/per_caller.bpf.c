// A decision per caller: "staff" is visible only to root. The lookup prefilter asks for the
// caller's uid, so the daemon must not let the kernel cache its answers (caching rule).
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

u32 BPF_STRUCT_OPS(lookup_pre, const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name) {
  struct bpf_dynptr d;
  char *s;
  bpf_fuse_get_ro_dynptr(name, &d);
  s = bpf_dynptr_slice(&d, 0, NULL, 6);
  if (!s) return BPF_FUSE_CONTINUE;
  bool staff = s[0] == 's' && s[1] == 't' && s[2] == 'a' && s[3] == 'f' && s[4] == 'f' && !s[5];
  if (staff && (u32)bpf_get_current_uid_gid() != 0) return -ENOENT;
  return BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops per_caller = {
    .lookup_prefilter = (void *)lookup_pre,
    .name = "per_caller",
};
