// Reads fuse_buffer fields directly: the verifier must refuse it at mount.
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

u32 BPF_STRUCT_OPS(lookup_pre, const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name) {
  return name->size > 3 ? -ENOENT : BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops bad_access = {.lookup_prefilter = (void *)lookup_pre, .name = "bad_access"};
