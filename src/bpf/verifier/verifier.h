// The static verifier: proves that a RawProgram is safe to run on the given Platform with the
// given context, and only then produces the VerifiedProgram the engines accept.
// What is proved and what is checked at run time: src/bpf/verifier/README.md.
//
//   auto v = verifier::verify(raw, platform, *platform.context("lookup_prefilter"));
//   if (!v) std::cerr << verifier::format_diagnostics(v.error());
//
// Thread safety: verify() is a pure function of its arguments and may run concurrently.
// Rejecting a program is a normal outcome (Diagnostics), never an exception.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/program.h"

namespace fusebpf::bpf::verifier {

struct Diagnostic {
  uint32_t pc = 0;
  std::string section;  // RawProgram::section
  std::string code;     // stable machine-readable code, e.g. "null-deref" (README lists them)
  std::string message;  // what is wrong and what to do, naming registers and helpers
  std::string disasm;   // the instruction at pc, kernel syntax
  std::string source;   // "file.c:42: text" from RawProgram::line_at(pc), or empty
};
using Diagnostics = std::vector<Diagnostic>;

struct VerifyOptions {
  // Loops are verified by widening and bounded at run time by the engines' instruction
  // budget (README, "Termination"). false: any backward jump is rejected.
  bool allow_loops = true;
  // Instructions no path reaches are rejected (as the kernel does) unless this is set; they are
  // never executed, so hosts that run foreign test suites (the conformance runner) may allow
  // them. They must still be valid instructions with valid jump targets.
  bool allow_dead_code = false;
  // Upper bound on analysis work (block visits); beyond it the program is "too complex".
  size_t max_steps = 1'000'000;
  // At most this many diagnostics are returned (sorted by pc).
  size_t max_diagnostics = 16;
};

Result<VerifiedProgram, Diagnostics> verify(const RawProgram& program, const Platform& platform,
                                            const ContextDescriptor& context,
                                            const VerifyOptions& options = {});

// One line per diagnostic plus the instruction:
//   "pc 14: r2 may be NULL here: ...  (filter.c:42: x = *v;)\n    14: r0 = *(u64 *)(r2 +0)\n"
std::string format_diagnostics(const Diagnostics& diagnostics);

}  // namespace fusebpf::bpf::verifier
