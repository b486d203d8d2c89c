// The pre-BTF map definition style: struct bpf_map_def in section "maps".
#include "progs.h"

struct bpf_map_def {
  unsigned int type;
  unsigned int key_size;
  unsigned int value_size;
  unsigned int max_entries;
  unsigned int map_flags;
};

struct bpf_map_def SEC("maps") old_style = {
    .type = BPF_MAP_TYPE_HASH,
    .key_size = 4,
    .value_size = 8,
    .max_entries = 32,
};

SEC("socket")
int legacy(__u32 *ctx) {
  __u32 k = ctx[0];
  __u64 *v = bpf_map_lookup_elem(&old_style, &k);
  return v ? *v : -1;
}

char LICENSE[] SEC("license") = "GPL";
