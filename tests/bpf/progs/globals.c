// Global data: .rodata (const volatile config + printk format), .data and .bss.
#include "progs.h"

const volatile __u32 multiplier = 3;
const char greeting[] = "hello";
__u64 calls = 10;        // .data
__u64 last_input;        // .bss
static __u32 hidden[4];  // .bss, referenced through the section symbol

// ctx: u64 x. Returns x * multiplier + calls (after incrementing calls) + hidden[1].
SEC("socket")
int globals(__u64 *ctx) {
  __u64 x = ctx[0];
  last_input = x;
  hidden[x & 3] = (__u32)x;
  calls++;
  bpf_printk("x=%llu calls=%llu", x, calls);
  return x * multiplier + calls + greeting[1] - 'e' + hidden[1];
}

char LICENSE[] SEC("license") = "GPL";
