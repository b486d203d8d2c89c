// The standard helpers and kfuncs behind Platform::standard() (program.h), plus the pieces an
// embedding layer needs to write its own kfuncs (dynptr construction and range checks).
//
//   Platform p = Platform::standard();
//   p.add_kfunc({.name = "bpf_fuse_get_ro_dynptr", .args = {...}}, &my_kfunc);
//   set_trace_sink([](std::string_view line) { ... });   // bpf_printk output
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "bpf/program.h"

namespace fusebpf::bpf {

// Kernel helper ids (uapi enum bpf_func_id) of the helpers Platform::standard() provides.
enum HelperId : int32_t {
  kHelperMapLookupElem = 1,
  kHelperMapUpdateElem = 2,
  kHelperMapDeleteElem = 3,
  kHelperKtimeGetNs = 5,
  kHelperTracePrintk = 6,
  kHelperGetPrandomU32 = 7,
  kHelperGetCurrentPidTgid = 14,
  kHelperGetCurrentUidGid = 15,
  kHelperGetCurrentComm = 16,
  kHelperTraceVprintk = 177,
  kHelperStrncmp = 182,
  kHelperDynptrRead = 201,
  kHelperDynptrWrite = 202,
  kHelperDynptrData = 203,
};

// Where bpf_trace_printk/bpf_trace_vprintk lines go (one call per line, without the trailing
// newline). Default (and after set_trace_sink(nullptr)): the daemon log at info level.
// Thread-safe; the sink may be called from several threads at once.
void set_trace_sink(std::function<void(std::string_view)> sink);
// At most kTraceLinesPerSecond lines reach the sink; the rest are counted here.
inline constexpr uint32_t kTraceLinesPerSecond = 200;
uint64_t trace_lines_dropped();

// Formats like the kernel's bpf_trace_printk: %d %i %u %x %X %o %c %s %p %px %% with flags,
// width, precision and the l/ll/h/hh/z length modifiers; at most 12 arguments. %s strings are
// read without faulting (an invalid pointer prints "(fault)"). Returns the text or -EINVAL.
int format_trace(std::string_view fmt, std::span<const uint64_t> args, std::string& out);

// Dynptrs for kfunc writers. A dynptr covers data[0, size).
void init_dynptr(Dynptr* d, void* data, uint32_t size, bool read_only);
void invalidate_dynptr(Dynptr* d);  // size 0, not valid; what failed constructors leave
// data + off when [off, off + len) lies inside a valid dynptr (and it is writable, if asked);
// nullptr otherwise.
std::byte* dynptr_range(const Dynptr* d, uint64_t off, uint64_t len, bool writable);

}  // namespace fusebpf::bpf
