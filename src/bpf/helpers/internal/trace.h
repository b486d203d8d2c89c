// Internal: the rate-limited path from the trace helpers to the sink (trace.cc).
#pragma once

#include <string_view>

namespace fusebpf::bpf {
void emit_trace_line(std::string_view line);
}  // namespace fusebpf::bpf
