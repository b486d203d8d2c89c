// Removing records from a READDIR reply in a readdir postfilter (hide_dirs, per_uid). The
// including file first defines which records stay, then includes this file:
//   static __always_inline bool keep_dirent(void* ctx, struct bpf_dynptr* d, u64 off,
//                                           u64 namelen);   // name = d[off, off + namelen)
//   #include "../common/dirents.bpf.h"
#ifndef FUSEBPF_EXAMPLES_DIRENTS_BPF_H
#define FUSEBPF_EXAMPLES_DIRENTS_BPF_H

#include "fuse_bpf.h"

// Removes the records keep_dirent() rejects from a readdir postfilter's packed fuse_dirent
// buffer, compacting it in place (up to 1024 records, each at most 288 bytes).
static __always_inline u32 compact_dirents(struct fuse_buffer* buf, void* ctx) {
  struct bpf_dynptr d, shrink;
  char tmp[288] = {};  // initialised: the verifier cannot see bpf_dynptr_read fill it
  u64 size = bpf_fuse_return_len(buf);
  u64 rd = 0, wr = 0;
  if (size > 65536) return -EINVAL;
  bpf_fuse_get_rw_dynptr(buf, &d, size, true);
  for (int i = 0; i < 1024; i++) {
    struct fuse_dirent* de = bpf_dynptr_slice(&d, rd, NULL, sizeof(*de));
    if (!de) break;
    u64 namelen = de->namelen;
    if (namelen == 0 || namelen > 255) break;
    u64 rec = (sizeof(*de) + namelen + 7) & ~7ull;
    if (rec > sizeof(tmp)) break;
    if (keep_dirent(ctx, &d, rd + sizeof(*de), namelen)) {
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

#endif  // FUSEBPF_EXAMPLES_DIRENTS_BPF_H
