// Disassembler: instructions to the ubpf-style text that assemble() reads back
// (src/bpf/README.md, "Assembly"). Mnemonics come from abi/bpf_isa.def.
#include <fmt/format.h>

#include "bpf/isa/isa.h"

namespace fusebpf::bpf::isa {
namespace {

std::string imm_text(int32_t imm) {
  if (imm > -0x10000 && imm < 0x10000) return fmt::format("{}", imm);
  return fmt::format("{:#x}", static_cast<uint32_t>(imm));
}

std::string offset_text(int64_t off) {
  return fmt::format("{}{}", off < 0 ? "-" : "+", std::abs(off));
}

std::string mem_text(int reg, int16_t off) { return fmt::format("[r{}{}]", reg, offset_text(off)); }

std::string lddw_text(const Insn& insn, const Insn* next) {
  int32_t hi = next ? next->imm : 0;
  switch (insn.src) {
    case kPseudoMapFd:
      return fmt::format("lddw r{}, map[{}]", insn.dst, insn.imm);
    case kPseudoMapValue:
      return fmt::format("lddw r{}, map[{}]{}", insn.dst, insn.imm, offset_text(hi));
    default: {
      uint64_t v = static_cast<uint32_t>(insn.imm) | (uint64_t{static_cast<uint32_t>(hi)} << 32);
      return fmt::format("lddw r{}, {:#x}", insn.dst, v);
    }
  }
}

std::string call_text(Form form, const Insn& insn) {
  if (form == Form::kCallLocal) return fmt::format("call local {}", offset_text(insn.imm));
  if (form == Form::kCallKfunc) return fmt::format("call kfunc {}", insn.imm);
  return fmt::format("call {}", insn.imm);
}

}  // namespace

std::string disassemble(const Insn& insn, const Insn* next) {
  std::optional<Op> op = classify(insn);
  if (!op) {
    return fmt::format(".invalid {:#04x} dst={} src={} off={} imm={}", insn.opcode, insn.dst,
                       insn.src, insn.off, insn.imm);
  }
  const OpInfo& i = info(*op);
  const std::string_view mn = i.mnemonic;
  switch (i.form) {
    case Form::kAlu:
      if (i.source == SrcKind::kX) return fmt::format("{} r{}, r{}", mn, insn.dst, insn.src);
      return fmt::format("{} r{}, {}", mn, insn.dst, imm_text(insn.imm));
    case Form::kNeg:
    case Form::kEnd:
      return fmt::format("{} r{}", mn, insn.dst);
    case Form::kMovsx:
      return fmt::format("{} r{}, r{}", mn, insn.dst, insn.src);
    case Form::kJa:
      return fmt::format("{} {}", mn, offset_text(*op == Op::kJa32 ? insn.imm : insn.off));
    case Form::kJcc:
      if (i.source == SrcKind::kX)
        return fmt::format("{} r{}, r{}, {}", mn, insn.dst, insn.src, offset_text(insn.off));
      return fmt::format("{} r{}, {}, {}", mn, insn.dst, imm_text(insn.imm), offset_text(insn.off));
    case Form::kCall:
    case Form::kCallLocal:
    case Form::kCallKfunc:
      return call_text(i.form, insn);
    case Form::kExit:
      return std::string(mn);
    case Form::kLddw:
      return lddw_text(insn, next);
    case Form::kLoad:
    case Form::kLoadSx:
      return fmt::format("{} r{}, {}", mn, insn.dst, mem_text(insn.src, insn.off));
    case Form::kStoreImm:
      return fmt::format("{} {}, {}", mn, mem_text(insn.dst, insn.off), imm_text(insn.imm));
    case Form::kStoreReg:
    case Form::kAtomic:
      return fmt::format("{} {}, r{}", mn, mem_text(insn.dst, insn.off), insn.src);
  }
  return ".invalid";
}

std::string disassemble(std::span<const Insn> insns, bool with_pc) {
  std::string out;
  for (size_t pc = 0; pc < insns.size(); ++pc) {
    const Insn& insn = insns[pc];
    std::optional<Op> op = classify(insn);
    const bool wide = op && info(*op).form == Form::kLddw && pc + 1 < insns.size();
    if (with_pc) out += fmt::format("{:4}: ", pc);
    out += disassemble(insn, wide ? &insns[pc + 1] : nullptr);
    out += '\n';
    if (wide) ++pc;
  }
  return out;
}

}  // namespace fusebpf::bpf::isa
