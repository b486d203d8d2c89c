// The eBPF instruction set as data: the table generated from abi/bpf_isa.def, instruction
// classification and decoding, constexpr instruction builders, a disassembler and an assembler
// for the ubpf-style text used by tests/bpf/*.data (syntax: src/bpf/README.md, "Assembly").
//
// Everything here is pure and thread-safe. Nothing here trusts its input: classify() and
// decode() reject every encoding that is not a row of the table.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bpf/program.h"

namespace fusebpf::bpf::isa {

// ---- Execution limits shared by the interpreter and the JIT (src/bpf/README.md, "Engines") ----

// Bytes of stack per call frame; r10 points at the end of the current frame's stack.
inline constexpr uint32_t kStackBytes = 512;
// Nested BPF-to-BPF calls a run may make (program.h RunError::kCallDepth: "more than 8").
// A run therefore has at most kMaxCallDepth + 1 frames.
inline constexpr uint32_t kMaxCallDepth = 8;
// Default instruction budget of one run. Both engines count every executed instruction
// (lddw counts once) and fail with RunError::kBudgetExceeded when a run would execute more.
inline constexpr uint64_t kDefaultBudget = 1'000'000;

// Low 3 bits of the opcode.
enum class InsnClass : uint8_t {
  kLd = 0x00,
  kLdx = 0x01,
  kSt = 0x02,
  kStx = 0x03,
  kAlu = 0x04,
  kJmp = 0x05,
  kJmp32 = 0x06,
  kAlu64 = 0x07,
};

// The 0x08 source bit of ALU/JMP opcodes.
enum class SrcKind : uint8_t { kK, kX };

// Operand syntax and execution family of a row.
enum class Form : uint8_t {
  kAlu,        // dst op= src|imm (includes mov)
  kNeg,        // dst = -dst
  kMovsx,      // dst = sign-extended low off bits of src
  kEnd,        // byte swap of the low `width` bits (le/be/bswap)
  kJa,         // unconditional jump (off, or imm for ja32)
  kJcc,        // conditional jump by off
  kCall,       // helper call, imm = helper id
  kCallLocal,  // BPF-to-BPF call, imm = pc-relative target
  kCallKfunc,  // kfunc call, imm = index into RawProgram::kfunc_names
  kExit,       // return r0 from the current frame
  kLddw,       // two-slot 64-bit immediate / map reference load
  kLoad,       // dst = *(uN *)(src + off)
  kLoadSx,     // dst = *(sN *)(src + off)
  kStoreImm,   // *(uN *)(dst + off) = imm
  kStoreReg,   // *(uN *)(dst + off) = src
  kAtomic,     // atomic read-modify-write of *(uN *)(dst + off)
};

// What a field of an instruction may hold.
struct FieldRule {
  enum Kind : uint8_t { kZero, kAny, kReadReg, kWriteReg, kEqual };
  Kind kind = kZero;
  int32_t value = 0;
  constexpr bool accepts(int32_t v) const {
    switch (kind) {
      case kZero:
        return v == 0;
      case kAny:
        return true;
      case kReadReg:
        return v >= 0 && v <= 10;
      case kWriteReg:
        return v >= 0 && v <= 9;
      case kEqual:
        return v == value;
    }
    return false;
  }
};

// Spellings used by the rows of bpf_isa.def.
namespace rule {
inline constexpr FieldRule Zero{FieldRule::kZero, 0};
inline constexpr FieldRule Any{FieldRule::kAny, 0};
inline constexpr FieldRule Rd{FieldRule::kReadReg, 0};
inline constexpr FieldRule Wr{FieldRule::kWriteReg, 0};
constexpr FieldRule Eq(int32_t v) { return FieldRule{FieldRule::kEqual, v}; }
}  // namespace rule

// One enumerator per row of the table.
enum class Op : uint8_t {
#define FUSEBPF_ISA(name, ...) k##name,
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA
};

struct OpInfo {
  Op op;
  std::string_view name;  // the row name, e.g. "Sdiv64Imm"
  uint8_t opcode;
  std::string_view mnemonic;
  InsnClass cls;
  SrcKind source;
  uint8_t width;
  Form form;
  FieldRule dst, src, off, imm;
};

inline constexpr OpInfo kOps[] = {
#define FUSEBPF_ISA(name, opcode, mnemonic, cls, source, width, form, dst, src, off, imm) \
  OpInfo{Op::k##name, #name,      opcode,    mnemonic,  InsnClass::cls, SrcKind::source,  \
         width,       Form::form, rule::dst, rule::src, rule::off,      rule::imm},
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA
};
inline constexpr size_t kOpCount = std::size(kOps);

constexpr const OpInfo& info(Op op) { return kOps[static_cast<size_t>(op)]; }

// The row an instruction encodes, or nullopt when it is not a valid instruction. For lddw
// this checks only the first slot.
std::optional<Op> classify(const Insn& insn);
// Why classify() rejected insn (for diagnostics), e.g. "unknown opcode 0x8f".
std::string explain_invalid(const Insn& insn);

// ---- Builders (constexpr, for tests and generators) ----

// The value a field of row `op` gets from make(): Eq(n) fields are n and Zero fields 0
// whatever was passed, so make() of a valid register choice is always a valid encoding.
constexpr int32_t pinned(const FieldRule& rule, int32_t given) {
  return rule.kind == FieldRule::kEqual ? rule.value : rule.kind == FieldRule::kZero ? 0 : given;
}
// An instruction of row `op`.
constexpr Insn make(Op op, uint8_t dst = 0, uint8_t src = 0, int16_t off = 0, int32_t imm = 0) {
  const OpInfo& i = info(op);
  Insn insn;
  insn.opcode = i.opcode;
  insn.dst = static_cast<uint8_t>(pinned(i.dst, dst));
  insn.src = static_cast<uint8_t>(pinned(i.src, src));
  insn.off = static_cast<int16_t>(pinned(i.off, off));
  insn.imm = pinned(i.imm, imm);
  return insn;
}
// lddw dst, imm64 (two slots).
constexpr std::array<Insn, 2> make_lddw(uint8_t dst, uint64_t imm64) {
  Insn lo = make(Op::kLddw, dst, 0, 0, static_cast<int32_t>(static_cast<uint32_t>(imm64)));
  Insn hi;
  hi.imm = static_cast<int32_t>(static_cast<uint32_t>(imm64 >> 32));
  return {lo, hi};
}

// ---- Decoding ----

struct IsaError {
  uint32_t pc = 0;
  std::string message;  // names the pc: "unknown opcode 0x8f at pc 3"
};

// One instruction (lddw occupies two slots but decodes to one entry).
struct DecodedInsn {
  Op op;
  uint32_t pc;       // slot index of the (first slot of the) instruction
  Insn insn;         // the first slot
  int32_t next_imm;  // lddw: imm of the second slot (high half, or the map value offset)
  int64_t target;    // jumps and local calls: target pc; otherwise -1
};

// Decodes a whole program and checks its structure: every instruction is a row of the table,
// each lddw has a well-formed second slot, every jump and local-call target is inside the
// program and not the second slot of an lddw, and the last instruction does not fall through
// off the end. Does not check semantics (that is the verifier's job).
Result<std::vector<DecodedInsn>, IsaError> decode(std::span<const Insn> insns);

// The 64-bit value an lddw loads: its immediate, the Map* of a kPseudoMapFd reference (maps is
// indexed by imm), or array_base() + offset for kPseudoMapValue. Fails (with a message) when the
// map is not bound, is not an array, or the offset is outside its first value (as in the kernel).
// Shared by both engines.
Result<uint64_t, std::string> lddw_value(const DecodedInsn& lddw, std::span<Map* const> maps);

// Target pc of a jump (ja/ja32/jcc) or local call at `pc` (not range-checked).
constexpr int64_t branch_target(Op op, int64_t pc, const Insn& insn) {
  const OpInfo& i = info(op);
  if (op == Op::kJa32 || i.form == Form::kCallLocal) return pc + 1 + insn.imm;
  return pc + 1 + insn.off;
}

// ---- Text ----

// One instruction as assembler text, e.g. "ldxw r1, [r2+4]". `next` is the second slot of an
// lddw (nullptr: printed as if it held 0). Invalid encodings print as ".invalid 0x..".
std::string disassemble(const Insn& insn, const Insn* next = nullptr);
// A whole program, one instruction per line; with_pc prefixes "pc: ".
std::string disassemble(std::span<const Insn> insns, bool with_pc = false);

struct AsmError {
  uint32_t line = 0;  // 1-based
  std::string message;
};
// Assembles ubpf-style text: one instruction per line, `label:` lines, `#` or `;` comments,
// registers r0..r10 (or %r0..%r10), jump targets as +N/-N or a label.
Result<std::vector<Insn>, AsmError> assemble(std::string_view text);

// Hex bytes with optional whitespace ("b7 00 00 00 ..."), as conformance suites and golden
// tests write programs and memory. Errors name the bad character or an odd digit count.
Result<std::vector<uint8_t>, std::string> parse_hex_bytes(std::string_view text);

}  // namespace fusebpf::bpf::isa
