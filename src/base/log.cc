// Logging; see log.h.
#include "base/log.h"

#include <unistd.h>

#include <ctime>
#include <string>

namespace fusebpf::log {
namespace {
std::atomic<Level> g_level{Level::kInfo};
constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_level(Level level) { g_level.store(level); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void write_line(Level level, std::string_view message) {
  struct timespec ts {};
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm {};
  gmtime_r(&ts.tv_sec, &tm);
  std::string line = fmt::format("{:02}:{:02}:{:02}.{:03} fusebpf[{}] {}: {}\n", tm.tm_hour,
                                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, getpid(),
                                 kLevelNames[static_cast<int>(level)], message);
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

bool RateLimiter::allow() {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now().time_since_epoch())
                    .count();
  int64_t window = window_.load(std::memory_order_relaxed);
  if (window != now && window_.compare_exchange_strong(window, now)) {
    used_.store(0, std::memory_order_relaxed);
  }
  if (used_.fetch_add(1, std::memory_order_relaxed) < per_second_) return true;
  dropped_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace fusebpf::log
