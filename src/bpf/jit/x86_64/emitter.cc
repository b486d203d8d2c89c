// X86Emitter encodings (see emitter.h; Intel SDM vol. 2, chapter 2 and the instruction pages).
#include "bpf/jit/x86_64/emitter.h"

#include <fmt/format.h>

#include <cstring>

namespace fusebpf::bpf::jit::x86 {
namespace {

constexpr uint8_t kNoPrefix = 0;
constexpr uint8_t kOperand16 = 0x66;
constexpr uint8_t kLock = 0xf0;

uint8_t low3(Reg r) { return static_cast<uint8_t>(r) & 7; }
uint8_t high1(Reg r) { return static_cast<uint8_t>(r) >> 3; }
bool fits_i8(int64_t v) { return v >= -128 && v <= 127; }

}  // namespace

Label X86Emitter::new_label() {
  labels_.push_back(-1);
  return Label{static_cast<uint32_t>(labels_.size() - 1)};
}

void X86Emitter::bind(Label label) {
  if (labels_[label.id] >= 0) return fail(fmt::format("label {} bound twice", label.id));
  labels_[label.id] = static_cast<int64_t>(code_.size());
}

void X86Emitter::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
}

void X86Emitter::imm32(uint32_t v) {
  for (int i = 0; i < 4; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
}

void X86Emitter::imm64(uint64_t v) {
  for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
}

void X86Emitter::rel32_to(Label target) {
  fixups_.push_back(Fixup{code_.size(), target.id});
  imm32(0);
}

void X86Emitter::op_rr(uint8_t prefix, bool w, std::initializer_list<uint8_t> opcode, uint8_t reg,
                       Reg rm, bool byte_regs) {
  if (prefix != kNoPrefix) byte(prefix);
  const uint8_t rex = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | high1(rm);
  const bool needs_rex = rex != 0x40 || (byte_regs && ((reg & 7) >= 4 || low3(rm) >= 4));
  if (needs_rex) byte(rex);
  bytes(opcode);
  byte(static_cast<uint8_t>(0xc0 | ((reg & 7) << 3) | low3(rm)));
}

void X86Emitter::op_rm(uint8_t prefix, bool w, std::initializer_list<uint8_t> opcode, uint8_t reg,
                       Mem m, bool byte_reg) {
  if (prefix != kNoPrefix) byte(prefix);
  const uint8_t rex = 0x40 | (w ? 8 : 0) | ((reg >> 3) << 2) | high1(m.base);
  if (rex != 0x40 || (byte_reg && (reg & 7) >= 4)) byte(rex);
  bytes(opcode);
  // mod 00 with base rbp/r13 means rip-relative/disp32, so those always carry a displacement.
  const uint8_t mod = (m.disp == 0 && low3(m.base) != 5) ? 0 : fits_i8(m.disp) ? 1 : 2;
  byte(static_cast<uint8_t>((mod << 6) | ((reg & 7) << 3) | low3(m.base)));
  if (low3(m.base) == 4) byte(0x24);  // SIB: no index, base rsp/r12
  if (mod == 1) byte(static_cast<uint8_t>(m.disp));
  if (mod == 2) imm32(static_cast<uint32_t>(m.disp));
}

void X86Emitter::alu(AluOp op, bool w64, Reg dst, Reg src) {
  // 01/09/21/29/31/39 /r: op r/m, reg.
  op_rr(kNoPrefix, w64, {static_cast<uint8_t>(static_cast<uint8_t>(op) << 3 | 1)},
        static_cast<uint8_t>(src), dst);
}

void X86Emitter::alu(AluOp op, bool w64, Reg dst, int32_t imm) {
  if (fits_i8(imm)) {
    op_rr(kNoPrefix, w64, {0x83}, static_cast<uint8_t>(op), dst);
    byte(static_cast<uint8_t>(imm));
  } else {
    op_rr(kNoPrefix, w64, {0x81}, static_cast<uint8_t>(op), dst);
    imm32(static_cast<uint32_t>(imm));
  }
}

void X86Emitter::alu(AluOp op, Mem dst, int32_t imm) {
  if (fits_i8(imm)) {
    op_rm(kNoPrefix, true, {0x83}, static_cast<uint8_t>(op), dst);
    byte(static_cast<uint8_t>(imm));
  } else {
    op_rm(kNoPrefix, true, {0x81}, static_cast<uint8_t>(op), dst);
    imm32(static_cast<uint32_t>(imm));
  }
}

void X86Emitter::test(bool w64, Reg a, Reg b) {
  op_rr(kNoPrefix, w64, {0x85}, static_cast<uint8_t>(b), a);
}

void X86Emitter::test(bool w64, Reg a, int32_t imm) {
  op_rr(kNoPrefix, w64, {0xf7}, 0, a);
  imm32(static_cast<uint32_t>(imm));
}

void X86Emitter::imul(bool w64, Reg dst, Reg src) {
  op_rr(kNoPrefix, w64, {0x0f, 0xaf}, static_cast<uint8_t>(dst), src);
}

void X86Emitter::imul(bool w64, Reg dst, Reg src, int32_t imm) {
  op_rr(kNoPrefix, w64, {0x69}, static_cast<uint8_t>(dst), src);
  imm32(static_cast<uint32_t>(imm));
}

void X86Emitter::neg(bool w64, Reg reg) { op_rr(kNoPrefix, w64, {0xf7}, 3, reg); }

void X86Emitter::shift(ShiftOp op, Width width, Reg reg, uint8_t count) {
  const uint8_t prefix = width == Width::k16 ? kOperand16 : kNoPrefix;
  op_rr(prefix, width == Width::k64, {0xc1}, static_cast<uint8_t>(op), reg);
  byte(count);
}

void X86Emitter::shift_cl(ShiftOp op, bool w64, Reg reg) {
  op_rr(kNoPrefix, w64, {0xd3}, static_cast<uint8_t>(op), reg);
}

void X86Emitter::div(bool w64, bool is_signed, Reg divisor) {
  op_rr(kNoPrefix, w64, {0xf7}, is_signed ? 7 : 6, divisor);
}

void X86Emitter::sign_extend_rax(bool w64) {
  if (w64) byte(0x48);
  byte(0x99);
}

void X86Emitter::mov(bool w64, Reg dst, Reg src) {
  op_rr(kNoPrefix, w64, {0x89}, static_cast<uint8_t>(src), dst);
}

void X86Emitter::mov_imm32(Reg dst, uint32_t imm) {
  if (high1(dst)) byte(0x41);
  byte(static_cast<uint8_t>(0xb8 + low3(dst)));
  imm32(imm);
}

void X86Emitter::mov_imm64(Reg dst, uint64_t imm) {
  if (imm <= UINT32_MAX) return mov_imm32(dst, static_cast<uint32_t>(imm));
  const auto simm = static_cast<int64_t>(imm);
  if (simm >= INT32_MIN && simm <= INT32_MAX) {
    op_rr(kNoPrefix, true, {0xc7}, 0, dst);  // sign-extended imm32
    imm32(static_cast<uint32_t>(imm));
    return;
  }
  byte(static_cast<uint8_t>(0x48 | high1(dst)));
  byte(static_cast<uint8_t>(0xb8 + low3(dst)));
  imm64(imm);
}

void X86Emitter::movzx16(Reg dst, Reg src) {
  op_rr(kNoPrefix, false, {0x0f, 0xb7}, static_cast<uint8_t>(dst), src);
}

void X86Emitter::movsx(Width from, bool w64, Reg dst, Reg src) {
  const auto d = static_cast<uint8_t>(dst);
  switch (from) {
    case Width::k8:
      return op_rr(kNoPrefix, w64, {0x0f, 0xbe}, d, src, /*byte_regs=*/true);
    case Width::k16:
      return op_rr(kNoPrefix, w64, {0x0f, 0xbf}, d, src);
    case Width::k32:
      if (!w64) return fail("movsx from 32 bits needs a 64-bit destination");
      return op_rr(kNoPrefix, true, {0x63}, d, src);
    case Width::k64:
      return fail("movsx from 64 bits");
  }
}

void X86Emitter::bswap(bool w64, Reg reg) {
  byte(static_cast<uint8_t>(0x40 | (w64 ? 8 : 0) | high1(reg)));
  bytes({0x0f, static_cast<uint8_t>(0xc8 + low3(reg))});
}

void X86Emitter::load(Width width, bool sign_extend, Reg dst, Mem src) {
  const auto d = static_cast<uint8_t>(dst);
  switch (width) {
    case Width::k8:
      return op_rm(kNoPrefix, sign_extend, {0x0f, uint8_t(sign_extend ? 0xbe : 0xb6)}, d, src);
    case Width::k16:
      return op_rm(kNoPrefix, sign_extend, {0x0f, uint8_t(sign_extend ? 0xbf : 0xb7)}, d, src);
    case Width::k32:
      return sign_extend ? op_rm(kNoPrefix, true, {0x63}, d, src)
                         : op_rm(kNoPrefix, false, {0x8b}, d, src);
    case Width::k64:
      return op_rm(kNoPrefix, true, {0x8b}, d, src);
  }
}

void X86Emitter::store(Width width, Mem dst, Reg src) {
  const auto s = static_cast<uint8_t>(src);
  switch (width) {
    case Width::k8:
      return op_rm(kNoPrefix, false, {0x88}, s, dst, /*byte_reg=*/true);
    case Width::k16:
      return op_rm(kOperand16, false, {0x89}, s, dst);
    case Width::k32:
      return op_rm(kNoPrefix, false, {0x89}, s, dst);
    case Width::k64:
      return op_rm(kNoPrefix, true, {0x89}, s, dst);
  }
}

void X86Emitter::store_imm(Width width, Mem dst, int32_t imm) {
  switch (width) {
    case Width::k8:
      op_rm(kNoPrefix, false, {0xc6}, 0, dst);
      return byte(static_cast<uint8_t>(imm));
    case Width::k16:
      op_rm(kOperand16, false, {0xc7}, 0, dst);
      byte(static_cast<uint8_t>(imm));
      return byte(static_cast<uint8_t>(imm >> 8));
    case Width::k32:
    case Width::k64:
      op_rm(kNoPrefix, width == Width::k64, {0xc7}, 0, dst);
      return imm32(static_cast<uint32_t>(imm));
  }
}

void X86Emitter::lea(Reg dst, Mem src) {
  op_rm(kNoPrefix, true, {0x8d}, static_cast<uint8_t>(dst), src);
}

void X86Emitter::lock_alu(AluOp op, bool w64, Mem dst, Reg src) {
  if (op == AluOp::kSub || op == AluOp::kCmp) return fail("lock_alu: unsupported operation");
  op_rm(kLock, w64, {static_cast<uint8_t>(static_cast<uint8_t>(op) << 3 | 1)},
        static_cast<uint8_t>(src), dst);
}

void X86Emitter::lock_xadd(bool w64, Mem dst, Reg src) {
  op_rm(kLock, w64, {0x0f, 0xc1}, static_cast<uint8_t>(src), dst);
}

void X86Emitter::xchg(bool w64, Mem dst, Reg src) {
  op_rm(kNoPrefix, w64, {0x87}, static_cast<uint8_t>(src), dst);  // implicitly locked
}

void X86Emitter::lock_cmpxchg(bool w64, Mem dst, Reg src) {
  op_rm(kLock, w64, {0x0f, 0xb1}, static_cast<uint8_t>(src), dst);
}

void X86Emitter::push(Reg reg) {
  if (high1(reg)) byte(0x41);
  byte(static_cast<uint8_t>(0x50 + low3(reg)));
}

void X86Emitter::pop(Reg reg) {
  if (high1(reg)) byte(0x41);
  byte(static_cast<uint8_t>(0x58 + low3(reg)));
}

void X86Emitter::jmp(Label target) {
  byte(0xe9);
  rel32_to(target);
}

void X86Emitter::jcc(Cond cond, Label target) {
  bytes({0x0f, static_cast<uint8_t>(0x80 | static_cast<uint8_t>(cond))});
  rel32_to(target);
}

void X86Emitter::call(Label target) {
  byte(0xe8);
  rel32_to(target);
}

void X86Emitter::call(Reg target) { op_rr(kNoPrefix, false, {0xff}, 2, target); }

void X86Emitter::ret() { byte(0xc3); }

Result<std::vector<uint8_t>, std::string> X86Emitter::finish() {
  for (const Fixup& f : fixups_) {
    const int64_t target = labels_[f.label];
    if (target < 0) {
      fail(fmt::format("label {} referenced but never bound", f.label));
      break;
    }
    const int64_t rel = target - static_cast<int64_t>(f.at + 4);
    if (rel < INT32_MIN || rel > INT32_MAX) {
      fail("jump out of rel32 range");
      break;
    }
    const auto v = static_cast<uint32_t>(static_cast<int32_t>(rel));
    std::memcpy(&code_[f.at], &v, sizeof(v));
  }
  if (!ok()) return ::fusebpf::fail(error_);
  return std::move(code_);
}

}  // namespace fusebpf::bpf::jit::x86
