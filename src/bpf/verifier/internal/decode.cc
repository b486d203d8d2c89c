// Decoding: every instruction slot is matched against the rows of abi/bpf_isa.def (the one ISA
// table, STYLE.md F26) and turned into an AST node. A slot that matches no row is invalid;
// writes to r10 get their own diagnostic because they are a common mistake.
#include <fmt/format.h>

#include "bpf/verifier/internal/ast.h"

namespace fusebpf::bpf::verifier {
namespace {

enum class Cls : uint8_t { kLd, kLdx, kSt, kStx, kAlu, kJmp, kJmp32, kAlu64 };
enum class Src : uint8_t { kK, kX };
enum class Form : uint8_t {
  kAlu,
  kNeg,
  kMovsx,
  kEnd,
  kJa,
  kJcc,
  kCall,
  kCallLocal,
  kCallKfunc,
  kExit,
  kLddw,
  kLoad,
  kLoadSx,
  kStoreImm,
  kStoreReg,
  kAtomic,
};
struct Rule {
  enum Kind : uint8_t { kZero, kAny, kRd, kWr, kEq } kind;
  int32_t value = 0;
  bool accepts(int64_t v) const {
    switch (kind) {
      case kZero:
        return v == 0;
      case kAny:
        return true;
      case kRd:
        return v >= 0 && v <= 10;
      case kWr:
        return v >= 0 && v <= 9;
      case kEq:
        return v == value;
    }
    return false;
  }
};
struct Row {
  uint8_t opcode;
  const char* mnemonic;
  Cls cls;
  Src src_kind;
  uint8_t width;
  Form form;
  Rule dst, src, off, imm;
};

constexpr Rule Zero{Rule::kZero};
constexpr Rule Any{Rule::kAny};
constexpr Rule Rd{Rule::kRd};
constexpr Rule Wr{Rule::kWr};
constexpr Rule Eq(int32_t v) { return Rule{Rule::kEq, v}; }

constexpr Row kRows[] = {
#define FUSEBPF_ISA(name, opcode, mnem, cls, src, width, form, dst_r, src_r, off_r, imm_r) \
  Row{opcode, mnem, Cls::cls, Src::src, width, Form::form, dst_r, src_r, off_r, imm_r},
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA
};

const Row* find_row(const Insn& in) {
  for (const Row& r : kRows) {
    if (r.opcode == in.opcode && r.dst.accepts(in.dst) && r.src.accepts(in.src) &&
        r.off.accepts(in.off) && r.imm.accepts(in.imm))
      return &r;
  }
  return nullptr;
}

// Whether some row has this opcode and would accept the instruction if dst were r0..r9.
bool writes_r10(const Insn& in) {
  if (in.dst != kFramePointer) return false;
  Insn copy = in;
  copy.dst = 0;
  const Row* r = find_row(copy);
  return r != nullptr && r->dst.kind == Rule::kWr;
}

Operand operand(const Row& r, const Insn& in) {
  if (r.src_kind == Src::kX) return Operand{true, in.src, 0};
  return Operand{false, 0, in.imm};
}

Instruction from_row(const Row& r, const Insn& in, const Insn* next, uint32_t pc) {
  const uint8_t size = r.width / 8;
  switch (r.form) {
    case Form::kAlu:
    case Form::kNeg:
    case Form::kMovsx:
      return Alu{static_cast<AluOp>(in.opcode & 0xf0), r.cls == Cls::kAlu64, in.dst, operand(r, in),
                 in.off};
    case Form::kEnd:
      return Endian{in.dst, r.width, r.cls == Cls::kAlu64 || r.src_kind == Src::kX};
    case Form::kJa: {
      const int64_t rel = r.cls == Cls::kJmp32 ? int64_t{in.imm} : int64_t{in.off};
      return Jump{JmpOp::kJa, false, 0, {}, int64_t{pc} + rel + 1};
    }
    case Form::kJcc:
      return Jump{static_cast<JmpOp>(in.opcode & 0xf0), r.cls == Cls::kJmp32, in.dst,
                  operand(r, in), int64_t{pc} + in.off + 1};
    case Form::kCall:
      return Call{Call::Kind::kHelper, in.imm, -1};
    case Form::kCallKfunc:
      return Call{Call::Kind::kKfunc, in.imm, -1};
    case Form::kCallLocal:
      return Call{Call::Kind::kLocal, in.imm, int64_t{pc} + in.imm + 1};
    case Form::kExit:
      return Exit{};
    case Form::kLddw: {
      const uint32_t hi = static_cast<uint32_t>(next->imm);
      const uint32_t lo = static_cast<uint32_t>(in.imm);
      if (in.src == kPseudoMapFd) return LoadImm{in.dst, LoadImm::Kind::kMapFd, lo, 0};
      if (in.src == kPseudoMapValue) return LoadImm{in.dst, LoadImm::Kind::kMapValue, lo, hi};
      return LoadImm{in.dst, LoadImm::Kind::kImm, (uint64_t{hi} << 32) | lo, 0};
    }
    case Form::kLoad:
    case Form::kLoadSx:
      return Load{in.dst, in.src, in.off, size, r.form == Form::kLoadSx};
    case Form::kStoreImm:
      return Store{in.dst, in.off, size, Operand{false, 0, in.imm}};
    case Form::kStoreReg:
      return Store{in.dst, in.off, size, Operand{true, in.src, 0}};
    case Form::kAtomic:
      return Atomic{
          in.dst, in.off, size, in.src, static_cast<AtomicOp>(in.imm & 0xf0), (in.imm & 0x01) != 0};
  }
  return Exit{};
}

}  // namespace

std::vector<Instruction> decode(std::span<const Insn> insns, std::vector<DecodeError>& errors) {
  std::vector<Instruction> out;
  out.reserve(insns.size());
  for (size_t pc = 0; pc < insns.size(); ++pc) {
    const Insn& in = insns[pc];
    const auto p = static_cast<uint32_t>(pc);
    if (writes_r10(in)) {
      errors.push_back(
          {p, "r10-write", "r10 is the read-only frame pointer; it cannot be written"});
      out.emplace_back(Exit{});
      continue;
    }
    const Row* row = find_row(in);
    if (row == nullptr) {
      errors.push_back({p, "invalid-insn",
                        fmt::format("invalid instruction (opcode 0x{:02x} dst r{} src r{} off {} "
                                    "imm {}): unknown opcode or a reserved field is not zero",
                                    in.opcode, in.dst, in.src, in.off, in.imm)});
      out.emplace_back(Exit{});
      continue;
    }
    if (row->form != Form::kLddw) {
      out.push_back(from_row(*row, in, nullptr, p));
      continue;
    }
    if (pc + 1 >= insns.size()) {
      errors.push_back({p, "lddw-truncated", "lddw is missing its second instruction slot"});
      out.emplace_back(Exit{});
      continue;
    }
    const Insn& next = insns[pc + 1];
    if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.off != 0) {
      errors.push_back({p + 1, "invalid-insn",
                        "the second slot of lddw must have opcode, registers and offset zero"});
    }
    out.push_back(from_row(*row, in, &next, p));
    out.emplace_back(LddwTail{});
    ++pc;
  }
  return out;
}

bool is_jump_or_exit(const Instruction& insn) {
  if (std::holds_alternative<Exit>(insn)) return true;
  const auto* j = std::get_if<Jump>(&insn);
  return j != nullptr && j->op == JmpOp::kJa;
}

}  // namespace fusebpf::bpf::verifier
