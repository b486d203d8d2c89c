// redact: replace every "SECRET" in file data with "XXXXXX" as it is read. The read
// postfilter gets the data (a fusebpf extension: a 4th fuse_buffer argument) and edits it in
// place; files of this filter are served by the daemon, not kernel passthrough.
// Trade-offs: an occurrence split across two reads is not seen; each read is scanned up to
// its first 64 KiB (the instruction budget of one run); mmap reads are filtered the same way.
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

u32 BPF_STRUCT_OPS(read_pre, const struct bpf_fuse_meta_info *meta, struct fuse_read_in *in) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(read_post, const struct bpf_fuse_meta_info *meta,
                   const struct fuse_read_in *in, struct fuse_read_iter_out *out,
                   struct fuse_buffer *data) {
  struct bpf_dynptr d;
  u64 size = bpf_fuse_return_len(data);
  if (size < 6) return BPF_FUSE_CONTINUE;
  bpf_fuse_get_rw_dynptr(data, &d, size, true);
  for (u64 i = 0; i + 6 <= size && i < 65536; i++) {
    char *p = bpf_dynptr_slice_rdwr(&d, i, NULL, 6);
    if (!p) break;
    if (p[0] != 'S' || p[1] != 'E' || p[2] != 'C' || p[3] != 'R' || p[4] != 'E' || p[5] != 'T')
      continue;
    for (int k = 0; k < 6; k++) p[k] = 'X';
    i += 5;
  }
  return BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops redact = {
    .read_iter_prefilter = (void *)read_pre,
    .read_iter_postfilter = (void *)read_post,
    .name = "redact",
};
