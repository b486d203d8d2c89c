// hide_dirs: hide names from lookup and readdir, Android style. The names are the keys of the
// `hidden` hash map (the name's first 31 bytes, zero-padded to 32), so they can be changed at
// run time:  fusebpf map MNT set hidden $(printf secret | xxd -p) 01
// Trade-off: a hidden name can still be created (mkdir gets EEXIST from the lower fs).
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct name_key {
  char name[32];
};

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

// len is 64-bit on purpose: a u32 clamp leaves the register's upper half unproven.
static __always_inline bool is_hidden(struct bpf_dynptr *d, u32 off, u64 len) {
  struct name_key key = {};
  if (len > 31) len = 31;
  asm volatile("%[l] &= 31" : [l] "+r"(len));  // no-op; keeps clang from hiding the bound
  if (len == 0 || bpf_dynptr_read(key.name, len, d, off, 0) != 0) return false;
  if (bpf_map_lookup_elem(&hidden, &key)) return true;
  for (int i = 0; i < 32; i++) {
    if (key.name[i] != default_hidden[i]) return false;
    if (key.name[i] == 0) return true;
  }
  return false;
}

u32 BPF_STRUCT_OPS(lookup_prefilter, const struct bpf_fuse_meta_info *meta, struct fuse_buffer *name) {
  struct bpf_dynptr d;
  u64 size = bpf_fuse_return_len(name);
  bpf_fuse_get_ro_dynptr(name, &d);
  if (size > 0 && is_hidden(&d, 0, size - 1)) return -ENOENT;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(readdir_prefilter, const struct bpf_fuse_meta_info *meta, struct fuse_read_in *in) {
  return BPF_FUSE_POSTFILTER;
}

// Removes hidden records from the packed fuse_dirent buffer, compacting it in place.
u32 BPF_STRUCT_OPS(readdir_postfilter, const struct bpf_fuse_meta_info *meta,
               const struct fuse_read_in *in, struct fuse_read_out *out, struct fuse_buffer *buf) {
  struct bpf_dynptr d, shrink;
  char tmp[288] = {};  // initialised: the verifier cannot see bpf_dynptr_read fill it
  u64 size = bpf_fuse_return_len(buf);
  u64 rd = 0, wr = 0;
  if (size > 65536) return -EINVAL;
  bpf_fuse_get_rw_dynptr(buf, &d, size, true);
  for (int i = 0; i < 1024; i++) {
    struct fuse_dirent *de = bpf_dynptr_slice(&d, rd, NULL, sizeof(*de));
    if (!de) break;
    u64 namelen = de->namelen;
    if (namelen == 0 || namelen > 255) break;
    u64 rec = (sizeof(*de) + namelen + 7) & ~7ull;
    if (rec > sizeof(tmp)) break;
    if (!is_hidden(&d, rd + sizeof(*de), namelen)) {
      if (wr != rd) {
        if (bpf_dynptr_read(tmp, rec, &d, rd, 0) != 0) break;
        bpf_dynptr_write(&d, wr, tmp, rec, 0);
      }
      wr += rec;
    }
    rd += rec;
  }
  if (wr != rd) bpf_fuse_get_rw_dynptr(buf, &shrink, wr, true);
  return BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops hide_dirs = {
    .lookup_prefilter = (void *)lookup_prefilter,
    .readdir_prefilter = (void *)readdir_prefilter,
    .readdir_postfilter = (void *)readdir_postfilter,
    .name = "hide_dirs",
};
