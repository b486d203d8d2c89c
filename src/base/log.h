// Logging: one line per message to stderr (the daemon redirects stderr to its log file).
// FUSEBPF_LOG(kWarn, "lookup {} failed: {}", name, errno_name(e)) -- fmt syntax.
// Thread-safe: each message is formatted first and written with one write(2).
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace fusebpf::log {

enum class Level : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_level(Level level);
Level level();
void write_line(Level level, std::string_view message);

// Allows at most `per_second` events per second; the rest are counted as dropped.
class RateLimiter {
 public:
  explicit RateLimiter(uint32_t per_second) : per_second_(per_second) {}
  // True when this event may be emitted.
  bool allow();
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  const uint32_t per_second_;
  std::atomic<int64_t> window_{0};
  std::atomic<uint32_t> used_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace fusebpf::log

#define FUSEBPF_LOG(lvl, ...)                                                           \
  do {                                                                                  \
    if (::fusebpf::log::Level::lvl >= ::fusebpf::log::level())                          \
      ::fusebpf::log::write_line(::fusebpf::log::Level::lvl, ::fmt::format(__VA_ARGS__)); \
  } while (0)
