// A struct_ops table (as FUSE-BPF filters declare one), a kfunc and CO-RE field access.
#include "progs.h"

extern __u32 bpf_fuse_return_len(struct fuse_buffer *buf) __ksym;
extern void *bpf_dynptr_slice(const struct bpf_dynptr *p, __u32 offset, void *buffer,
                              __u32 buffer__szk) __ksym;

// A context struct the host may lay out differently: CO-RE fixes the offsets.
struct fuse_open_in {
  __u32 flags;
  __u32 open_flags;
} __attribute__((preserve_access_index));

SEC("struct_ops/open_prefilter")
__u32 open_prefilter(__u64 *ctx) {
  struct fuse_open_in *in = (void *)ctx[1];
  return in->open_flags + 1;
}

SEC("struct_ops/lookup_prefilter")
__u32 lookup_prefilter(__u64 *ctx) {
  return bpf_fuse_return_len((struct fuse_buffer *)ctx[1]) + 100;
}

SEC("struct_ops/default_filter")
__u32 default_filter(__u64 *ctx) { return 0; }

SEC(".struct_ops")
struct fuse_ops test_ops = {
    .default_filter = (void *)default_filter,
    .open_prefilter = (void *)open_prefilter,
    .lookup_prefilter = (void *)lookup_prefilter,
    .name = "test_ops",
};

// The libbpf >= 1.1 spelling for struct_ops maps attached through a link.
SEC(".struct_ops.link")
struct fuse_ops link_ops = {
    .default_filter = (void *)default_filter,
    .name = "link_ops",
};

char LICENSE[] SEC("license") = "GPL";
