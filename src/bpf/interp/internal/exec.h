// Per-row semantics of the interpreter. Each function is a template over isa::Op whose
// behaviour is selected at compile time from the row's table entry (class, source kind, width,
// form and selector field), so one template covers a whole opcode family (alu<Op>, ...).
// RFC 9669 semantics; this host is little-endian (static_assert below), so "le" is a
// truncation and "be"/"bswap" are byte swaps.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "bpf/interp/interpreter.h"
#include "bpf/isa/isa.h"

namespace fusebpf::bpf::interp::exec {

static_assert(std::endian::native == std::endian::little, "the engines assume a LE host");

using isa::Form;
using isa::Op;

template <Op kOp>
inline constexpr const isa::OpInfo& kInfo = isa::info(kOp);

// The operation field (high nibble) of an ALU/JMP opcode.
template <Op kOp>
inline constexpr uint8_t kCode = kInfo<kOp>.opcode & 0xf0;

// sdiv/smod are div/mod with off == 1.
template <Op kOp>
inline constexpr bool kSignedDivMod =
    kInfo<kOp>.off.kind == isa::FieldRule::kEqual&& kInfo<kOp>.off.value == 1;

template <typename U, uint8_t kCodeV, bool kSigned>
inline U alu_op(U a, U b) {
  using S = std::make_signed_t<U>;
  constexpr unsigned kMask = sizeof(U) * 8 - 1;
  switch (kCodeV) {
    case 0x00:
      return a + b;
    case 0x10:
      return a - b;
    case 0x20:
      return a * b;
    case 0x30:
      if (b == 0) return 0;
      if constexpr (kSigned) {
        if (static_cast<S>(b) == -1) return U{0} - a;  // INT_MIN / -1 wraps to INT_MIN
        return static_cast<U>(static_cast<S>(a) / static_cast<S>(b));
      }
      return a / b;
    case 0x40:
      return a | b;
    case 0x50:
      return a & b;
    case 0x60:
      return a << (b & kMask);
    case 0x70:
      return a >> (b & kMask);
    case 0x90:
      if (b == 0) return a;
      if constexpr (kSigned) {
        if (static_cast<S>(b) == -1) return 0;
        return static_cast<U>(static_cast<S>(a) % static_cast<S>(b));
      }
      return a % b;
    case 0xa0:
      return a ^ b;
    case 0xb0:
      return b;
    case 0xc0:
      return static_cast<U>(static_cast<S>(a) >> (b & kMask));
  }
  return 0;
}

template <Op kOp>
inline void alu(uint64_t* r, const Slot& s) {
  constexpr const isa::OpInfo& i = kInfo<kOp>;
  const uint64_t b = i.source == isa::SrcKind::kX ? r[s.src] : s.imm;
  if constexpr (i.width == 64) {
    r[s.dst] = alu_op<uint64_t, kCode<kOp>, kSignedDivMod<kOp>>(r[s.dst], b);
  } else {
    r[s.dst] = alu_op<uint32_t, kCode<kOp>, kSignedDivMod<kOp>>(static_cast<uint32_t>(r[s.dst]),
                                                                static_cast<uint32_t>(b));
  }
}

template <Op kOp>
inline void neg(uint64_t* r, const Slot& s) {
  if constexpr (kInfo<kOp>.width == 64)
    r[s.dst] = 0 - r[s.dst];
  else
    r[s.dst] = static_cast<uint32_t>(0 - static_cast<uint32_t>(r[s.dst]));
}

template <Op kOp>
inline void movsx(uint64_t* r, const Slot& s) {
  constexpr int kFrom = kInfo<kOp>.off.value;
  int64_t v;
  if constexpr (kFrom == 8)
    v = static_cast<int8_t>(r[s.src]);
  else if constexpr (kFrom == 16)
    v = static_cast<int16_t>(r[s.src]);
  else
    v = static_cast<int32_t>(r[s.src]);
  if constexpr (kInfo<kOp>.width == 64)
    r[s.dst] = static_cast<uint64_t>(v);
  else
    r[s.dst] = static_cast<uint32_t>(v);
}

template <Op kOp>
inline void end(uint64_t* r, const Slot& s) {
  constexpr unsigned kWidth = kInfo<kOp>.width;
  // ALU-class 0xd4 (source K) is "to little-endian": a truncation on this host.
  constexpr bool kTruncateOnly =
      kInfo<kOp>.cls == isa::InsnClass::kAlu && kInfo<kOp>.source == isa::SrcKind::kK;
  uint64_t v = r[s.dst];
  if constexpr (kWidth == 16) v = kTruncateOnly ? uint16_t(v) : __builtin_bswap16(uint16_t(v));
  if constexpr (kWidth == 32) v = kTruncateOnly ? uint32_t(v) : __builtin_bswap32(uint32_t(v));
  if constexpr (kWidth == 64 && !kTruncateOnly) v = __builtin_bswap64(v);
  r[s.dst] = v;
}

template <typename U>
inline U load_as(uint64_t addr) {
  U v;
  std::memcpy(&v, reinterpret_cast<const void*>(addr), sizeof(U));
  return v;
}

template <typename U>
inline void store_as(uint64_t addr, U v) {
  std::memcpy(reinterpret_cast<void*>(addr), &v, sizeof(U));
}

template <unsigned kWidth>
struct UInt;
template <>
struct UInt<8> {
  using T = uint8_t;
};
template <>
struct UInt<16> {
  using T = uint16_t;
};
template <>
struct UInt<32> {
  using T = uint32_t;
};
template <>
struct UInt<64> {
  using T = uint64_t;
};

template <Op kOp>
inline void memory(uint64_t* r, const Slot& s) {
  constexpr const isa::OpInfo& i = kInfo<kOp>;
  using U = typename UInt<i.width>::T;
  using S = std::make_signed_t<U>;
  if constexpr (i.form == Form::kLoad) {
    r[s.dst] = load_as<U>(r[s.src] + static_cast<int64_t>(s.aux));
  } else if constexpr (i.form == Form::kLoadSx) {
    r[s.dst] = static_cast<uint64_t>(static_cast<int64_t>(load_as<S>(r[s.src] + int64_t{s.aux})));
  } else if constexpr (i.form == Form::kStoreImm) {
    store_as<U>(r[s.dst] + int64_t{s.aux}, static_cast<U>(s.imm));
  } else {
    store_as<U>(r[s.dst] + int64_t{s.aux}, static_cast<U>(r[s.src]));
  }
}

template <Op kOp>
inline void atomic(uint64_t* r, const Slot& s) {
  constexpr const isa::OpInfo& i = kInfo<kOp>;
  using U = typename UInt<i.width>::T;
  constexpr int32_t kKind = i.imm.value;
  U* p = reinterpret_cast<U*>(r[s.dst] + int64_t{s.aux});
  const U v = static_cast<U>(r[s.src]);
  constexpr int kOrder = __ATOMIC_SEQ_CST;
  U old = 0;
  switch (kKind & ~1) {
    case 0x00:
      old = __atomic_fetch_add(p, v, kOrder);
      break;
    case 0x40:
      old = __atomic_fetch_or(p, v, kOrder);
      break;
    case 0x50:
      old = __atomic_fetch_and(p, v, kOrder);
      break;
    case 0xa0:
      old = __atomic_fetch_xor(p, v, kOrder);
      break;
    case 0xe0:
      old = __atomic_exchange_n(p, v, kOrder);
      break;
    case 0xf0: {
      U expected = static_cast<U>(r[0]);
      __atomic_compare_exchange_n(p, &expected, v, false, kOrder, kOrder);
      r[0] = expected;  // the old value, zero-extended, whether or not it was replaced
      return;
    }
  }
  if constexpr ((kKind & 1) != 0) r[s.src] = old;
}

// Taken-ness of a conditional jump.
template <Op kOp>
inline bool cond(const uint64_t* r, const Slot& s) {
  constexpr const isa::OpInfo& i = kInfo<kOp>;
  using U = std::conditional_t<i.width == 64, uint64_t, uint32_t>;
  using S = std::make_signed_t<U>;
  const U a = static_cast<U>(r[s.dst]);
  const U b = static_cast<U>(i.source == isa::SrcKind::kX ? r[s.src] : s.imm);
  switch (kCode<kOp>) {
    case 0x10:
      return a == b;
    case 0x20:
      return a > b;
    case 0x30:
      return a >= b;
    case 0x40:
      return (a & b) != 0;
    case 0x50:
      return a != b;
    case 0x60:
      return S(a) > S(b);
    case 0x70:
      return S(a) >= S(b);
    case 0xa0:
      return a < b;
    case 0xb0:
      return a <= b;
    case 0xc0:
      return S(a) < S(b);
    case 0xd0:
      return S(a) <= S(b);
  }
  return false;
}

// Every row whose execution is "update state, go to pc + 1".
template <Op kOp>
inline void step(uint64_t* r, const Slot& s) {
  constexpr Form kForm = kInfo<kOp>.form;
  if constexpr (kForm == Form::kAlu)
    alu<kOp>(r, s);
  else if constexpr (kForm == Form::kNeg)
    neg<kOp>(r, s);
  else if constexpr (kForm == Form::kMovsx)
    movsx<kOp>(r, s);
  else if constexpr (kForm == Form::kEnd)
    end<kOp>(r, s);
  else if constexpr (kForm == Form::kAtomic)
    atomic<kOp>(r, s);
  else
    memory<kOp>(r, s);
}

}  // namespace fusebpf::bpf::interp::exec
