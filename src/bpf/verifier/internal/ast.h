// The verifier's decoded program: one std::variant node per instruction slot (PREVAIL-style
// AST, STYLE.md F27/F28). Decoding checks every field against abi/bpf_isa.def, so the
// analysis visitors never see an invalid encoding. The second slot of lddw decodes to
// LddwTail, which no control flow may reach.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "bpf/program.h"

namespace fusebpf::bpf::verifier {

// Operation codes keep their ISA encodings (the BPF_OP bits) so decoding is a cast.
enum class AluOp : uint8_t {
  kAdd = 0x00,
  kSub = 0x10,
  kMul = 0x20,
  kDiv = 0x30,
  kOr = 0x40,
  kAnd = 0x50,
  kLsh = 0x60,
  kRsh = 0x70,
  kNeg = 0x80,
  kMod = 0x90,
  kXor = 0xa0,
  kMov = 0xb0,
  kArsh = 0xc0,
};
enum class JmpOp : uint8_t {
  kJa = 0x00,
  kJeq = 0x10,
  kJgt = 0x20,
  kJge = 0x30,
  kJset = 0x40,
  kJne = 0x50,
  kJsgt = 0x60,
  kJsge = 0x70,
  kJlt = 0xa0,
  kJle = 0xb0,
  kJslt = 0xc0,
  kJsle = 0xd0,
};
// Atomic operations (imm of BPF_STX|BPF_ATOMIC without the FETCH bit).
enum class AtomicOp : uint8_t {
  kAdd = 0x00,
  kOr = 0x40,
  kAnd = 0x50,
  kXor = 0xa0,
  kXchg = 0xe0,
  kCmpxchg = 0xf0
};

inline constexpr uint8_t kFramePointer = 10;
inline constexpr int kNumRegs = 11;

// A register or a (sign-extended) immediate.
struct Operand {
  bool is_reg = false;
  uint8_t reg = 0;
  int64_t imm = 0;
};

struct Alu {
  AluOp op;
  bool is64;
  uint8_t dst;
  Operand src;
  int16_t off;  // 1: signed div/mod; 8/16/32: movsx width
};
// Byte order: `swap` reverses bytes (be* on our little-endian hosts, and ALU64 bswap);
// otherwise the value is truncated to `bits` (le*).
struct Endian {
  uint8_t dst;
  uint8_t bits;
  bool swap;
};
struct LoadImm {
  enum class Kind : uint8_t { kImm, kMapFd, kMapValue };
  uint8_t dst;
  Kind kind;
  uint64_t imm;      // kImm: the value; otherwise the map index (first imm)
  uint32_t map_off;  // kMapValue: offset into the value (second imm)
};
struct Load {
  uint8_t dst;
  uint8_t base;
  int16_t off;
  uint8_t size;  // bytes
  bool sign_extend;
};
struct Store {
  uint8_t base;
  int16_t off;
  uint8_t size;
  Operand value;
};
struct Atomic {
  uint8_t base;
  int16_t off;
  uint8_t size;
  uint8_t src;
  AtomicOp op;
  bool fetch;
};
struct Jump {
  JmpOp op;  // kJa: unconditional
  bool is32;
  uint8_t dst;
  Operand src;
  int64_t target;  // absolute pc (may be out of range until the CFG check)
};
struct Call {
  enum class Kind : uint8_t { kHelper, kKfunc, kLocal };
  Kind kind;
  int32_t imm;
  int64_t target;  // kLocal: absolute pc of the callee
};
struct Exit {};
struct LddwTail {};

using Instruction =
    std::variant<Alu, Endian, LoadImm, Load, Store, Atomic, Jump, Call, Exit, LddwTail>;

struct DecodeError {
  uint32_t pc;
  std::string code;
  std::string message;
};

// Decodes every slot. Invalid encodings are reported (and decoded as Exit so the result stays
// index-aligned with the raw instructions).
std::vector<Instruction> decode(std::span<const Insn> insns, std::vector<DecodeError>& errors);

// Whether insn ends a function legally: exit or an unconditional jump.
bool is_jump_or_exit(const Instruction& insn);

}  // namespace fusebpf::bpf::verifier
