// Names for errno values, for logs and diagnostics.
#include "base/errno.h"

#include <cstring>
#include <string>

namespace fusebpf {

std::string_view errno_name(Errno e) {
  // strerrorname_np exists since glibc 2.32 (Debian 12 has 2.36).
  const char* name = strerrorname_np(errno_value(e));
  if (name != nullptr) return name;
  thread_local std::string fallback;
  fallback = "E" + std::to_string(errno_value(e));
  return fallback;
}

std::string_view errno_message(Errno e) { return strerrordesc_np(errno_value(e)) ?: "unknown error"; }

}  // namespace fusebpf
