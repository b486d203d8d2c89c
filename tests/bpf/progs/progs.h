// Shared declarations for the test programs (compiled with clang -target bpf).
#pragma once

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// A minimal stand-in for the FUSE-BPF struct_ops type; the filter layer ships the real header.
struct fuse_buffer;
struct bpf_fuse_meta_info {
  __u64 nodeid;
  __u32 opcode;
  __u32 error_in;
  __u32 error_out;
};
struct fuse_ops {
  __u32 (*default_filter)(const struct bpf_fuse_meta_info *meta);
  __u32 (*open_prefilter)(const struct bpf_fuse_meta_info *meta, void *in);
  __u32 (*lookup_prefilter)(const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name);
  char name[16];
};
