/* android_fuse.h: the Android common kernel's single-program FUSE-BPF form, for fusebpf.
 *
 *   #include "android_fuse.h"          (clang -O2 -g -target bpf -I include/fusebpf)
 *
 *   DEFINE_BPF_PROG("fuse/media", AID_ROOT, AID_MEDIA_RW, fuse_media)
 *   (struct fuse_bpf_args *fa) {
 *     switch (fa->opcode) {
 *       case FUSE_LOOKUP | FUSE_PREFILTER:  ... return FUSE_BPF_BACKING | FUSE_BPF_POST_FILTER;
 *       case FUSE_LOOKUP | FUSE_POSTFILTER: ... return 0;
 *       default: return FUSE_BPF_BACKING;
 *     }
 *   }
 *
 * One program (section "fuse/<name>", loaded as the filter table <name>) sees every filtered
 * operation through struct fuse_bpf_args (declared with the other kernel types in vmlinux.h):
 * opcode = FUSE_<OP> | FUSE_PREFILTER or | FUSE_POSTFILTER, in_args/out_args = the operation's
 * arguments. It returns a bitmask of FUSE_BPF_USER_FILTER / FUSE_BPF_BACKING /
 * FUSE_BPF_POST_FILTER, or a negative errno. The mapping onto fusebpf's filter flow, the
 * argument layout of each operation and the exceptions are in src/filter/README.md,
 * "Android single-program form".
 *
 * Memory safety: every in_args[i].value / out_args[i].value points at FUSE_BPF_ARG_BYTES
 * (256) readable (in) or writable (out) bytes, whatever the real size; the verifier refuses
 * any access beyond them at load time. `size` is the real length (names count their NUL);
 * bytes past it read as zero and writes past it are dropped. end_offset is value + size, a
 * plain number for the verifier: compare offsets against `size` instead. */
#ifndef FUSEBPF_ANDROID_FUSE_H
#define FUSEBPF_ANDROID_FUSE_H

/* vmlinux.h (types, incl. struct fuse_bpf_args and struct fuse_entry_bpf_out), libbpf's
 * helper declarations (bpf_trace_printk, bpf_printk, bpf_get_current_uid_gid,
 * bpf_get_current_pid_tgid, bpf_map_lookup_elem, bpf_map_update_elem) and errno values. */
#include "fuse_bpf.h"

/* Bytes every argument value pointer is backed with (the size the verifier grants). */
#define FUSE_BPF_ARG_BYTES 256

/* Android's bpf_helpers.h spelling: DEFINE_BPF_PROG("fuse/name", uid, gid, func)(args) {...}.
 * uid/gid are the owner of the pinned program on Android; fusebpf ignores them. */
#define DEFINE_BPF_PROG(section, prog_uid, prog_gid, the_prog) SEC(section) int the_prog

/* Android ids used by DEFINE_BPF_PROG lines (ignored here). */
#ifndef AID_ROOT
#define AID_ROOT 0
#define AID_SYSTEM 1000
#define AID_MEDIA_RW 1023
#endif

/* Android's typed maps: DEFINE_BPF_MAP(name, HASH, u32, u64, 16) declares the map `name` and
 * bpf_name_lookup_elem(&k), bpf_name_update_elem(&k, &v, flags), bpf_name_delete_elem(&k). */
#define DEFINE_BPF_MAP(the_map, TYPE, KeyType, ValueType, num_entries)                          \
  struct {                                                                                      \
    __uint(type, BPF_MAP_TYPE_##TYPE);                                                          \
    __uint(max_entries, num_entries);                                                           \
    __type(key, KeyType);                                                                       \
    __type(value, ValueType);                                                                   \
  } the_map SEC(".maps");                                                                       \
  static __always_inline ValueType* bpf_##the_map##_lookup_elem(const KeyType* k) {             \
    return bpf_map_lookup_elem(&the_map, k);                                                    \
  }                                                                                             \
  static __always_inline long bpf_##the_map##_update_elem(const KeyType* k, const ValueType* v, \
                                                          u64 flags) {                          \
    return bpf_map_update_elem(&the_map, k, v, flags);                                          \
  }                                                                                             \
  static __always_inline long bpf_##the_map##_delete_elem(const KeyType* k) {                   \
    return bpf_map_delete_elem(&the_map, k);                                                    \
  }

/* The plain opcode and the stage of fa->opcode. */
#define FUSE_BPF_OPCODE(fa) ((fa)->opcode & FUSE_OPCODE_FILTER)
#define FUSE_BPF_IS_PREFILTER(fa) (((fa)->opcode & FUSE_PREFILTER) != 0)
#define FUSE_BPF_IS_POSTFILTER(fa) (((fa)->opcode & FUSE_POSTFILTER) != 0)

#endif /* FUSEBPF_ANDROID_FUSE_H */
