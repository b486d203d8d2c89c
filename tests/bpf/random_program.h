// Random eBPF programs that are safe by construction, for the differential test and the
// differential fuzzer (fuzz/). Every program terminates (jumps go forward), touches only its
// 64-byte context (base r9) and the 64 bytes below r10 (zeroed first), never stores a pointer,
// keeps atomics aligned, and only calls harness.h helper 3 and one local subprogram. So the
// interpreter and the JIT must produce the same r0 and the same final memory.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bpf/program.h"

namespace fusebpf::bpf::testing {

struct GeneratedProgram {
  std::vector<Insn> insns;
  std::vector<uint8_t> memory;  // initial context contents
};

struct GeneratorOptions {
  uint32_t max_body = 48;  // random instructions in the main body
  bool branches = true;    // forward conditional/unconditional jumps
  bool calls = true;       // helper calls and a local subprogram
};

// `next` supplies randomness (a PRNG, or fuzzer input bytes; returning 0 forever is fine).
GeneratedProgram generate_program(const std::function<uint64_t()>& next,
                                  const GeneratorOptions& options = {});

}  // namespace fusebpf::bpf::testing
