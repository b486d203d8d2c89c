// The fixture golden cases, the differential test and the fuzzer run programs against: a
// raw-memory context, test helpers/kfuncs and test maps, and one entry point per engine.
//
// Test platform (what programs may call):
//   call 1          r0 = r1 + 2*r2 + 3*r3 + 4*r4 + 5*r5     (checks argument order)
//   call 2          r0 = value_size of the Map* in r1        (checks lddw map references)
//   call 3          r0 = 0x5eed; clobbers nothing            (cheap call for generators)
//   call kfunc 0    r0 = r1 * r2 - r3
// Test maps (fresh for every run, so engines cannot see each other's writes):
//   map[0]  array, value_size 16, max_entries 2; its 8-byte words are 0x1111111111111111 * (i + 1)
//   map[1]  array, value_size 8, max_entries 1, all zero
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/program.h"

namespace fusebpf::bpf::testing {

enum class Engine { kInterpreter, kJit };
std::string_view engine_name(Engine e);
// False while the JIT library is not part of the build (then only the interpreter runs).
bool jit_available();

struct Outcome {
  bool ok = false;
  uint64_t value = 0;           // r0 when ok
  std::string error;            // rejection, compile or run error otherwise
  std::vector<uint8_t> memory;  // the context memory after the run
  bool operator==(const Outcome&) const = default;
};
std::string describe(const Outcome& o);

// Checks and wraps insns as the engines' input. Until the verifier exists this decodes the
// program (isa::decode) and builds the VerifiedProgram through the test seam; rejects with
// "rejected: <reason>".
Result<VerifiedProgram, std::string> prepare(std::span<const Insn> insns, uint32_t mem_size);

// Like prepare(), then requires the real verifier (bpf/verifier) to accept the program with the
// test platform above and a raw-memory context of mem_size bytes; rejects with
// "verifier: <first diagnostic>".
Result<VerifiedProgram, std::string> prepare_verified(std::span<const Insn> insns,
                                                      uint32_t mem_size);

// Runs `program` on a copy of `memory` (r1 = its start, r2 = its size).
Outcome run_engine(Engine engine, const VerifiedProgram& program, std::vector<uint8_t> memory,
                   uint64_t budget);

// prepare() + run_engine(); a rejection becomes a failed Outcome.
Outcome run_program(Engine engine, std::span<const Insn> insns, const std::vector<uint8_t>& memory,
                    uint64_t budget);

}  // namespace fusebpf::bpf::testing
