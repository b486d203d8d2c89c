// bpf_trace_printk formatting and the trace sink.
#include "bpf/helpers/internal/trace.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>

#include "base/log.h"
#include "bpf/helpers/helpers.h"

namespace fusebpf::bpf {
namespace {

using Sink = std::function<void(std::string_view)>;

std::mutex g_sink_mu;
std::shared_ptr<const Sink> g_sink;
log::RateLimiter g_trace_limit(kTraceLinesPerSecond);

constexpr size_t kMaxTraceString = 256;

// Copies a NUL-terminated string from an address a program handed us, without faulting: the
// kernel uses a nofault copy, we let the kernel check the range through process_vm_readv.
bool read_string_nofault(uint64_t addr, std::string& out) {
  out.clear();
  const long page = sysconf(_SC_PAGESIZE);
  while (out.size() < kMaxTraceString) {
    // Never cross a page boundary in one read: the string may end just before unmapped memory.
    size_t chunk = std::min<size_t>(page - addr % page, kMaxTraceString - out.size());
    char buf[kMaxTraceString];
    struct iovec local {
      buf, chunk
    };
    struct iovec remote {
      reinterpret_cast<void*>(addr), chunk
    };
    ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
    if (n <= 0) return false;
    size_t len = strnlen(buf, n);
    out.append(buf, len);
    if (len < static_cast<size_t>(n)) return true;
    addr += n;
  }
  return true;
}

}  // namespace

void set_trace_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = sink ? std::make_shared<const Sink>(std::move(sink)) : nullptr;
}

uint64_t trace_lines_dropped() { return g_trace_limit.dropped(); }

// Emits one trace line through the sink (rate-limited).
void emit_trace_line(std::string_view line) {
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!g_trace_limit.allow()) return;
  std::shared_ptr<const Sink> sink;
  {
    std::lock_guard lock(g_sink_mu);
    sink = g_sink;
  }
  if (sink) {
    (*sink)(line);
  } else {
    FUSEBPF_LOG(kInfo, "bpf_trace_printk: {}", line);
  }
}

int format_trace(std::string_view fmt, std::span<const uint64_t> args, std::string& out) {
  out.clear();
  size_t next_arg = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '%') {
      out.push_back('%');
      ++i;
      continue;
    }
    // %[flags][width][.precision][length]conversion, rebuilt for snprintf with a 64-bit length.
    ++i;
    std::string spec = "%";
    while (i < fmt.size() && std::strchr("-+ #0", fmt[i]) != nullptr) spec.push_back(fmt[i++]);
    for (int digits = 0; i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9'; ++digits) {
      if (digits == 3) return -EINVAL;  // width > 999: refuse rather than pad without bound
      spec.push_back(fmt[i++]);
    }
    if (i < fmt.size() && fmt[i] == '.') {
      spec.push_back(fmt[i++]);
      for (int digits = 0; i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9'; ++digits) {
        if (digits == 3) return -EINVAL;
        spec.push_back(fmt[i++]);
      }
    }
    int length = 32;  // bits of the argument that are used
    if (fmt.substr(i, 2) == "ll") {
      length = 64, i += 2;
    } else if (fmt.substr(i, 2) == "hh") {
      length = 8, i += 2;
    } else if (i < fmt.size() && (fmt[i] == 'l' || fmt[i] == 'z')) {
      length = 64, ++i;
    } else if (i < fmt.size() && fmt[i] == 'h') {
      length = 16, ++i;
    }
    if (i >= fmt.size()) return -EINVAL;
    char conv = fmt[i];
    if (next_arg >= args.size()) return -EINVAL;
    uint64_t arg = args[next_arg++];
    char buf[1100];
    int n = 0;
    switch (conv) {
      case 'd':
      case 'i': {
        int64_t v = length == 64   ? static_cast<int64_t>(arg)
                    : length == 16 ? static_cast<int16_t>(arg)
                    : length == 8  ? static_cast<int8_t>(arg)
                                   : static_cast<int32_t>(arg);
        n = std::snprintf(buf, sizeof buf, (spec + "lld").c_str(), static_cast<long long>(v));
        break;
      }
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        uint64_t v = length == 64 ? arg : arg & ((1ull << length) - 1);
        n = std::snprintf(buf, sizeof buf, (spec + "ll" + conv).c_str(),
                          static_cast<unsigned long long>(v));
        break;
      }
      case 'c':
        n = std::snprintf(buf, sizeof buf, (spec + "c").c_str(), static_cast<int>(arg & 0xff));
        break;
      case 's': {
        std::string s;
        if (!read_string_nofault(arg, s)) s = "(fault)";
        n = std::snprintf(buf, sizeof buf, (spec + "s").c_str(), s.c_str());
        break;
      }
      case 'p':
        // The kernel hashes %p; we print the raw value for both %p and %px. Other %p
        // extensions (%pI4, %pks, ...) are not supported.
        if (i + 1 < fmt.size() && fmt[i + 1] == 'x') ++i;
        if (i + 1 < fmt.size() && std::isalnum(static_cast<unsigned char>(fmt[i + 1])))
          return -EINVAL;
        n = std::snprintf(buf, sizeof buf, (spec + "llx").c_str(),
                          static_cast<unsigned long long>(arg));
        out += "0x";
        break;
      default:
        return -EINVAL;
    }
    if (n < 0) return -EINVAL;
    out.append(buf, std::min<size_t>(n, sizeof buf - 1));
  }
  return 0;
}

}  // namespace fusebpf::bpf
