// JitProgram: compile through x86_64/translate, run through the generated entry point.
#include "bpf/jit/jit.h"

#include "bpf/jit/x86_64/translate.h"

namespace fusebpf::bpf::jit {

Result<JitProgram, std::string> JitProgram::compile(const VerifiedProgram& program,
                                                    std::span<Map* const> maps) {
#if !defined(__x86_64__)
  return fail(std::string("the JIT supports only x86-64 hosts"));
#else
  FUSEBPF_TRY(code, x86::translate(program, maps));
  auto memory = ExecMemory::create(code);
  if (!memory) return fail("cannot map code: " + std::string(errno_name(memory.error())));
  return JitProgram(std::move(*memory));
#endif
}

Result<uint64_t, RunError> JitProgram::run(void* ctx, uint64_t ctx_size, uint64_t budget) const {
  x86::RunState state{budget, 0, 0, 0, 0};
  auto entry = reinterpret_cast<x86::EntryFn>(const_cast<void*>(memory_.data()));
  const uint32_t status = entry(ctx, ctx_size, &state);
  if (status != 0) return fail(static_cast<RunError>(status - 1));
  return state.result;
}

bool has_emitter(isa::Op op) { return x86::has_emitter(op); }

}  // namespace fusebpf::bpf::jit
