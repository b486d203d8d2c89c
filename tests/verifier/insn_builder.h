// constexpr instruction builders for C++ verifier tests and the bench (STYLE.md H34), e.g.
//   constexpr Insn prog[] = {mov64_imm(0, 0), exit_insn()};
// Encodings follow RFC 9669; names follow the kernel's BPF_* macros in spirit.
#pragma once

#include <array>
#include <cstdint>

#include "bpf/program.h"

namespace fusebpf::bpf::testing {

constexpr Insn make_insn(uint8_t opcode, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  Insn i;
  i.opcode = opcode;
  i.dst = dst;
  i.src = src;
  i.off = off;
  i.imm = imm;
  return i;
}

// ALU op codes (BPF_OP) and size codes (BPF_SIZE).
enum : uint8_t {
  kAdd = 0x00,
  kSub = 0x10,
  kMul = 0x20,
  kDiv = 0x30,
  kOr = 0x40,
  kAnd = 0x50,
  kLsh = 0x60,
  kRsh = 0x70,
  kMod = 0x90,
  kXor = 0xa0,
  kMov = 0xb0
};
enum : uint8_t { kW = 0x00, kH = 0x08, kB = 0x10, kDW = 0x18 };
enum : uint8_t {
  kJeq = 0x10,
  kJgt = 0x20,
  kJge = 0x30,
  kJne = 0x50,
  kJsgt = 0x60,
  kJlt = 0xa0,
  kJle = 0xb0
};

constexpr Insn alu64_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return make_insn(0x07 | op, dst, 0, 0, imm);
}
constexpr Insn alu64_reg(uint8_t op, uint8_t dst, uint8_t src) {
  return make_insn(0x0f | op, dst, src, 0, 0);
}
constexpr Insn alu32_imm(uint8_t op, uint8_t dst, int32_t imm) {
  return make_insn(0x04 | op, dst, 0, 0, imm);
}
constexpr Insn mov64_imm(uint8_t dst, int32_t imm) { return alu64_imm(kMov, dst, imm); }
constexpr Insn mov64_reg(uint8_t dst, uint8_t src) { return alu64_reg(kMov, dst, src); }
constexpr Insn ldx(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return make_insn(0x61 | size, dst, src, off, 0);
}
constexpr Insn stx(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return make_insn(0x63 | size, dst, src, off, 0);
}
constexpr Insn st(uint8_t size, uint8_t dst, int16_t off, int32_t imm) {
  return make_insn(0x62 | size, dst, 0, off, imm);
}
constexpr Insn jmp_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off) {
  return make_insn(0x05 | op, dst, 0, off, imm);
}
constexpr Insn jmp_reg(uint8_t op, uint8_t dst, uint8_t src, int16_t off) {
  return make_insn(0x0d | op, dst, src, off, 0);
}
constexpr Insn ja(int16_t off) { return make_insn(0x05, 0, 0, off, 0); }
constexpr Insn call_helper(int32_t id) { return make_insn(0x85, 0, 0, 0, id); }
constexpr Insn call_local(int32_t rel) { return make_insn(0x85, 0, kPseudoCall, 0, rel); }
constexpr Insn exit_insn() { return make_insn(0x95, 0, 0, 0, 0); }
// Two slots: a 64-bit constant, or map `index` (kPseudoMapFd).
constexpr std::array<Insn, 2> lddw(uint8_t dst, uint64_t v) {
  return {make_insn(0x18, dst, 0, 0, static_cast<int32_t>(v)),
          make_insn(0, 0, 0, 0, static_cast<int32_t>(v >> 32))};
}
constexpr std::array<Insn, 2> lddw_map(uint8_t dst, int32_t index) {
  return {make_insn(0x18, dst, kPseudoMapFd, 0, index), make_insn(0, 0, 0, 0, 0)};
}

}  // namespace fusebpf::bpf::testing
