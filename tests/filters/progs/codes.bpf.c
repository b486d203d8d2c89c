// Return codes, with the C++ filter of coverage_filter.cc. The lookup prefilter picks the
// code by the name's prefix:
//   "deny"  -> -EPERM                    "user"  -> BPF_FUSE_USER (backing op, C++ postfilter)
//   "upre"  -> BPF_FUSE_USER_PREFILTER   "upst"  -> BPF_FUSE_USER_POSTFILTER
//   "post"  -> BPF_FUSE_POSTFILTER, whose BPF postfilter hands on with USER_POSTFILTER
//   "dflt"  -> BPF_FUSE_CALL_DEFAULT (default_filter fails lookups with ENOTTY)
//   other   -> BPF_FUSE_CONTINUE
// The BPF lookup postfilter fails every other name with EPROTO: it must not run for them.
// statfs: BPF_FUSE_USER (the C++ postfilter answers). unlink: "user*" -> BPF_FUSE_USER.
// mkdir has no hook: default_filter fails it with EROFS; every other hookless op continues.
// Table "nodefault" has no default_filter: its CALL_DEFAULT behaves as CONTINUE.
#include "names.h"

#define ENOTTY 25
#define EPROTO 71

char LICENSE[] SEC("license") = "GPL";

u32 BPF_STRUCT_OPS(codes_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  if (PREFIX_IS(name, "deny")) return -EPERM;
  if (PREFIX_IS(name, "user")) return BPF_FUSE_USER;
  if (PREFIX_IS(name, "upre")) return BPF_FUSE_USER_PREFILTER;
  if (PREFIX_IS(name, "upst")) return BPF_FUSE_USER_POSTFILTER;
  if (PREFIX_IS(name, "post")) return BPF_FUSE_POSTFILTER;
  if (PREFIX_IS(name, "dflt")) return BPF_FUSE_CALL_DEFAULT;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(codes_lookup_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, struct fuse_entry_out* out,
                   struct fuse_buffer* entries) {
  if (PREFIX_IS(name, "post")) return BPF_FUSE_USER_POSTFILTER;
  return -EPROTO;
}

u32 BPF_STRUCT_OPS(codes_statfs_pre, const struct bpf_fuse_meta_info* meta) {
  return BPF_FUSE_USER;
}

u32 BPF_STRUCT_OPS(codes_unlink_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return PREFIX_IS(name, "user") ? BPF_FUSE_USER : BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(codes_default, const struct bpf_fuse_meta_info* meta) {
  if (meta->opcode == (FUSE_LOOKUP | FUSE_PREFILTER)) return -ENOTTY;
  if (FUSE_OP(meta) == FUSE_MKDIR) return -EROFS;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(nodefault_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return BPF_FUSE_CALL_DEFAULT;
}

SEC(".struct_ops")
struct fuse_ops codes = {
    .default_filter = (void*)codes_default,
    .lookup_prefilter = (void*)codes_lookup_pre,
    .lookup_postfilter = (void*)codes_lookup_post,
    .statfs_prefilter = (void*)codes_statfs_pre,
    .unlink_prefilter = (void*)codes_unlink_pre,
    .name = "codes",
};

SEC(".struct_ops")
struct fuse_ops nodefault = {
    .lookup_prefilter = (void*)nodefault_lookup_pre,
    .name = "nodefault",
};
