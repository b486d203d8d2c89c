// The scalar domain: a 64-bit value known to lie in a signed interval AND an unsigned
// interval (both kept, as the kernel does, because clang mixes signed and unsigned compares
// on the same register). A value type with join/widen/meet and the ALU transfer functions.
// Invariant (after normalize()): the intervals are non-empty and each is as tight as the
// other allows; a constant has umin == umax.
#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "bpf/verifier/internal/ast.h"

namespace fusebpf::bpf::verifier {

struct Scalar {
  int64_t smin = std::numeric_limits<int64_t>::min();
  int64_t smax = std::numeric_limits<int64_t>::max();
  uint64_t umin = 0;
  uint64_t umax = std::numeric_limits<uint64_t>::max();

  static Scalar top() { return {}; }
  static Scalar constant(uint64_t v);
  static Scalar urange(uint64_t lo, uint64_t hi);
  static Scalar srange(int64_t lo, int64_t hi);
  // The unknown value of an unsigned `bytes`-wide load (zero-extended), or signed if sx.
  static Scalar of_width(uint32_t bytes, bool sign_extend = false);

  bool is_const() const { return umin == umax; }
  bool is_top() const { return *this == Scalar{}; }
  // Tightens each interval with the other. Returns false when the value set is empty.
  bool normalize();
  bool operator==(const Scalar&) const = default;
  // Whether every value of `other` is a value of this.
  bool contains(const Scalar& other) const;
  Scalar join(const Scalar& other) const;
  // Widening with thresholds: a bound that grows jumps to the nearest threshold (sorted
  // ascending) beyond it, else to the type's extreme, so loops converge quickly.
  Scalar widen(const Scalar& next, std::span<const int64_t> thresholds) const;
  std::string to_string() const;
};

// Exact BPF semantics of one ALU operation on concrete values (division by zero gives 0,
// modulo by zero leaves the dividend, shifts mask their count).
uint64_t eval_alu(AluOp op, bool is64, int16_t off, uint64_t a, uint64_t b);
bool eval_jmp(JmpOp op, bool is32, uint64_t a, uint64_t b);

// Abstract ALU: the set of results of `a op b` (op != kNeg/kMov use both operands).
Scalar alu(AluOp op, bool is64, int16_t off, const Scalar& a, const Scalar& b);
Scalar byte_swap(const Scalar& a, uint8_t bits, bool swap);

// Branch refinement: narrows a and b to the values for which `a op b` is `taken`.
// Returns false when that outcome is impossible.
bool refine(JmpOp op, bool is32, bool taken, Scalar& a, Scalar& b);

}  // namespace fusebpf::bpf::verifier
