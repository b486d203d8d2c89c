// append_char: every name in the mount is the backing name plus one character (SUFFIX,
// default '_'): "file" shows up as "file_". Only lookup and readdir are rewritten (as the
// issue asks): lookup strips the suffix (a name without it is ENOENT), readdir appends it.
// Creating, renaming or removing through the mount uses the name as typed (not stripped).
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef SUFFIX
#define SUFFIX '_'
#endif

// "name_" -> "name": the buffer (MUST_ALLOCATE) is copied and shortened by one byte.
u32 BPF_STRUCT_OPS(lookup_prefilter, const struct bpf_fuse_meta_info *meta,
                   struct fuse_buffer *name) {
  struct bpf_dynptr ro, rw;
  char last = 0, nul = 0;
  u64 size = bpf_fuse_return_len(name);  // counts the NUL
  if (size < 3 || size > 256) return -ENOENT;
  bpf_fuse_get_ro_dynptr(name, &ro);
  if (bpf_dynptr_read(&last, 1, &ro, size - 2, 0) != 0 || last != SUFFIX) return -ENOENT;
  bpf_fuse_get_rw_dynptr(name, &rw, size - 1, true);
  if (bpf_dynptr_write(&rw, size - 2, &nul, 1, 0) != 0) return -EIO;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(readdir_prefilter, const struct bpf_fuse_meta_info *meta,
                   struct fuse_read_in *in) {
  return BPF_FUSE_POSTFILTER;
}

#define MAX_RECORDS 32  // the stack holds 512 bytes

// idx & (MAX_RECORDS - 1), done in asm so that clang keeps it: the verifier then knows a
// stack array index is in range (an unbounded one may hit any slot, dynptrs included).
static __always_inline u64 slot_index(u64 idx) {
  asm volatile("%[i] &= %[m]" : [i] "+r"(idx) : [m] "i"(MAX_RECORDS - 1));
  return idx;
}

static __always_inline bool is_dots(const char *name, u64 namelen) {
  return (namelen == 1 && name[0] == '.') || (namelen == 2 && name[0] == '.' && name[1] == '.');
}

// Appends SUFFIX to each record's name except "." and "..". Records only grow, so they are
// moved last to first. Records that no longer fit (or beyond MAX_RECORDS) are dropped from
// this reply; the kernel asks for them again from the last record's offset.
u32 BPF_STRUCT_OPS(readdir_postfilter, const struct bpf_fuse_meta_info *meta,
                   const struct fuse_read_in *in, struct fuse_read_out *out,
                   struct fuse_buffer *buf) {
  struct bpf_dynptr ro, d;
  u16 old_off[MAX_RECORDS] = {}, new_off[MAX_RECORDS] = {};
  char tmp[288] = {};
  u64 size = bpf_fuse_return_len(buf), max = in->size;
  u64 rd = 0, wr = 0, n = 0;
  if (size > 65536 || max > 65536) return -EINVAL;
  bpf_fuse_get_ro_dynptr(buf, &ro);
  for (int i = 0; i < MAX_RECORDS; i++) {
    struct fuse_dirent *de = bpf_dynptr_slice(&ro, rd, NULL, sizeof(*de));
    if (!de) break;
    u64 namelen = de->namelen;
    if (namelen == 0 || namelen > 254) break;
    char nm[2] = {};
    if (bpf_dynptr_read(nm, namelen > 1 ? 2 : 1, &ro, rd + sizeof(*de), 0) != 0) break;
    u64 rec = (sizeof(*de) + namelen + 7) & ~7ull;
    u64 grown = is_dots(nm, namelen) ? rec : (sizeof(*de) + namelen + 8) & ~7ull;
    if (wr + grown > max) break;
    old_off[slot_index(i)] = rd;
    new_off[slot_index(i)] = wr;
    rd += rec;
    wr += grown;
    n++;
  }
  if (n == 0) return BPF_FUSE_CONTINUE;
  bpf_fuse_get_rw_dynptr(buf, &d, wr, true);
  for (int k = 0; k < MAX_RECORDS; k++) {
    u64 j = MAX_RECORDS - 1 - k;
    if (j >= n) continue;
    u64 from = old_off[slot_index(j)], to = new_off[slot_index(j)];
    struct fuse_dirent *de = (struct fuse_dirent *)tmp;
    if (bpf_dynptr_read(tmp, sizeof(*de), &d, from, 0) != 0) return -EIO;
    u64 namelen = de->namelen & 255;
    if (namelen == 0 || namelen > 254) return -EIO;
    u64 rec = (sizeof(*de) + namelen + 7) & 504;  // & ~7, bounded by 280
    if (bpf_dynptr_read(tmp, rec, &d, from, 0) != 0) return -EIO;
    if (!is_dots(tmp + sizeof(*de), namelen)) {
      u64 at = sizeof(*de) + namelen;  // <= 278
      if (at < sizeof(tmp)) tmp[at] = SUFFIX;
      // Padding after the name may hold bytes of another record: nobody reads it.
      de->namelen = namelen + 1;
      rec = (at + 8) & 504;
    }
    if (bpf_dynptr_write(&d, to, tmp, rec, 0) != 0) return -EIO;
  }
  return BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops append_char = {
    .lookup_prefilter = (void *)lookup_prefilter,
    .readdir_prefilter = (void *)readdir_prefilter,
    .readdir_postfilter = (void *)readdir_postfilter,
    .name = "append_char",
};
