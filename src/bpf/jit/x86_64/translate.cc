// eBPF -> x86-64 translation. One emitter per isa::Form, chosen through a table generated
// from abi/bpf_isa.def. Semantics match the interpreter (interp/internal/exec.h) exactly,
// including the instruction budget, which is charged per basic block (src/bpf/README.md).
#include "bpf/jit/x86_64/translate.h"

#include <fmt/format.h>

#include <cstddef>
#include <map>
#include <optional>

#include "bpf/jit/x86_64/emitter.h"

namespace fusebpf::bpf::jit::x86 {
namespace {

using isa::DecodedInsn;
using isa::Form;

// BPF r0..r10. r0 = rax (return), r1..r5 = the SysV argument registers (r4 lives in r9 and
// moves to rcx at calls, because rcx is the shift-count register), r6..r9 = callee-saved
// registers, r10 = rbp. rcx, r10 and r11 are scratch; r12 points at the RunState.
constexpr Reg kRegMap[11] = {Reg::kRax, Reg::kRdi, Reg::kRsi, Reg::kRdx, Reg::kR9, Reg::kR8,
                             Reg::kRbx, Reg::kR13, Reg::kR14, Reg::kR15, Reg::kRbp};
constexpr Reg kState = Reg::kR12;

Mem state_field(size_t offset) { return Mem{kState, static_cast<int32_t>(offset)}; }
const Mem kBudget = state_field(offsetof(RunState, budget));
const Mem kDepth = state_field(offsetof(RunState, depth));
const Mem kSavedRsp = state_field(offsetof(RunState, saved_rsp));
const Mem kResult = state_field(offsetof(RunState, result));
const Mem kScratch = state_field(offsetof(RunState, scratch));

// The x86 group-1 operation of a BPF ALU operation code (also the atomic op field), if any.
std::optional<AluOp> group1_op(uint8_t code) {
  switch (code) {
    case 0x00:
      return AluOp::kAdd;
    case 0x10:
      return AluOp::kSub;
    case 0x40:
      return AluOp::kOr;
    case 0x50:
      return AluOp::kAnd;
    case 0xa0:
      return AluOp::kXor;
    default:
      return std::nullopt;
  }
}

Width width_of(uint8_t bits) {
  return bits == 8 ? Width::k8 : bits == 16 ? Width::k16 : bits == 32 ? Width::k32 : Width::k64;
}

class Translator {
 public:
  Translator(const VerifiedProgram& program, std::span<Map* const> maps)
      : program_(program), maps_(maps) {}
  Result<std::vector<uint8_t>, std::string> run();

  using EmitFn = void (Translator::*)(const DecodedInsn&);
  static constexpr EmitFn emitter_for(Form form);

 private:
  static Reg reg(uint8_t bpf) { return kRegMap[bpf]; }
  Label pc_label(int64_t pc) { return pc_labels_[static_cast<size_t>(pc)]; }
  void compute_blocks(const std::vector<DecodedInsn>& code);
  void prologue();
  void epilogue();
  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  void emit_alu(const DecodedInsn& d);
  void emit_divmod(const DecodedInsn& d);
  void emit_hw_divide(bool w, bool is_mod, bool is_signed, Reg dst);
  void emit_divide_special(bool w, bool is_mod, bool by_zero, Reg dst);
  void emit_shift(const DecodedInsn& d);
  void emit_neg(const DecodedInsn& d);
  void emit_movsx(const DecodedInsn& d);
  void emit_end(const DecodedInsn& d);
  void emit_ja(const DecodedInsn& d);
  void emit_jcc(const DecodedInsn& d);
  void emit_call(const DecodedInsn& d);
  void emit_call_local(const DecodedInsn& d);
  void emit_exit(const DecodedInsn& d);
  void emit_lddw(const DecodedInsn& d);
  void emit_load(const DecodedInsn& d);
  void emit_store_imm(const DecodedInsn& d);
  void emit_store_reg(const DecodedInsn& d);
  void emit_atomic(const DecodedInsn& d);
  void emit_atomic_fetch_loop(const DecodedInsn& d, AluOp op);

  const VerifiedProgram& program_;
  std::span<Map* const> maps_;
  X86Emitter e_;
  std::vector<Label> pc_labels_;
  std::vector<uint32_t> charge_;         // at a block leader: instructions in the block; else 0
  std::map<int64_t, Label> call_stubs_;  // local call target pc -> frame-setup stub
  Label exit_{}, main_exit_{}, epilogue_{}, budget_exit_{}, depth_exit_{};
  std::string error_;
};

constexpr Translator::EmitFn Translator::emitter_for(Form form) {
  switch (form) {
    case Form::kAlu:
      return &Translator::emit_alu;
    case Form::kNeg:
      return &Translator::emit_neg;
    case Form::kMovsx:
      return &Translator::emit_movsx;
    case Form::kEnd:
      return &Translator::emit_end;
    case Form::kJa:
      return &Translator::emit_ja;
    case Form::kJcc:
      return &Translator::emit_jcc;
    case Form::kCall:
      return &Translator::emit_call;
    case Form::kCallKfunc:
      return &Translator::emit_call;
    case Form::kCallLocal:
      return &Translator::emit_call_local;
    case Form::kExit:
      return &Translator::emit_exit;
    case Form::kLddw:
      return &Translator::emit_lddw;
    case Form::kLoad:
      return &Translator::emit_load;
    case Form::kLoadSx:
      return &Translator::emit_load;
    case Form::kStoreImm:
      return &Translator::emit_store_imm;
    case Form::kStoreReg:
      return &Translator::emit_store_reg;
    case Form::kAtomic:
      return &Translator::emit_atomic;
  }
  return nullptr;
}

// The emitter of every row of the table, generated from abi/bpf_isa.def.
constexpr Translator::EmitFn kEmitters[] = {
#define FUSEBPF_ISA(name, opcode, mnemonic, cls, source, width, form, ...) \
  Translator::emitter_for(Form::form),
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA
};
static_assert(std::size(kEmitters) == isa::kOpCount);

// A block starts at pc 0, at every jump or call target and after every jump, call or exit.
// Entering a block charges all its instructions; since blocks only end at those points, a run
// that completes is charged exactly the instructions it executed, like the interpreter.
void Translator::compute_blocks(const std::vector<DecodedInsn>& code) {
  const size_t n = program_.insns().size();
  std::vector<bool> leader(n + 1, false);
  leader[0] = true;
  for (const DecodedInsn& d : code) {
    const Form form = isa::info(d.op).form;
    const size_t next = d.pc + (form == Form::kLddw ? 2 : 1);
    if (d.target >= 0) leader[static_cast<size_t>(d.target)] = true;
    if (form == Form::kJa || form == Form::kJcc || form == Form::kCall ||
        form == Form::kCallKfunc || form == Form::kCallLocal || form == Form::kExit)
      leader[next] = true;
  }
  charge_.assign(n, 0);
  uint32_t block_start = 0;
  for (const DecodedInsn& d : code) {
    if (leader[d.pc]) block_start = d.pc;
    charge_[block_start]++;
  }
}

}  // namespace

bool has_emitter(isa::Op op) { return kEmitters[static_cast<size_t>(op)] != nullptr; }

namespace {

Result<std::vector<uint8_t>, std::string> Translator::run() {
  auto decoded = isa::decode(program_.insns());
  if (!decoded) return ::fusebpf::fail(decoded.error().message);
  const std::vector<DecodedInsn>& code = *decoded;
  for (size_t i = 0; i < program_.insns().size(); ++i) pc_labels_.push_back(e_.new_label());
  for (Label* l : {&exit_, &main_exit_, &epilogue_, &budget_exit_, &depth_exit_})
    *l = e_.new_label();
  compute_blocks(code);
  prologue();
  for (const DecodedInsn& d : code) {
    e_.bind(pc_label(d.pc));
    if (charge_[d.pc] != 0) {
      e_.alu(AluOp::kSub, kBudget, static_cast<int32_t>(charge_[d.pc]));
      e_.jcc(Cond::kB, budget_exit_);
    }
    (this->*kEmitters[static_cast<size_t>(d.op)])(d);
  }
  epilogue();
  if (!error_.empty()) return ::fusebpf::fail(error_);
  return e_.finish();
}

void Translator::prologue() {
  for (Reg r : {Reg::kRbp, Reg::kRbx, Reg::kR12, Reg::kR13, Reg::kR14, Reg::kR15}) e_.push(r);
  e_.alu(AluOp::kSub, true, Reg::kRsp, 8);  // 16-byte alignment at every helper call
  e_.mov(true, kState, Reg::kRdx);
  e_.store(Width::k64, kSavedRsp, Reg::kRsp);
  e_.mov(true, Reg::kRbp, Reg::kRsp);
  e_.alu(AluOp::kSub, true, Reg::kRsp, static_cast<int32_t>(isa::kStackBytes));
  // r1 = ctx and r2 = ctx_size arrive in rdi/rsi; zero the rest like the interpreter does.
  for (uint8_t r : {0, 3, 4, 5, 6, 7, 8, 9}) e_.alu(AluOp::kXor, false, reg(r), reg(r));
}

void Translator::epilogue() {
  // exit: return from a subprogram frame, or finish the run from the main frame.
  e_.bind(exit_);
  e_.alu(AluOp::kCmp, kDepth, 0);
  e_.jcc(Cond::kE, main_exit_);
  e_.mov(true, Reg::kRsp, Reg::kRbp);
  for (Reg r : {Reg::kRbp, Reg::kR15, Reg::kR14, Reg::kR13, Reg::kRbx}) e_.pop(r);
  e_.ret();
  e_.bind(main_exit_);
  e_.store(Width::k64, kResult, Reg::kRax);
  e_.mov_imm32(Reg::kRax, 0);
  e_.bind(epilogue_);
  // Errors arrive here from any depth: the saved rsp unwinds every BPF frame at once.
  e_.load(Width::k64, false, Reg::kRsp, kSavedRsp);
  e_.alu(AluOp::kAdd, true, Reg::kRsp, 8);
  for (Reg r : {Reg::kR15, Reg::kR14, Reg::kR13, Reg::kR12, Reg::kRbx, Reg::kRbp}) e_.pop(r);
  e_.ret();
  e_.bind(budget_exit_);
  e_.mov_imm32(Reg::kRax, 1 + static_cast<uint32_t>(RunError::kBudgetExceeded));
  e_.jmp(epilogue_);
  e_.bind(depth_exit_);
  e_.mov_imm32(Reg::kRax, 1 + static_cast<uint32_t>(RunError::kCallDepth));
  e_.jmp(epilogue_);
  // Frame setup of each local call target: save the caller's r6..r9 and r10, new 512-byte
  // frame, then enter the subprogram's code (which a fall-through never reaches this way).
  for (const auto& [target, stub] : call_stubs_) {
    e_.bind(stub);
    for (Reg r : {Reg::kRbx, Reg::kR13, Reg::kR14, Reg::kR15, Reg::kRbp}) e_.push(r);
    e_.mov(true, Reg::kRbp, Reg::kRsp);
    e_.alu(AluOp::kSub, true, Reg::kRsp, static_cast<int32_t>(isa::kStackBytes));
    e_.jmp(pc_label(target));
  }
}

void Translator::emit_alu(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  const bool w = i.width == 64;
  const bool by_reg = i.source == isa::SrcKind::kX;
  const Reg dst = reg(d.insn.dst);
  const Reg src = reg(d.insn.src);
  const int32_t imm = d.insn.imm;
  const uint8_t code = i.opcode & 0xf0;
  if (auto op = group1_op(code)) {
    by_reg ? e_.alu(*op, w, dst, src) : e_.alu(*op, w, dst, imm);
    return;
  }
  switch (code) {
    case 0x20:
      return by_reg ? e_.imul(w, dst, src) : e_.imul(w, dst, dst, imm);
    case 0x30:
    case 0x90:
      return emit_divmod(d);
    case 0x60:
    case 0x70:
    case 0xc0:
      return emit_shift(d);
    case 0xb0:
      if (by_reg) return e_.mov(w, dst, src);
      if (w) return e_.mov_imm64(dst, static_cast<uint64_t>(int64_t{imm}));
      return e_.mov_imm32(dst, static_cast<uint32_t>(imm));
    default:
      return fail(fmt::format("no ALU emitter for {} at pc {}", i.name, d.pc));
  }
}

void Translator::emit_shift(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  const bool w = i.width == 64;
  const Reg dst = reg(d.insn.dst);
  const uint8_t code = i.opcode & 0xf0;
  const ShiftOp op = code == 0x60 ? ShiftOp::kShl : code == 0x70 ? ShiftOp::kShr : ShiftOp::kSar;
  if (i.source == isa::SrcKind::kK) {
    const auto count = static_cast<uint8_t>(d.insn.imm & (w ? 63 : 31));
    if (count != 0)
      e_.shift(op, w ? Width::k64 : Width::k32, dst, count);
    else if (!w)
      e_.mov(false, dst, dst);  // still zero-extends
    return;
  }
  e_.mov(true, Reg::kRcx, reg(d.insn.src));
  e_.shift_cl(op, w, dst);          // x86 masks the count like BPF does
  if (!w) e_.mov(false, dst, dst);  // a zero count leaves the upper half alone on x86
}

void Translator::emit_neg(const DecodedInsn& d) {
  e_.neg(isa::info(d.op).width == 64, reg(d.insn.dst));
}

void Translator::emit_movsx(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  e_.movsx(width_of(static_cast<uint8_t>(i.off.value)), i.width == 64, reg(d.insn.dst),
           reg(d.insn.src));
}

void Translator::emit_end(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  const Reg dst = reg(d.insn.dst);
  const bool to_le = i.cls == isa::InsnClass::kAlu && i.source == isa::SrcKind::kK;
  switch (i.width) {
    case 16:
      if (!to_le) e_.shift(ShiftOp::kRol, Width::k16, dst, 8);
      return e_.movzx16(dst, dst);
    case 32:
      return to_le ? e_.mov(false, dst, dst) : e_.bswap(false, dst);
    default:
      if (!to_le) e_.bswap(true, dst);
      return;
  }
}

void Translator::emit_ja(const DecodedInsn& d) { e_.jmp(pc_label(d.target)); }

void Translator::emit_jcc(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  const bool w = i.width == 64;
  const Reg a = reg(d.insn.dst);
  const bool by_reg = i.source == isa::SrcKind::kX;
  const uint8_t code = i.opcode & 0xf0;
  if (code == 0x40) {
    by_reg ? e_.test(w, a, reg(d.insn.src)) : e_.test(w, a, d.insn.imm);
  } else {
    by_reg ? e_.alu(AluOp::kCmp, w, a, reg(d.insn.src)) : e_.alu(AluOp::kCmp, w, a, d.insn.imm);
  }
  Cond cond;
  switch (code) {
    case 0x10:
      cond = Cond::kE;
      break;
    case 0x20:
      cond = Cond::kA;
      break;
    case 0x30:
      cond = Cond::kAe;
      break;
    case 0x40:
      cond = Cond::kNe;
      break;
    case 0x50:
      cond = Cond::kNe;
      break;
    case 0x60:
      cond = Cond::kG;
      break;
    case 0x70:
      cond = Cond::kGe;
      break;
    case 0xa0:
      cond = Cond::kB;
      break;
    case 0xb0:
      cond = Cond::kBe;
      break;
    case 0xc0:
      cond = Cond::kL;
      break;
    case 0xd0:
      cond = Cond::kLe;
      break;
    default:
      return fail(fmt::format("no condition for {} at pc {}", i.name, d.pc));
  }
  e_.jcc(cond, pc_label(d.target));
}

void Translator::emit_call(const DecodedInsn& d) {
  std::span<const HelperFn> targets = program_.call_targets();
  HelperFn fn = d.pc < targets.size() ? targets[d.pc] : nullptr;
  if (fn == nullptr) return fail(fmt::format("call without a target at pc {}", d.pc));
  e_.mov(true, Reg::kRcx, reg(4));
  e_.mov_imm64(Reg::kR10, reinterpret_cast<uint64_t>(fn));
  e_.call(Reg::kR10);
}

void Translator::emit_call_local(const DecodedInsn& d) {
  auto [it, inserted] = call_stubs_.try_emplace(d.target, Label{});
  if (inserted) it->second = e_.new_label();
  e_.alu(AluOp::kAdd, kDepth, 1);
  e_.alu(AluOp::kCmp, kDepth, static_cast<int32_t>(isa::kMaxCallDepth));
  e_.jcc(Cond::kA, depth_exit_);
  e_.call(it->second);
  e_.alu(AluOp::kSub, kDepth, 1);
}

void Translator::emit_exit(const DecodedInsn&) { e_.jmp(exit_); }

void Translator::emit_lddw(const DecodedInsn& d) {
  auto value = isa::lddw_value(d, maps_);
  if (!value) return fail(fmt::format("{} at pc {}", value.error(), d.pc));
  e_.mov_imm64(reg(d.insn.dst), *value);
}

void Translator::emit_load(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  e_.load(width_of(i.width), i.form == Form::kLoadSx, reg(d.insn.dst),
          Mem{reg(d.insn.src), d.insn.off});
}

void Translator::emit_store_imm(const DecodedInsn& d) {
  e_.store_imm(width_of(isa::info(d.op).width), Mem{reg(d.insn.dst), d.insn.off}, d.insn.imm);
}

void Translator::emit_store_reg(const DecodedInsn& d) {
  e_.store(width_of(isa::info(d.op).width), Mem{reg(d.insn.dst), d.insn.off}, reg(d.insn.src));
}

// Division needs rdx:rax, which hold BPF r3 and r0: both are parked in r10/r11 around the
// div, and the result travels through rcx. x86 traps on a zero divisor and on INT_MIN / -1,
// so those are handled first with BPF's results (x/0 = 0, x%0 = x, INT_MIN/-1 = INT_MIN via
// neg, INT_MIN%-1 = 0): at run time for a register divisor, now for a constant one.
void Translator::emit_divmod(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  const bool w = i.width == 64;
  const bool is_mod = (i.opcode & 0xf0) == 0x90;
  const bool is_signed = i.off.value == 1;
  const Reg dst = reg(d.insn.dst);
  const int32_t imm = d.insn.imm;
  if (i.source == isa::SrcKind::kK) {
    if (imm == 0) return emit_divide_special(w, is_mod, /*by_zero=*/true, dst);
    if (is_signed && imm == -1) return emit_divide_special(w, is_mod, /*by_zero=*/false, dst);
    // ALU64 immediates are sign-extended, ALU32 ones used as 32 bits.
    if (w) {
      e_.mov_imm64(Reg::kRcx, static_cast<uint64_t>(int64_t{imm}));
    } else {
      e_.mov_imm32(Reg::kRcx, static_cast<uint32_t>(imm));
    }
    return emit_hw_divide(w, is_mod, is_signed, dst);
  }
  const Label zero = e_.new_label(), minus_one = e_.new_label(), done = e_.new_label();
  e_.mov(w, Reg::kRcx, reg(d.insn.src));
  e_.test(w, Reg::kRcx, Reg::kRcx);
  e_.jcc(Cond::kE, zero);
  if (is_signed) {
    e_.alu(AluOp::kCmp, w, Reg::kRcx, -1);
    e_.jcc(Cond::kE, minus_one);
  }
  emit_hw_divide(w, is_mod, is_signed, dst);
  e_.jmp(done);
  e_.bind(zero);
  emit_divide_special(w, is_mod, /*by_zero=*/true, dst);
  e_.jmp(done);
  e_.bind(minus_one);
  if (is_signed) emit_divide_special(w, is_mod, /*by_zero=*/false, dst);
  e_.bind(done);
}

// dst = dst / rcx or dst % rcx with a divisor that is neither 0 nor (signed) -1.
void Translator::emit_hw_divide(bool w, bool is_mod, bool is_signed, Reg dst) {
  e_.mov(true, Reg::kR10, Reg::kRax);
  e_.mov(true, Reg::kR11, Reg::kRdx);
  e_.mov(w, Reg::kRax, dst);
  if (is_signed) {
    e_.sign_extend_rax(w);
  } else {
    e_.alu(AluOp::kXor, false, Reg::kRdx, Reg::kRdx);
  }
  e_.div(w, is_signed, Reg::kRcx);
  e_.mov(w, Reg::kRcx, is_mod ? Reg::kRdx : Reg::kRax);
  e_.mov(true, Reg::kRax, Reg::kR10);
  e_.mov(true, Reg::kRdx, Reg::kR11);
  e_.mov(w, dst, Reg::kRcx);
}

// Division by zero (x/0 = 0, x%0 = x) or signed division by -1 (neg, remainder 0).
void Translator::emit_divide_special(bool w, bool is_mod, bool by_zero, Reg dst) {
  if (by_zero) {
    if (!is_mod) {
      e_.alu(AluOp::kXor, false, dst, dst);
    } else if (!w) {
      e_.mov(false, dst, dst);  // x % 0 = x, zero-extended for 32-bit
    }
  } else if (is_mod) {
    e_.alu(AluOp::kXor, false, dst, dst);
  } else {
    e_.neg(w, dst);
  }
}

void Translator::emit_atomic(const DecodedInsn& d) {
  const isa::OpInfo& i = isa::info(d.op);
  const bool w = i.width == 64;
  const Mem mem{reg(d.insn.dst), d.insn.off};
  const Reg src = reg(d.insn.src);
  const int32_t kind = i.imm.value;
  const bool fetch = (kind & 1) != 0;
  if (auto op = group1_op(static_cast<uint8_t>(kind & ~1))) {
    if (!fetch) return e_.lock_alu(*op, w, mem, src);
    if (*op == AluOp::kAdd) return e_.lock_xadd(w, mem, src);
    return emit_atomic_fetch_loop(d, *op);
  }
  switch (kind) {
    case 0xe1:
      return e_.xchg(w, mem, src);  // the old value lands in src (zero-extended for 32-bit)
    case 0xf1:
      e_.lock_cmpxchg(w, mem, src);
      if (!w) e_.mov(false, Reg::kRax, Reg::kRax);  // r0 = zero-extended old value
      return;
    default:
      return fail(fmt::format("no atomic emitter for {} at pc {}", i.name, d.pc));
  }
}

// Fetching or/and/xor have no x86 instruction: a cmpxchg loop. cmpxchg needs rax (BPF r0),
// so r0 is parked in the RunState scratch slot; rcx holds the address, r11 the operand and
// r10 the new value.
void Translator::emit_atomic_fetch_loop(const DecodedInsn& d, AluOp op) {
  const bool w = isa::info(d.op).width == 64;
  const Reg src = reg(d.insn.src);
  e_.store(Width::k64, kScratch, Reg::kRax);
  e_.mov(true, Reg::kR11, src);
  e_.lea(Reg::kRcx, Mem{reg(d.insn.dst), d.insn.off});
  e_.load(w ? Width::k64 : Width::k32, false, Reg::kRax, Mem{Reg::kRcx, 0});
  const Label retry = e_.new_label();
  e_.bind(retry);
  e_.mov(w, Reg::kR10, Reg::kRax);
  e_.alu(op, w, Reg::kR10, Reg::kR11);
  e_.lock_cmpxchg(w, Mem{Reg::kRcx, 0}, Reg::kR10);
  e_.jcc(Cond::kNe, retry);
  e_.mov(w, Reg::kR10, Reg::kRax);  // the old value
  e_.load(Width::k64, false, Reg::kRax, kScratch);
  e_.mov(true, src, Reg::kR10);  // after restoring r0, so src == r0 gets the old value
}

}  // namespace

Result<std::vector<uint8_t>, std::string> translate(const VerifiedProgram& program,
                                                    std::span<Map* const> maps) {
  return Translator(program, maps).run();
}

}  // namespace fusebpf::bpf::jit::x86
