// Bounded loops and BPF-to-BPF calls (static and global noinline subprograms).
#include "progs.h"

static __attribute__((noinline)) __u64 square(__u64 x) { return x * x; }

__attribute__((noinline)) __u64 sum_squares(__u64 n) {
  __u64 total = 0;
  for (__u64 i = 1; i <= n && i <= 100; i++) total += square(i);
  return total;
}

// ctx: u64 n. Returns 1^2 + ... + n^2 (n capped at 100), plus collatz steps of n.
SEC("socket")
int loops(__u64 *ctx) {
  __u64 n = ctx[0];
  __u64 steps = 0, c = n;
  for (int i = 0; i < 1000 && c > 1; i++) {
    c = (c & 1) ? 3 * c + 1 : c / 2;
    steps++;
  }
  return sum_squares(n) + steps;
}

// A second program in another section that shares the subprograms.
SEC("socket/two")
int just_square(__u64 *ctx) { return square(ctx[0]) + 1; }

char LICENSE[] SEC("license") = "GPL";
