// redirect: a content-store view. Names looked up in the mount are redirected to blobs under
// the store root given at mount (`--filter redirect.bpf.o,root=STORE`) by the `objects` map:
// key = the name (first 31 bytes, zero-padded to 32), value = the blob's path relative to the
// store root (zero-padded to 64), e.g.
//   fusebpf map MNT set objects $(printf a.txt | xxd -p) $(printf ab/cdef01 | xxd -p)
// Names not in the map are the backing tree's own. A mapped name need not exist in the
// backing directory (the redirect answers it), but only existing names show up in readdir.
// Paths resolve with RESOLVE_IN_ROOT: "..", absolute paths and symlinks stay in the store.
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct name_key {
  char name[32];
};

struct blob_path {
  char path[64];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct name_key);
  __type(value, struct blob_path);
} objects SEC(".maps");

u32 BPF_STRUCT_OPS(lookup_prefilter, const struct bpf_fuse_meta_info *meta,
                   struct fuse_buffer *name) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(lookup_postfilter, const struct bpf_fuse_meta_info *meta,
                   const struct fuse_buffer *name, struct fuse_entry_out *out,
                   struct fuse_buffer *entries) {
  struct name_key key = {};
  struct bpf_dynptr d;
  u64 len = bpf_fuse_return_len((struct fuse_buffer *)name);
  if (len < 2 || len > 32) return BPF_FUSE_CONTINUE;  // size counts the NUL
  len -= 1;
  asm volatile("%[l] &= 31" : [l] "+r"(len));  // keeps the bound visible to the verifier
  bpf_fuse_get_ro_dynptr(name, &d);
  if (len == 0 || bpf_dynptr_read(key.name, len, &d, 0, 0) != 0) return BPF_FUSE_CONTINUE;
  struct blob_path *p = bpf_map_lookup_elem(&objects, &key);
  if (!p) return BPF_FUSE_CONTINUE;  // not in the store: the backing result stands
  return fuse_bpf_redirect(entries, p->path, sizeof(p->path)) == 0 ? BPF_FUSE_CONTINUE : -EIO;
}

SEC(".struct_ops")
struct fuse_ops redirect = {
    .lookup_prefilter = (void *)lookup_prefilter,
    .lookup_postfilter = (void *)lookup_postfilter,
    .name = "redirect",
};
