// Decoding: every instruction slot is classified by the ISA table (isa::classify over
// abi/bpf_isa.def, STYLE.md F26) and turned into an AST node. A slot that matches no row is
// invalid; writes to r10 get their own diagnostic because they are a common mistake.
#include <fmt/format.h>

#include "bpf/isa/isa.h"
#include "bpf/verifier/internal/ast.h"

namespace fusebpf::bpf::verifier {
namespace {

using isa::Form;
using isa::InsnClass;
using isa::OpInfo;
using isa::SrcKind;

// Whether the instruction would be valid if dst were r0: then its only fault is writing r10.
bool writes_r10(const Insn& in) {
  if (in.dst != kFramePointer) return false;
  Insn copy = in;
  copy.dst = 0;
  const auto op = isa::classify(copy);
  return op.has_value() && isa::info(*op).dst.kind == isa::FieldRule::kWriteReg;
}

Operand operand(const OpInfo& r, const Insn& in) {
  if (r.source == SrcKind::kX) return Operand{true, in.src, 0};
  return Operand{false, 0, in.imm};
}

Instruction from_row(const OpInfo& r, const Insn& in, const Insn* next, uint32_t pc) {
  const uint8_t size = r.width / 8;
  switch (r.form) {
    case Form::kAlu:
    case Form::kNeg:
    case Form::kMovsx:
      return Alu{static_cast<AluOp>(in.opcode & 0xf0), r.cls == InsnClass::kAlu64, in.dst,
                 operand(r, in), in.off};
    case Form::kEnd:
      return Endian{in.dst, r.width, r.cls == InsnClass::kAlu64 || r.source == SrcKind::kX};
    case Form::kJa: {
      const int64_t rel = r.cls == InsnClass::kJmp32 ? int64_t{in.imm} : int64_t{in.off};
      return Jump{JmpOp::kJa, false, 0, {}, int64_t{pc} + rel + 1};
    }
    case Form::kJcc:
      return Jump{static_cast<JmpOp>(in.opcode & 0xf0), r.cls == InsnClass::kJmp32, in.dst,
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
    const auto op = isa::classify(in);
    if (!op) {
      errors.push_back(
          {p, "invalid-insn",
           fmt::format("invalid instruction: {} (opcode 0x{:02x} dst r{} src r{} off "
                       "{} imm {})",
                       isa::explain_invalid(in), in.opcode, in.dst, in.src, in.off, in.imm)});
      out.emplace_back(Exit{});
      continue;
    }
    const OpInfo* row = &isa::info(*op);
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
    if (next.opcode != 0 || next.dst != 0 || next.src != 0 || next.off != 0 ||
        (in.src == kPseudoMapFd && next.imm != 0)) {
      errors.push_back({p + 1, "invalid-insn",
                        "malformed second slot of lddw: opcode, registers and offset must be "
                        "zero (and imm too for a map reference)"});
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
