// `fusebpf bpf exec`: the bpf_conformance plugin protocol (github.com/Alan-Jowett/bpf_conformance).
//
//   plugin MEMORY_HEX < PROGRAM_HEX
//
// MEMORY_HEX (argv) and the program (stdin) are hex bytes with optional whitespace ("b7 00 ..").
// The program is verified (raw-memory context: r1 = a writable copy of MEMORY, r2 = its
// length; empty memory gives r1 = NULL, r2 = 0), run on the interpreter or the JIT, and r0 is
// printed to `out` in hex without a prefix ("%lx\n"). Rejection, a bad input or a run error
// prints one line to `err` and returns 1. Returns 0 on success.
#pragma once

#include <iosfwd>
#include <string_view>

namespace fusebpf::cli {

int run_bpf_exec(bool use_jit, std::string_view memory_hex, std::istream& program_hex,
                 std::ostream& out, std::ostream& err);

}  // namespace fusebpf::cli
