// Android single-program form (SEC("fuse/flow")): one program for every hook. Lookup cases
// by name:
//   "hidden"   -> prefilter -ENOENT (hidden everywhere this program filters)
//   "alias"    -> prefilter renames the looked-up name to "target" (an input edit)
//   "user*"    -> USER_FILTER | BACKING: the C++ prefilter runs, then the backing op
//   "daemon"   -> 0: not handled by BPF (the C++ filter's op when one is loaded)
//   "free"     -> postfilter bpf_action = REMOVE: the child and its subtree are unfiltered
//   "swap"     -> postfilter bpf_action = REPLACE: EOPNOTSUPP (raw program fds)
//   "gone"     -> postfilter backing_action = REMOVE: ENOENT
//   "upost"    -> postfilter returns USER_FILTER: the C++ postfilter runs
//   "ghost*"   -> postfilter: a backing ENOENT (error_in) becomes EACCES
//   others     -> BACKING | POST_FILTER
// Postfilters of lookup and getattr report regular files of size 7 with mode 0444 (an
// output edit). ACCESS checks that bytes past a small struct read as zero (padding).
#include "android_fuse.h"

char LICENSE[] SEC("license") = "GPL";

// s starts with the n (<= 8) bytes of want (n counts a NUL for a whole-name match).
static __always_inline bool is(const char* s, const char* want, int n) {
  for (int i = 0; i < 8; i++) {
    if (i == n) break;
    if (s[i] != want[i]) return false;
  }
  return true;
}

static __always_inline int lookup_pre(struct fuse_bpf_args* fa) {
  const char* name = fa->in_args[0].value;
  if (fa->in_numargs != 1 || fa->out_numargs != 2 || fa->out_args[0].size != fa->in_args[0].size ||
      fa->out_args[1].size != sizeof(struct fuse_entry_bpf_out))
    return -EIO;
  if (is(name, "hidden", 7)) return -ENOENT;
  if (is(name, "alias", 6)) {
    char* out = fa->out_args[0].value;
    __builtin_memcpy(out, "target", 7);
    return FUSE_BPF_BACKING;
  }
  if (is(name, "user", 4)) return FUSE_BPF_USER_FILTER | FUSE_BPF_BACKING;
  if (is(name, "daemon", 7)) return 0;
  return FUSE_BPF_BACKING | FUSE_BPF_POST_FILTER;
}

static __always_inline void mode_0444_if_7(struct fuse_attr* a) {
  if ((a->mode & 0170000) == 0100000 && a->size == 7) a->mode = (a->mode & ~07777) | 0444;
}

static __always_inline int lookup_post(struct fuse_bpf_args* fa) {
  const char* name = fa->in_args[0].value;
  struct fuse_entry_out* entry = fa->out_args[0].value;
  struct fuse_entry_bpf_out* feb = fa->out_args[1].value;
  if (fa->in_numargs != 3 || fa->out_numargs != 2 || fa->out_args[1].size != sizeof(*feb))
    return -EIO;
  if (fa->error_in == (u32)-ENOENT && is(name, "ghost", 5)) return -EACCES;
  if (is(name, "free", 5)) feb->bpf_action = FUSE_ACTION_REMOVE;
  if (is(name, "swap", 5)) feb->bpf_action = FUSE_ACTION_REPLACE;
  if (is(name, "gone", 5)) feb->backing_action = FUSE_ACTION_REMOVE;
  mode_0444_if_7(&entry->attr);
  return is(name, "upost", 6) ? FUSE_BPF_USER_FILTER : 0;
}

DEFINE_BPF_PROG("fuse/flow", AID_ROOT, AID_MEDIA_RW, flow)(struct fuse_bpf_args* fa) {
  switch (fa->opcode) {
    case FUSE_LOOKUP | FUSE_PREFILTER:
      return lookup_pre(fa);
    case FUSE_LOOKUP | FUSE_POSTFILTER:
      return lookup_post(fa);
    case FUSE_GETATTR | FUSE_PREFILTER:
      return FUSE_BPF_BACKING | FUSE_BPF_POST_FILTER;
    case FUSE_GETATTR | FUSE_POSTFILTER:
      mode_0444_if_7(&((struct fuse_attr_out*)fa->out_args[0].value)->attr);
      return 0;
    case FUSE_ACCESS | FUSE_PREFILTER: {
      const u8* in = fa->in_args[0].value;
      return in[FUSE_BPF_ARG_BYTES - 1] == 0 && fa->in_args[0].size == 8 ? FUSE_BPF_BACKING
                                                                         : -EINVAL;
    }
    default:
      return FUSE_BPF_BACKING;
  }
}
