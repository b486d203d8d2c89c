// A tiny test-local assembler for verifier cases, driven by the mnemonics of abi/bpf_isa.def:
//   mov r0, 0 / add32 r1, r2 / ldxw r0, [r1+4] / stxdw [r10-8], r1 / stw [r10-4], 7
//   jeq r1, 0, label / ja +2 / call 1 / call local label / call kfunc 0 / exit
//   lddw r1, 0x1234 / lddw r1, map:0 / lddw r1, mapval:0+8 / raw 0x07 1 0 0 5
// Labels are `name:` lines. Used only by tests (src/bpf/isa may later offer the real one).
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
