// hide_dirs: hide names from lookup and readdir, Android style. The names are the keys of the
// `hidden` hash map (the name's first 31 bytes, zero-padded to 32), so they can be changed at
// run time:  fusebpf map MNT set hidden $(printf secret | xxd -p) 01
// Trade-off: mkdir of a hidden name gets EEXIST from the lower fs (mkdir_eexist answers EPERM).
#include "../common/names.bpf.h"
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 256);
  __type(key, struct name_key);
  __type(value, u8);
} hidden SEC(".maps");

// Initial contents: a name set at build time with -DHIDE=\"...\" (default ".hidden").
#ifndef HIDE
#define HIDE ".hidden"
#endif
const volatile char default_hidden[32] = HIDE;

// Names longer than 31 bytes are keyed by their first 31 bytes.
static __always_inline bool is_hidden(struct bpf_dynptr* d, u32 off, u64 len) {
  struct name_key key = {};
  if (!name_key_at(d, off, len > 31 ? 31 : len, &key)) return false;
  if (bpf_map_lookup_elem(&hidden, &key)) return true;
  for (int i = 0; i < 32; i++) {
    if (key.name[i] != default_hidden[i]) return false;
    if (key.name[i] == 0) return true;
  }
  return false;
}

static __always_inline bool keep_dirent(void* ctx, struct bpf_dynptr* d, u64 off, u64 namelen) {
  return !is_hidden(d, off, namelen);
}

#include "../common/dirents.bpf.h"

u32 BPF_STRUCT_OPS(lookup_prefilter, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  struct bpf_dynptr d;
  u64 size = bpf_fuse_return_len(name);
  bpf_fuse_get_ro_dynptr(name, &d);
  if (size > 0 && is_hidden(&d, 0, size - 1)) return -ENOENT;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(readdir_prefilter, const struct bpf_fuse_meta_info* meta,
                   struct fuse_read_in* in) {
  return BPF_FUSE_POSTFILTER;
}

// Removes hidden records from the packed fuse_dirent buffer, compacting it in place.
u32 BPF_STRUCT_OPS(readdir_postfilter, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_read_in* in, struct fuse_read_out* out,
                   struct fuse_buffer* buf) {
  return compact_dirents(buf, NULL);
}

SEC(".struct_ops")
struct fuse_ops hide_dirs = {
    .lookup_prefilter = (void*)lookup_prefilter,
    .readdir_prefilter = (void*)readdir_prefilter,
    .readdir_postfilter = (void*)readdir_postfilter,
    .name = "hide_dirs",
};
