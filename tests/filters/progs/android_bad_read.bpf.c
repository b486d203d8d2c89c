// Trusts in_args[0].size as a bound (the kernel's 256-byte assumption made this a bypass):
// the index is not proven below 256, so the read is refused at load.
#include "android_fuse.h"

char LICENSE[] SEC("license") = "GPL";

DEFINE_BPF_PROG("fuse/bad_read", AID_ROOT, AID_ROOT, bad_read)(struct fuse_bpf_args* fa) {
  const char* name = fa->in_args[0].value;
  u32 last = fa->in_args[0].size - 1;
  return name[last] == 0 ? FUSE_BPF_BACKING : -EINVAL;
}
