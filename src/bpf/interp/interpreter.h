// The eBPF interpreter: runs a VerifiedProgram on pre-decoded instructions with a dispatch
// table generated from abi/bpf_isa.def. Semantics are RFC 9669's (src/bpf/README.md,
// "Engines"): x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN, INT_MIN%-1 = 0, 32-bit ops zero-extend,
// shift amounts are masked to the operand width.
//
// The interpreter trusts the verifier for memory safety: it does no bounds checks, and a
// structural impossibility (an unknown opcode, a call without a target) is a fatal internal
// error (logged, then abort()). It does enforce the instruction budget and the call depth,
// which the verifier cannot bound for every program.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/isa/isa.h"
#include "bpf/program.h"

namespace fusebpf::bpf::interp {

// A pre-decoded instruction (one per instruction slot, so jump targets stay pcs).
struct Slot {
  uint8_t op = 0;  // isa::Op, or kTrapOp
  uint8_t dst = 0;
  uint8_t src = 0;
  uint8_t pad = 0;
  int32_t aux = 0;   // memory offset, or absolute target pc of a jump / local call
  uint64_t imm = 0;  // sign-extended imm; lddw: the resolved 64-bit value; calls: HelperFn
};
static_assert(sizeof(Slot) == 16);
// Executing this op is an internal error (see Interpreter's constructor).
inline constexpr uint8_t kTrapOp = static_cast<uint8_t>(isa::kOpCount);

class Interpreter {
 public:
  // Pre-decodes `program` once. `maps` resolves lddw map references (index = imm); each Map
  // must outlive the Interpreter. The program itself need not: everything is copied.
  // Missing call targets or map references are logged now and are fatal if executed.
  explicit Interpreter(const VerifiedProgram& program, std::span<Map* const> maps = {});

  // Runs the program with r1 = ctx and r2 = ctx_size. Thread-safe and reentrant (all run state
  // lives on the calling thread's stack, about 5 KiB). Executes at most `budget` instructions.
  Result<uint64_t, RunError> run(void* ctx, uint64_t ctx_size,
                                 uint64_t budget = isa::kDefaultBudget) const;

  // The pre-decoded code (for tests and benchmarks).
  std::span<const Slot> code() const { return code_; }

 private:
  void predecode(const VerifiedProgram& program, std::span<Map* const> maps);
  void add_trap(uint32_t pc, std::string message);

  std::vector<Slot> code_;
  std::vector<std::string> traps_;  // Slot::imm of a trap slot indexes this
};

}  // namespace fusebpf::bpf::interp
