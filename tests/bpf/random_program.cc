// Safe-by-construction random programs (see random_program.h).
#include "random_program.h"

#include <array>

#include "bpf/isa/isa.h"

namespace fusebpf::bpf::testing {
namespace {

using isa::Form;
using isa::Op;

constexpr uint8_t kCtxBase = 9;  // copy of r1, never written by generated code
constexpr int32_t kCtxSize = 64;
constexpr int32_t kStackUsed = 64;

std::vector<Op> ops_with(std::initializer_list<Form> forms, bool lddw_plain_only = false) {
  std::vector<Op> out;
  for (const isa::OpInfo& row : isa::kOps) {
    for (Form f : forms)
      if (row.form == f && (!lddw_plain_only || row.op == Op::kLddw)) out.push_back(row.op);
  }
  return out;
}

class Generator {
 public:
  Generator(const std::function<uint64_t()>& next, const GeneratorOptions& o)
      : next_(next), o_(o) {}
  GeneratedProgram run();

 private:
  // A unit of code that jumps may target; its slots are never split by a jump.
  struct Item {
    std::vector<Insn> slots;
    int target_item = -1;  // for a jump or local call: the item it goes to
  };

  uint64_t rnd() { return next_(); }
  uint32_t below(uint32_t n) { return n == 0 ? 0 : static_cast<uint32_t>(rnd() % n); }
  uint8_t value_reg() { return static_cast<uint8_t>(below(9)); }  // r0..r8
  Op pick(const std::vector<Op>& ops) { return ops[below(static_cast<uint32_t>(ops.size()))]; }
  int32_t imm();
  uint64_t value64();
  void emit(Insn insn) { items_.push_back(Item{{insn}}); }
  void emit_init(uint8_t reg);
  void random_alu();
  void random_memory(bool allow_stack);
  void random_item(size_t body_end_hint);
  std::vector<Insn> link() const;

  const std::function<uint64_t()>& next_;
  GeneratorOptions o_;
  std::vector<Item> items_;
  std::vector<size_t> pending_jumps_;  // items whose target is "end of body"
  const std::vector<Op> alu_ = ops_with({Form::kAlu, Form::kNeg, Form::kMovsx, Form::kEnd});
  const std::vector<Op> mem_ =
      ops_with({Form::kLoad, Form::kLoadSx, Form::kStoreImm, Form::kStoreReg, Form::kAtomic});
  const std::vector<Op> jcc_ = ops_with({Form::kJcc});
};

int32_t Generator::imm() {
  static constexpr std::array<int32_t, 14> kInteresting = {
      0, 1, -1, 2, 7, 31, 32, 63, 64, INT32_MIN, INT32_MAX, 0x8000, -0x8000, 0xff};
  return below(3) == 0 ? static_cast<int32_t>(rnd()) : kInteresting[below(kInteresting.size())];
}

uint64_t Generator::value64() {
  static constexpr std::array<uint64_t, 8> kInteresting = {0,
                                                           1,
                                                           ~0ull,
                                                           0x8000000000000000ull,
                                                           0x7fffffffffffffffull,
                                                           0xffffffffull,
                                                           0x80000000ull,
                                                           0x00ff00ff00ff00ffull};
  return below(2) == 0 ? rnd() : kInteresting[below(kInteresting.size())];
}

void Generator::emit_init(uint8_t reg) {
  if (below(2) == 0) {
    emit(isa::make(Op::kMov64Imm, reg, 0, 0, imm()));
  } else {
    auto pair = isa::make_lddw(reg, value64());
    items_.push_back(Item{{pair[0], pair[1]}});
  }
}

void Generator::random_alu() { emit(isa::make(pick(alu_), value_reg(), value_reg(), 0, imm())); }

void Generator::random_memory(bool allow_stack) {
  const Op op = pick(mem_);
  const isa::OpInfo& row = isa::info(op);
  const int32_t bytes = row.width / 8;
  const bool stack = allow_stack && below(2) == 0;
  const uint8_t base = stack ? 10 : kCtxBase;
  // Atomics must be aligned; plain accesses may be misaligned.
  const int32_t step = row.form == Form::kAtomic ? bytes : 1;
  const int32_t slots = (stack ? kStackUsed : kCtxSize) / step - bytes / step + 1;
  int32_t off = static_cast<int32_t>(below(static_cast<uint32_t>(slots))) * step;
  if (stack) off -= kStackUsed;
  const uint8_t reg = value_reg();
  switch (row.form) {
    case Form::kLoad:
    case Form::kLoadSx:
      emit(isa::make(op, reg, base, static_cast<int16_t>(off)));
      break;
    case Form::kStoreImm:
      emit(isa::make(op, base, 0, static_cast<int16_t>(off), imm()));
      break;
    default:  // store from / atomic with a value register (never a pointer)
      emit(isa::make(op, base, reg, static_cast<int16_t>(off)));
      break;
  }
}

void Generator::random_item(size_t body_end_hint) {
  const uint32_t kind = below(20);
  if (kind < 9) return random_alu();
  if (kind < 14) return random_memory(/*allow_stack=*/true);
  if (kind < 15) return emit_init(value_reg());
  if (o_.branches && kind < 18) {
    Item jump;
    if (kind == 17) {
      jump.slots = {below(2) ? isa::make(Op::kJa) : isa::make(Op::kJa32)};
    } else {
      jump.slots = {isa::make(pick(jcc_), value_reg(), value_reg(), 0, imm())};
    }
    // Forward only, to any later item of the body (resolved in link()).
    jump.target_item = static_cast<int>(items_.size() + 1 + below(8));
    items_.push_back(jump);
    pending_jumps_.push_back(items_.size() - 1);
    return;
  }
  if (o_.calls && kind == 18) {
    // Helpers may clobber r1..r5 (caller-saved in the C ABI): reinitialise them in the same
    // item so no jump can land between the call and the reinitialisation.
    Item call{{isa::make(Op::kCall, 0, 0, 0, 3)}};
    for (uint8_t r = 1; r <= 5; ++r) call.slots.push_back(isa::make(Op::kMov64Imm, r, 0, 0, imm()));
    items_.push_back(call);
    return;
  }
  random_alu();
}

std::vector<Insn> Generator::link() const {
  std::vector<size_t> slot_of(items_.size() + 1, 0);
  for (size_t i = 0; i < items_.size(); ++i) slot_of[i + 1] = slot_of[i] + items_[i].slots.size();
  std::vector<Insn> out;
  for (size_t i = 0; i < items_.size(); ++i) {
    std::vector<Insn> slots = items_[i].slots;
    if (items_[i].target_item >= 0) {
      const int64_t rel = int64_t(slot_of[items_[i].target_item]) - int64_t(slot_of[i]) - 1;
      if (slots[0].opcode == isa::info(Op::kJa32).opcode ||
          slots[0].opcode == isa::info(Op::kCallLocal).opcode)
        slots[0].imm = static_cast<int32_t>(rel);
      else
        slots[0].off = static_cast<int16_t>(rel);
    }
    out.insert(out.end(), slots.begin(), slots.end());
  }
  return out;
}

GeneratedProgram Generator::run() {
  GeneratedProgram p;
  p.memory.resize(kCtxSize);
  for (auto& b : p.memory) b = static_cast<uint8_t>(rnd());
  emit(isa::make(Op::kMov64Reg, kCtxBase, 1));
  for (int32_t off = -kStackUsed; off < 0; off += 8) emit(isa::make(Op::kStdw, 10, 0, off, 0));
  for (uint8_t r = 0; r <= 8; ++r) emit_init(r);
  const size_t body = 1 + below(o_.max_body);
  for (size_t i = 0; i < body; ++i) random_item(body);
  int call_item = -1;
  if (o_.calls && below(2) == 0) {
    call_item = static_cast<int>(items_.size());
    items_.push_back(Item{{isa::make(Op::kCallLocal)}});
  }
  // Jumps past the end of the body land on the epilogue.
  const int epilogue = static_cast<int>(items_.size());
  for (size_t j : pending_jumps_) items_[j].target_item = std::min(items_[j].target_item, epilogue);
  for (uint8_t r = 2; r <= 8; ++r) emit(isa::make(Op::kXor64Reg, 0, r));
  emit(isa::make(Op::kExit));
  if (call_item >= 0) {
    // The subprogram: ALU and context accesses only (its own stack is uninitialised).
    items_[call_item].target_item = static_cast<int>(items_.size());
    const uint32_t n = 1 + below(8);
    for (uint32_t i = 0; i < n; ++i) below(3) ? random_alu() : random_memory(false);
    emit(isa::make(Op::kExit));
  }
  p.insns = link();
  return p;
}

}  // namespace

GeneratedProgram generate_program(const std::function<uint64_t()>& next,
                                  const GeneratorOptions& options) {
  return Generator(next, options).run();
}

}  // namespace fusebpf::bpf::testing
