// A lock-free log-linear latency histogram (4 sub-buckets per power of two of nanoseconds),
// updated by worker threads and read by the stats command.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace fusebpf::fuse {

class LatencyHistogram {
 public:
  static constexpr int kBuckets = 64 * 4;

  void record(uint64_t ns) { buckets_[bucket_of(ns)].fetch_add(1, std::memory_order_relaxed); }
  // The q-quantile (0..1) in nanoseconds, as the midpoint of its bucket; 0 when empty.
  uint64_t quantile(double q) const {
    std::array<uint64_t, kBuckets> counts;
    uint64_t total = 0;
    for (int i = 0; i < kBuckets; ++i)
      total += counts[i] = buckets_[i].load(std::memory_order_relaxed);
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts[i];
      if (seen >= rank) return (lower_bound(i) + lower_bound(i + 1)) / 2;
    }
    return lower_bound(kBuckets - 1);
  }

  static int bucket_of(uint64_t ns) {
    if (ns < 4) return static_cast<int>(ns);
    int msb = 63 - std::countl_zero(ns);
    int sub = static_cast<int>((ns >> (msb - 2)) & 3);
    return (msb - 1) * 4 + sub;
  }
  static uint64_t lower_bound(int bucket) {
    if (bucket < 4) return static_cast<uint64_t>(bucket);
    int msb = bucket / 4 + 1;
    uint64_t sub = static_cast<uint64_t>(bucket % 4);
    if (msb >= 64) return UINT64_MAX;
    return (uint64_t{1} << msb) | (sub << (msb - 2));
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
};

}  // namespace fusebpf::fuse
