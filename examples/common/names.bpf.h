// Names as fixed-size map keys, for the example BPF filters that decide by name (hide_dirs,
// mkdir_eexist, per_uid):  #include "../common/names.bpf.h"
#ifndef FUSEBPF_EXAMPLES_NAMES_BPF_H
#define FUSEBPF_EXAMPLES_NAMES_BPF_H

#include "fuse_bpf.h"

// A name as a map key: its first 31 bytes, zero-padded to 32.
struct name_key {
  char name[32];
};

// The name at d[off, off + len) as a key; false when it is empty or longer than 31 bytes.
// len is 64-bit on purpose: a u32 clamp leaves the register's upper half unproven.
static __always_inline bool name_key_at(struct bpf_dynptr* d, u64 off, u64 len,
                                        struct name_key* key) {
  if (len == 0 || len > 31) return false;
  asm volatile("%[l] &= 31" : [l] "+r"(len));  // keeps the bound visible to the verifier
  return len != 0 && bpf_dynptr_read(key->name, len, d, off, 0) == 0;
}

// The key of a name buffer (its size counts the trailing NUL).
static __always_inline bool name_key_of(const struct fuse_buffer* name, struct name_key* key) {
  struct bpf_dynptr d;
  u64 size = bpf_fuse_return_len((struct fuse_buffer*)name);
  bpf_fuse_get_ro_dynptr(name, &d);
  return size > 0 && name_key_at(&d, 0, size - 1, key);
}

#endif  // FUSEBPF_EXAMPLES_NAMES_BPF_H
