// X86Emitter: an x86-64 machine-code assembler with exactly the instruction forms the eBPF JIT
// needs. Typed registers, one method per instruction form, labels with forward-jump fixups
// (rel32, patched in finish()), and a sticky error state that the caller checks once.
//
// Encoding reference: Intel SDM vol. 2 (REX, ModRM/SIB). Every memory operand is
// [base + disp] without an index; rsp/r12 bases get a SIB byte, rbp/r13 always a displacement.
// Not thread-safe; one emitter per compilation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "base/result.h"

namespace fusebpf::bpf::jit::x86 {

enum class Reg : uint8_t {
  kRax,
  kRcx,
  kRdx,
  kRbx,
  kRsp,
  kRbp,
  kRsi,
  kRdi,
  kR8,
  kR9,
  kR10,
  kR11,
  kR12,
  kR13,
  kR14,
  kR15,
};

// Condition codes (the low nibble of Jcc).
enum class Cond : uint8_t {
  kB = 0x2,
  kAe = 0x3,
  kE = 0x4,
  kNe = 0x5,
  kBe = 0x6,
  kA = 0x7,
  kL = 0xc,
  kGe = 0xd,
  kLe = 0xe,
  kG = 0xf,
};

// Group-1 ALU operations; the value is the /digit of the 0x81 form.
enum class AluOp : uint8_t { kAdd = 0, kOr = 1, kAnd = 4, kSub = 5, kXor = 6, kCmp = 7 };
// Group-2 shifts; the value is the /digit.
enum class ShiftOp : uint8_t { kRol = 0, kShl = 4, kShr = 5, kSar = 7 };

// Operand size in bytes.
enum class Width : uint8_t { k8 = 1, k16 = 2, k32 = 4, k64 = 8 };

struct Mem {
  Reg base;
  int32_t disp = 0;
};

struct Label {
  uint32_t id;
};

class X86Emitter {
 public:
  Label new_label();
  void bind(Label label);
  bool bound(Label label) const { return labels_[label.id] >= 0; }

  // Register/immediate ALU (w64: 64-bit operation, else 32-bit, which zero-extends).
  void alu(AluOp op, bool w64, Reg dst, Reg src);
  void alu(AluOp op, bool w64, Reg dst, int32_t imm);
  void alu(AluOp op, Mem dst, int32_t imm);  // 64-bit memory operand
  void test(bool w64, Reg a, Reg b);
  void test(bool w64, Reg a, int32_t imm);
  void imul(bool w64, Reg dst, Reg src);
  void imul(bool w64, Reg dst, Reg src, int32_t imm);
  void neg(bool w64, Reg reg);
  void shift(ShiftOp op, Width width, Reg reg, uint8_t count);
  void shift_cl(ShiftOp op, bool w64, Reg reg);
  // div/idiv of rdx:rax (edx:eax) by `divisor`; cqo/cdq sign-extend rax into rdx.
  void div(bool w64, bool is_signed, Reg divisor);
  void sign_extend_rax(bool w64);

  // Moves.
  void mov(bool w64, Reg dst, Reg src);
  void mov_imm32(Reg dst, uint32_t imm);  // zero-extended into the 64-bit register
  void mov_imm64(Reg dst, uint64_t imm);  // shortest encoding of the 64-bit value
  void movzx16(Reg dst, Reg src);         // dst = (u16)src, zero-extended
  void movsx(Width from, bool w64, Reg dst, Reg src);
  void bswap(bool w64, Reg reg);

  // Memory.
  void load(Width width, bool sign_extend, Reg dst, Mem src);  // zero- or sign-extends to 64
  void store(Width width, Mem dst, Reg src);
  void store_imm(Width width, Mem dst, int32_t imm);  // k64: imm sign-extended
  void lea(Reg dst, Mem src);
  void lock_alu(AluOp op, bool w64, Mem dst, Reg src);  // add/or/and/xor only
  void lock_xadd(bool w64, Mem dst, Reg src);
  void xchg(bool w64, Mem dst, Reg src);
  void lock_cmpxchg(bool w64, Mem dst, Reg src);

  // Control flow.
  void push(Reg reg);
  void pop(Reg reg);
  void jmp(Label target);
  void jcc(Cond cond, Label target);
  void call(Label target);
  void call(Reg target);
  void ret();

  // Resolves fixups and returns the code; fails if any error was recorded or a referenced
  // label was never bound.
  Result<std::vector<uint8_t>, std::string> finish();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t size() const { return code_.size(); }

 private:
  struct Fixup {
    size_t at;  // offset of the rel32 field
    uint32_t label;
  };
  void fail(std::string message);
  void byte(uint8_t b) { code_.push_back(b); }
  void bytes(std::initializer_list<uint8_t> bs) { code_.insert(code_.end(), bs); }
  void imm32(uint32_t v);
  void imm64(uint64_t v);
  void rel32_to(Label target);
  // [prefix] [REX] opcode ModRM for a register rm; byte_regs forces REX so that indexes 4..7
  // name spl/bpl/sil/dil rather than ah/ch/dh/bh.
  void op_rr(uint8_t prefix, bool w, std::initializer_list<uint8_t> opcode, uint8_t reg, Reg rm,
             bool byte_regs = false);
  void op_rm(uint8_t prefix, bool w, std::initializer_list<uint8_t> opcode, uint8_t reg, Mem m,
             bool byte_reg = false);

  std::vector<uint8_t> code_;
  std::vector<int64_t> labels_;  // bound offset, or -1
  std::vector<Fixup> fixups_;
  std::string error_;
};

}  // namespace fusebpf::bpf::jit::x86
