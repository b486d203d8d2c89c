// The interpreter dispatch loop. The handler list is generated from abi/bpf_isa.def: each row
// expands to one label (computed goto, FUSEBPF_HAVE_COMPUTED_GOTO) or one case (the portable
// switch fallback) whose body is chosen by the row's Form; the per-row semantics are the
// templates of exec.h. This function is long only because of that generated body.
#include "bpf/interp/internal/dispatch.h"

#include <cstdlib>
#include <cstring>

#include "base/log.h"
#include "bpf/interp/internal/exec.h"

#ifndef FUSEBPF_HAVE_COMPUTED_GOTO
#define FUSEBPF_HAVE_COMPUTED_GOTO 0
#endif

namespace fusebpf::bpf::interp {
namespace {

// The caller state a BPF-to-BPF call saves: where to return and r6..r9 (callee-saved).
struct Frame {
  uint32_t return_pc;
  uint64_t saved[4];
};

[[noreturn]] void trap(const Slot& s, const std::vector<std::string>& traps) {
  FUSEBPF_LOG(kError, "interpreter internal error: {}", traps.at(s.imm));
  std::abort();
}

}  // namespace

// Row bodies by Form. Each ends by dispatching the next instruction.
#define FUSEBPF_STEP(name)               \
  {                                      \
    exec::step<isa::Op::k##name>(r, *s); \
    ++pc;                                \
    FUSEBPF_NEXT();                      \
  }
#define FUSEBPF_EXEC_kAlu(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kNeg(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kMovsx(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kEnd(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kLoad(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kLoadSx(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kStoreImm(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kStoreReg(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kAtomic(name) FUSEBPF_STEP(name)
#define FUSEBPF_EXEC_kJa(name) \
  {                            \
    pc = s->aux;               \
    FUSEBPF_NEXT();            \
  }
#define FUSEBPF_EXEC_kJcc(name)                                           \
  {                                                                       \
    pc = exec::cond<isa::Op::k##name>(r, *s) ? uint32_t(s->aux) : pc + 1; \
    FUSEBPF_NEXT();                                                       \
  }
#define FUSEBPF_EXEC_kCall(name)                                             \
  {                                                                          \
    r[0] = reinterpret_cast<HelperFn>(s->imm)(r[1], r[2], r[3], r[4], r[5]); \
    ++pc;                                                                    \
    FUSEBPF_NEXT();                                                          \
  }
#define FUSEBPF_EXEC_kCallKfunc(name) FUSEBPF_EXEC_kCall(name)
#define FUSEBPF_EXEC_kCallLocal(name)                 \
  {                                                   \
    if (depth == isa::kMaxCallDepth) goto call_depth; \
    Frame& f = frames[depth++];                       \
    f.return_pc = pc + 1;                             \
    std::memcpy(f.saved, &r[6], sizeof(f.saved));     \
    r[10] -= isa::kStackBytes;                        \
    pc = s->aux;                                      \
    FUSEBPF_NEXT();                                   \
  }
#define FUSEBPF_EXEC_kExit(name)                  \
  {                                               \
    if (depth == 0) return r[0];                  \
    const Frame& f = frames[--depth];             \
    std::memcpy(&r[6], f.saved, sizeof(f.saved)); \
    r[10] += isa::kStackBytes;                    \
    pc = f.return_pc;                             \
    FUSEBPF_NEXT();                               \
  }
#define FUSEBPF_EXEC_kLddw(name) \
  {                              \
    r[s->dst] = s->imm;          \
    pc += 2;                     \
    FUSEBPF_NEXT();              \
  }

Result<uint64_t, RunError> execute(const Slot* code, const std::vector<std::string>& traps,
                                   void* ctx, uint64_t ctx_size, uint64_t budget) {
  // Frame d (0 = the program's own) owns stack[top - (d+1)*512, top - d*512); r10 = its end.
  alignas(16) std::byte stack[(isa::kMaxCallDepth + 1) * isa::kStackBytes];
  Frame frames[isa::kMaxCallDepth];
  uint32_t depth = 0;
  uint64_t r[11] = {};
  r[1] = reinterpret_cast<uint64_t>(ctx);
  r[2] = ctx_size;
  r[10] = reinterpret_cast<uint64_t>(stack + sizeof(stack));
  uint32_t pc = 0;
  uint64_t remaining = budget;
  const Slot* s = nullptr;

#if FUSEBPF_HAVE_COMPUTED_GOTO
  static const void* const kLabels[] = {
#define FUSEBPF_ISA(name, ...) &&op_##name,
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA
      &&op_trap,
  };
  static_assert(std::size(kLabels) == isa::kOpCount + 1);
#define FUSEBPF_NEXT()                        \
  do {                                        \
    if (remaining == 0) goto budget_exceeded; \
    --remaining;                              \
    s = &code[pc];                            \
    goto* kLabels[s->op];                     \
  } while (0)
#define FUSEBPF_CASE(name) op_##name:
  FUSEBPF_NEXT();
#else
#define FUSEBPF_NEXT() continue
#define FUSEBPF_CASE(name) case static_cast<uint8_t>(isa::Op::k##name):
  for (;;) {
    if (remaining == 0) goto budget_exceeded;
    --remaining;
    s = &code[pc];
    switch (s->op) {
#endif

#define FUSEBPF_ISA(name, opcode, mnemonic, cls, source, width, form, ...) \
  FUSEBPF_CASE(name) FUSEBPF_EXEC_##form(name)
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA

#if FUSEBPF_HAVE_COMPUTED_GOTO
op_trap:
  trap(*s, traps);
#else
      default:
        trap(*s, traps);
    }
  }
#endif

budget_exceeded:
  return fail(RunError::kBudgetExceeded);
call_depth:
  return fail(RunError::kCallDepth);
}

#undef FUSEBPF_NEXT
#undef FUSEBPF_CASE

}  // namespace fusebpf::bpf::interp
