// Bounds a read with end_offset, packet style: end_offset is a plain number to fusebpf's
// verifier (the slots are always 256 bytes), so the comparison is refused; use `size`.
#include "android_fuse.h"

char LICENSE[] SEC("license") = "GPL";

DEFINE_BPF_PROG("fuse/bad_end", AID_ROOT, AID_ROOT, bad_end)(struct fuse_bpf_args* fa) {
  const char* name = fa->in_args[0].value;
  if (name + 2 > (const char*)fa->in_args[0].end_offset) return -EINVAL;
  return name[1] == 0 ? -ENOENT : FUSE_BPF_BACKING;
}
