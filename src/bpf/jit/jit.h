// The x86-64 JIT: compiles a VerifiedProgram to native code once, then runs it any number of
// times. Results are identical to the interpreter's (interp/interpreter.h) on every program,
// including the instruction budget and call-depth errors (src/bpf/README.md, "Engines").
//
// Code lives in ExecMemory (written RW, then sealed R+X; never W+X). Like the interpreter,
// the JIT trusts the verifier for memory safety. Helpers and kfuncs are called through the
// C ABI and must not throw (no exception may cross JIT frames).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/result.h"
#include "bpf/isa/isa.h"
#include "bpf/jit/internal/exec_memory.h"
#include "bpf/program.h"

namespace fusebpf::bpf::jit {

class JitProgram {
 public:
  // Translates `program`; `maps` resolves lddw map references (index = imm) and each Map must
  // outlive the JitProgram (their addresses are baked into the code). Fails with a message
  // when the host is not x86-64, a call has no target or a map reference is unbound.
  static Result<JitProgram, std::string> compile(const VerifiedProgram& program,
                                                 std::span<Map* const> maps = {});

  // Runs with r1 = ctx, r2 = ctx_size. Thread-safe and reentrant (per-run state lives on the
  // caller's stack: about 5 KiB for nine 512-byte frames). Executes at most `budget`
  // instructions, counted exactly like the interpreter counts them.
  Result<uint64_t, RunError> run(void* ctx, uint64_t ctx_size,
                                 uint64_t budget = isa::kDefaultBudget) const;

  // The generated machine code (for benchmarks and debugging, e.g. objdump -b binary).
  std::span<const uint8_t> code() const {
    return {static_cast<const uint8_t*>(memory_.data()), memory_.size()};
  }

 private:
  explicit JitProgram(ExecMemory memory) : memory_(std::move(memory)) {}
  ExecMemory memory_;
};

// Whether the JIT has an emitter for the ISA row (every row must; see jit_test.cc).
bool has_emitter(isa::Op op);

}  // namespace fusebpf::bpf::jit
