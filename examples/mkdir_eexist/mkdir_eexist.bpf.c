// mkdir_eexist: mkdir answers EPERM instead of EEXIST when the lower fs already has the name,
// so a caller cannot use mkdir to learn that a name it cannot see exists. The postfilter sees
// the lower fs's result in meta->error_in (a negative errno) and replaces it.
//   fusebpf mount BACKING MNT --filter build/examples/mkdir_eexist.bpf.o
//   fusebpf map MNT set hidden $(printf private | xxd -p) 01
// Why it needs hidden names: the kernel sends MKDIR only after its own LOOKUP of the name
// said ENOENT (it answers EEXIST by itself otherwise, and never trusts a cached negative
// entry for mkdir). So the lower fs's EEXIST reaches this filter for names a lookup filter
// hides, and in a race with another creator. Here the lookup prefilter hides the names in
// the `hidden` map (key: the name, first 31 bytes zero-padded to 32; an empty map hides
// nothing); hide_dirs also removes such names from listings, per_uid decides per caller.
// Every other op and every other mkdir error is unchanged.
#include "../common/names.bpf.h"
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, struct name_key);
  __type(value, u8);
} hidden SEC(".maps");

u32 BPF_STRUCT_OPS(lookup_prefilter, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  struct name_key key = {};
  if (name_key_of(name, &key) && bpf_map_lookup_elem(&hidden, &key)) return -ENOENT;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(mkdir_prefilter, const struct bpf_fuse_meta_info* meta, struct fuse_mkdir_in* in,
                   struct fuse_buffer* name) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(mkdir_postfilter, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_mkdir_in* in, const struct fuse_buffer* name) {
  if ((s32)meta->error_in == -EEXIST) return -EPERM;
  return BPF_FUSE_CONTINUE;  // success or another error: as the lower fs said
}

SEC(".struct_ops")
struct fuse_ops mkdir_eexist = {
    .lookup_prefilter = (void*)lookup_prefilter,
    .mkdir_prefilter = (void*)mkdir_prefilter,
    .mkdir_postfilter = (void*)mkdir_postfilter,
    .name = "mkdir_eexist",
};
