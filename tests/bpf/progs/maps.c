// One BTF-defined map of each supported type, used through the map helpers.
#include "progs.h"

struct lpm_key {
  __u32 prefixlen;
  char path[32];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 64);
} counts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u64);
  __uint(max_entries, 4);
} slots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(key_size, 8);
  __uint(value_size, 16);
  __uint(max_entries, 128);
} recent SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __type(key, struct lpm_key);
  __type(value, __u32);
  __uint(max_entries, 16);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} rules SEC(".maps");

// ctx: u32 key. Increments counts[key], stores it in slots[key & 3]; returns the new count.
SEC("socket")
int count(__u32 *ctx) {
  __u32 key = ctx[0];
  __u64 one = 1, value = 1, *v = bpf_map_lookup_elem(&counts, &key);
  if (v) {
    __sync_fetch_and_add(v, 1);
    value = *v;
  } else {
    bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
  }
  __u32 slot = key & 3;
  bpf_map_update_elem(&slots, &slot, &value, BPF_ANY);
  return value;
}

// ctx: struct lpm_key. Returns the matching rule's value, or 0.
SEC("socket")
int match_rule(struct lpm_key *ctx) {
  struct lpm_key k = *ctx;
  __u32 *v = bpf_map_lookup_elem(&rules, &k);
  __u64 stamp[2] = {k.prefixlen, 0};
  bpf_map_update_elem(&recent, &stamp[0], stamp, BPF_ANY);
  return v ? *v : 0;
}

char LICENSE[] SEC("license") = "GPL";
