// Interpreter construction: pre-decoding a VerifiedProgram into Slots (see interpreter.h).
// The dispatch loop itself is in internal/dispatch.cc.
#include "bpf/interp/interpreter.h"

#include <fmt/format.h>

#include "base/log.h"
#include "bpf/interp/internal/dispatch.h"

namespace fusebpf::bpf::interp {

using isa::Form;

Interpreter::Interpreter(const VerifiedProgram& program, std::span<Map* const> maps) {
  predecode(program, maps);
}

void Interpreter::add_trap(uint32_t pc, std::string message) {
  FUSEBPF_LOG(kError, "interpreter: {} (pc {}); executing it aborts", message, pc);
  code_[pc].op = kTrapOp;
  code_[pc].imm = traps_.size();
  traps_.push_back(fmt::format("{} at pc {}", message, pc));
}

void Interpreter::predecode(const VerifiedProgram& program, std::span<Map* const> maps) {
  std::span<const Insn> insns = program.insns();
  // Slots no instruction starts at (the second half of an lddw) trap with message 0.
  code_.assign(std::max<size_t>(insns.size(), 1), Slot{kTrapOp});
  traps_.push_back("executed the second slot of an lddw");
  auto decoded = isa::decode(insns);
  if (!decoded) {
    add_trap(decoded.error().pc, "undecodable program: " + decoded.error().message);
    code_[0] = code_[decoded.error().pc];
    return;
  }
  std::span<const HelperFn> targets = program.call_targets();
  for (const isa::DecodedInsn& d : *decoded) {
    Slot& s = code_[d.pc];
    s = Slot{static_cast<uint8_t>(d.op),
             d.insn.dst,
             d.insn.src,
             0,
             d.insn.off,
             static_cast<uint64_t>(int64_t{d.insn.imm})};
    switch (isa::info(d.op).form) {
      case Form::kJa:
      case Form::kJcc:
      case Form::kCallLocal:
        s.aux = static_cast<int32_t>(d.target);
        break;
      case Form::kCall:
      case Form::kCallKfunc: {
        HelperFn fn = d.pc < targets.size() ? targets[d.pc] : nullptr;
        if (fn == nullptr)
          add_trap(d.pc, "call without a target");
        else
          s.imm = reinterpret_cast<uint64_t>(fn);
        break;
      }
      case Form::kLddw: {
        auto value = isa::lddw_value(d, maps);
        if (!value)
          add_trap(d.pc, value.error());
        else
          s.imm = *value;
        break;
      }
      default:
        break;
    }
  }
}

Result<uint64_t, RunError> Interpreter::run(void* ctx, uint64_t ctx_size, uint64_t budget) const {
  return execute(code_.data(), traps_, ctx, ctx_size, budget);
}

}  // namespace fusebpf::bpf::interp
