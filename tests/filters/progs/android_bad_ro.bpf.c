// Writes through in_args[0].value, which is read-only: refused at load.
#include "android_fuse.h"

char LICENSE[] SEC("license") = "GPL";

DEFINE_BPF_PROG("fuse/bad_ro", AID_ROOT, AID_ROOT, bad_ro)(struct fuse_bpf_args* fa) {
  char* in = (char*)fa->in_args[0].value;
  in[0] = 'x';
  return FUSE_BPF_BACKING;
}
