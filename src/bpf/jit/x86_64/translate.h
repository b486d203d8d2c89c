// eBPF -> x86-64 translation (internal to jit/). Register mapping, frame layout, budget and
// call-depth accounting are described in src/bpf/README.md ("JIT").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/isa/isa.h"
#include "bpf/program.h"

namespace fusebpf::bpf::jit::x86 {

// Per-run state the generated code reads and writes through r12.
struct RunState {
  uint64_t budget;     // instructions left; charged per basic block
  uint64_t depth;      // nested BPF-to-BPF calls in progress
  uint64_t saved_rsp;  // host rsp after the prologue, for unwinding on errors
  uint64_t result;     // r0 of a successful run
  uint64_t scratch;    // spill slot of the atomic read-modify-write loop
};

// The generated entry point: returns 0 on success (r0 in state->result), else
// 1 + static_cast<int>(RunError).
using EntryFn = uint32_t (*)(void* ctx, uint64_t ctx_size, RunState* state);

// Machine code for `program` (position-independent; entry at offset 0).
Result<std::vector<uint8_t>, std::string> translate(const VerifiedProgram& program,
                                                    std::span<Map* const> maps);

// Whether the translator has an emitter for the row (the JIT coverage test asks for every row).
bool has_emitter(isa::Op op);

}  // namespace fusebpf::bpf::jit::x86
