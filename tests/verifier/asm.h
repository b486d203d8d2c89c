// Assembler for verifier cases: the ISA's assembler (isa::assemble, ubpf-style syntax:
//   mov r0, 0 / ldxw r0, [r1+4] / stxdw [r10-8], r1 / jeq r1, 0, label / call 1 /
//   call local label / call kfunc 0 / lddw r1, map[0] / lddw r1, map[0]+8 / exit)
// plus one test-only line form, `raw OPCODE DST SRC OFF IMM`, which writes any encoding
// (including invalid ones, which the ISA assembler cannot produce) as one slot.
#pragma once

#include <string>
#include <vector>

#include "bpf/program.h"

namespace fusebpf::bpf::testing {

struct AsmResult {
  std::vector<Insn> insns;
  std::string error;  // empty on success: "line 3: unknown mnemonic 'foo'"
};

AsmResult assemble(const std::vector<std::string>& lines);

}  // namespace fusebpf::bpf::testing
