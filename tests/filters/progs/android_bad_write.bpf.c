// Writes one byte past the 256 bytes an Android-form out arg grants: refused at load.
#include "android_fuse.h"

char LICENSE[] SEC("license") = "GPL";

DEFINE_BPF_PROG("fuse/bad_write", AID_ROOT, AID_ROOT, bad_write)(struct fuse_bpf_args* fa) {
  char* out = fa->out_args[0].value;
  out[FUSE_BPF_ARG_BYTES] = 0;
  return FUSE_BPF_BACKING;
}
