// Interval arithmetic for the scalar domain. Every transfer function over-approximates: when
// an operation might wrap, the affected interval becomes the full range.
#include "bpf/verifier/internal/scalar.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

namespace fusebpf::bpf::verifier {
namespace {

constexpr int64_t kSMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kSMax = std::numeric_limits<int64_t>::max();
constexpr uint64_t kUMax = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kU32Max = 0xffffffffu;
using i128 = __int128;

// All bits up to and including the highest set bit of x.
uint64_t fill_bits(uint64_t x) { return x == 0 ? 0 : kUMax >> std::countl_zero(x); }

Scalar from_i128(i128 lo, i128 hi) {
  if (lo < kSMin || hi > kSMax) return Scalar::top();
  return Scalar::srange(static_cast<int64_t>(lo), static_cast<int64_t>(hi));
}

// Unsigned-interval result [lo, hi] unless it overflowed.
Scalar from_u128(unsigned __int128 lo, unsigned __int128 hi) {
  if (hi > kUMax) return Scalar::top();
  return Scalar::urange(static_cast<uint64_t>(lo), static_cast<uint64_t>(hi));
}

Scalar meet(const Scalar& a, const Scalar& b) {
  Scalar r;
  r.smin = std::max(a.smin, b.smin);
  r.smax = std::min(a.smax, b.smax);
  r.umin = std::max(a.umin, b.umin);
  r.umax = std::min(a.umax, b.umax);
  return r;
}

Scalar add(const Scalar& a, const Scalar& b) {
  Scalar s = from_i128(i128{a.smin} + b.smin, i128{a.smax} + b.smax);
  Scalar u = from_u128(static_cast<unsigned __int128>(a.umin) + b.umin,
                       static_cast<unsigned __int128>(a.umax) + b.umax);
  return meet(s, u);
}

Scalar sub(const Scalar& a, const Scalar& b) {
  Scalar s = from_i128(i128{a.smin} - b.smax, i128{a.smax} - b.smin);
  Scalar u = a.umin >= b.umax ? Scalar::urange(a.umin - b.umax, a.umax - b.umin) : Scalar::top();
  return meet(s, u);
}

Scalar mul(const Scalar& a, const Scalar& b) {
  const unsigned __int128 hi = static_cast<unsigned __int128>(a.umax) * b.umax;
  return from_u128(static_cast<unsigned __int128>(a.umin) * b.umin, hi);
}

// Shifts with a known count; `bits` is the operation width (32 or 64).
Scalar shift_const(AluOp op, const Scalar& a, uint64_t count, int bits) {
  const unsigned s = static_cast<unsigned>(count & (bits - 1));
  switch (op) {
    case AluOp::kLsh:
      if (s != 0 && (a.umax >> (64 - s)) != 0) return Scalar::top();
      return Scalar::urange(a.umin << s, a.umax << s);
    case AluOp::kRsh:
      return Scalar::urange(a.umin >> s, a.umax >> s);
    default:
      return Scalar::srange(a.smin >> s, a.smax >> s);  // kArsh (64-bit only here)
  }
}

// 64-bit abstract operation on non-constant operands.
Scalar alu64(AluOp op, int16_t off, const Scalar& a, const Scalar& b, int bits) {
  switch (op) {
    case AluOp::kAdd:
      return add(a, b);
    case AluOp::kSub:
      return sub(a, b);
    case AluOp::kMul:
      return mul(a, b);
    case AluOp::kDiv:
      if (off != 0) return Scalar::top();
      if (b.umin == 0) return Scalar::urange(0, a.umax);
      return Scalar::urange(a.umin / b.umax, a.umax / b.umin);
    case AluOp::kMod:
      if (off != 0) return Scalar::top();
      if (b.umin == 0) return Scalar::urange(0, a.umax);
      return Scalar::urange(0, std::min(a.umax, b.umax - 1));
    case AluOp::kAnd:
      return Scalar::urange(0, std::min(a.umax, b.umax));
    case AluOp::kOr:
      return Scalar::urange(std::max(a.umin, b.umin), fill_bits(a.umax | b.umax));
    case AluOp::kXor:
      return Scalar::urange(0, fill_bits(a.umax | b.umax));
    case AluOp::kLsh:
    case AluOp::kRsh:
    case AluOp::kArsh:
      if (b.is_const()) return shift_const(op, a, b.umin, bits);
      if (op == AluOp::kRsh) return Scalar::urange(0, a.umax);
      if (op == AluOp::kArsh)
        return Scalar::srange(std::min<int64_t>(a.smin, 0), std::max<int64_t>(a.smax, 0));
      return Scalar::top();
    case AluOp::kNeg:
      if (a.smin == kSMin) return Scalar::top();
      return Scalar::srange(-a.smax, -a.smin);
    case AluOp::kMov:
      if (off == 0) return b;
      if (b.smin >= -(int64_t{1} << (off - 1)) && b.smax < (int64_t{1} << (off - 1))) return b;
      return Scalar::srange(-(int64_t{1} << (off - 1)), (int64_t{1} << (off - 1)) - 1);
  }
  return Scalar::top();
}

// The low 32 bits of a value, as a scalar in [0, 2^32-1].
Scalar low32(const Scalar& a) {
  if (a.is_const()) return Scalar::constant(a.umin & kU32Max);
  if (a.umax <= kU32Max) return a;
  return Scalar::urange(0, kU32Max);
}

Scalar alu32(AluOp op, int16_t off, const Scalar& a, const Scalar& b) {
  const Scalar a32 = low32(a), b32 = low32(b);
  if ((a32.is_const() || op == AluOp::kMov) && (b32.is_const() || op == AluOp::kNeg))
    return Scalar::constant(eval_alu(op, false, off, a32.umin, b32.umin));
  // Signed 32-bit operations are precise only on constants.
  const bool is_signed = op == AluOp::kArsh || op == AluOp::kNeg || off != 0;
  if (is_signed) return Scalar::urange(0, kU32Max);
  Scalar r = alu64(op, off, a32, b32, 32);
  if (r.smin < 0 || r.umax > kU32Max) return Scalar::urange(0, kU32Max);
  return r;
}

}  // namespace

Scalar Scalar::constant(uint64_t v) {
  return Scalar{static_cast<int64_t>(v), static_cast<int64_t>(v), v, v};
}
Scalar Scalar::urange(uint64_t lo, uint64_t hi) {
  Scalar s;
  s.umin = lo;
  s.umax = hi;
  s.normalize();
  return s;
}
Scalar Scalar::srange(int64_t lo, int64_t hi) {
  Scalar s;
  s.smin = lo;
  s.smax = hi;
  s.normalize();
  return s;
}
Scalar Scalar::of_width(uint32_t bytes, bool sign_extend) {
  if (bytes >= 8) return top();
  const unsigned bits = bytes * 8;
  if (sign_extend) return srange(-(int64_t{1} << (bits - 1)), (int64_t{1} << (bits - 1)) - 1);
  return urange(0, (uint64_t{1} << bits) - 1);
}

bool Scalar::normalize() {
  for (int round = 0; round < 2; ++round) {
    if (smin > smax || umin > umax) return false;
    if (smin >= 0 || smax < 0) {  // the signed range does not cross the sign boundary
      umin = std::max(umin, static_cast<uint64_t>(smin));
      umax = std::min(umax, static_cast<uint64_t>(smax));
    }
    if (umin > umax) return false;
    if (umax <= static_cast<uint64_t>(kSMax) || umin > static_cast<uint64_t>(kSMax)) {
      smin = std::max(smin, static_cast<int64_t>(umin));
      smax = std::min(smax, static_cast<int64_t>(umax));
    }
  }
  return smin <= smax && umin <= umax;
}

bool Scalar::contains(const Scalar& o) const {
  return smin <= o.smin && o.smax <= smax && umin <= o.umin && o.umax <= umax;
}

Scalar Scalar::join(const Scalar& o) const {
  return Scalar{std::min(smin, o.smin), std::max(smax, o.smax), std::min(umin, o.umin),
                std::max(umax, o.umax)};
}

Scalar Scalar::widen(const Scalar& next, std::span<const int64_t> th) const {
  Scalar r = join(next);
  if (r.smin < smin) {
    auto it = std::upper_bound(th.begin(), th.end(), r.smin);
    r.smin = it == th.begin() ? kSMin : *std::prev(it);
  }
  if (r.smax > smax) {
    auto it = std::lower_bound(th.begin(), th.end(), r.smax);
    r.smax = it == th.end() ? kSMax : *it;
  }
  if (r.umin < umin) r.umin = 0;
  if (r.umax > umax) {
    uint64_t widened = kUMax;
    if (r.umax <= static_cast<uint64_t>(kSMax)) {
      auto it = std::lower_bound(th.begin(), th.end(), static_cast<int64_t>(r.umax));
      if (it != th.end()) widened = static_cast<uint64_t>(*it);
    }
    r.umax = widened;
  }
  // Widening may only lose information; the two intervals re-tighten each other.
  r.normalize();
  return r;
}

std::string Scalar::to_string() const {
  if (is_const()) return smin < 0 ? fmt::format("{}", smin) : fmt::format("{}", umin);
  if (is_top()) return "unknown";
  return fmt::format("[{}, {}] (unsigned [{}, {}])", smin, smax, umin, umax);
}

uint64_t eval_alu(AluOp op, bool is64, int16_t off, uint64_t a, uint64_t b) {
  const uint64_t mask = is64 ? kUMax : kU32Max;
  const int bits = is64 ? 64 : 32;
  a &= mask;
  b &= mask;
  auto sx = [&](uint64_t v) {
    return is64 ? static_cast<int64_t>(v) : int64_t{static_cast<int32_t>(v)};
  };
  uint64_t r = 0;
  switch (op) {
    case AluOp::kAdd:
      r = a + b;
      break;
    case AluOp::kSub:
      r = a - b;
      break;
    case AluOp::kMul:
      r = a * b;
      break;
    case AluOp::kDiv:
      if (b == 0)
        r = 0;
      else if (off == 0)
        r = a / b;
      else if (sx(b) == -1)
        r = static_cast<uint64_t>(-static_cast<uint64_t>(sx(a)));
      else
        r = static_cast<uint64_t>(sx(a) / sx(b));
      break;
    case AluOp::kMod:
      if (b == 0)
        r = a;
      else if (off == 0)
        r = a % b;
      else if (sx(b) == -1)
        r = 0;
      else
        r = static_cast<uint64_t>(sx(a) % sx(b));
      break;
    case AluOp::kOr:
      r = a | b;
      break;
    case AluOp::kAnd:
      r = a & b;
      break;
    case AluOp::kXor:
      r = a ^ b;
      break;
    case AluOp::kLsh:
      r = a << (b & (bits - 1));
      break;
    case AluOp::kRsh:
      r = a >> (b & (bits - 1));
      break;
    case AluOp::kArsh:
      r = static_cast<uint64_t>(sx(a) >> (b & (bits - 1)));
      break;
    case AluOp::kNeg:
      r = -a;
      break;
    case AluOp::kMov:
      if (off == 8)
        r = static_cast<uint64_t>(int64_t{static_cast<int8_t>(b)});
      else if (off == 16)
        r = static_cast<uint64_t>(int64_t{static_cast<int16_t>(b)});
      else if (off == 32)
        r = static_cast<uint64_t>(int64_t{static_cast<int32_t>(b)});
      else
        r = b;
      break;
  }
  return r & mask;
}

bool eval_jmp(JmpOp op, bool is32, uint64_t a, uint64_t b) {
  if (is32) {
    a &= kU32Max;
    b &= kU32Max;
  }
  const int64_t sa = is32 ? int64_t{static_cast<int32_t>(a)} : static_cast<int64_t>(a);
  const int64_t sb = is32 ? int64_t{static_cast<int32_t>(b)} : static_cast<int64_t>(b);
  switch (op) {
    case JmpOp::kJa:
      return true;
    case JmpOp::kJeq:
      return a == b;
    case JmpOp::kJgt:
      return a > b;
    case JmpOp::kJge:
      return a >= b;
    case JmpOp::kJset:
      return (a & b) != 0;
    case JmpOp::kJne:
      return a != b;
    case JmpOp::kJsgt:
      return sa > sb;
    case JmpOp::kJsge:
      return sa >= sb;
    case JmpOp::kJlt:
      return a < b;
    case JmpOp::kJle:
      return a <= b;
    case JmpOp::kJslt:
      return sa < sb;
    case JmpOp::kJsle:
      return sa <= sb;
  }
  return false;
}

Scalar alu(AluOp op, bool is64, int16_t off, const Scalar& a, const Scalar& b) {
  if (!is64) return alu32(op, off, a, b);
  // Operands an operation does not read count as known.
  const bool a_known = op == AluOp::kMov || a.is_const();
  const bool b_known = op == AluOp::kNeg || b.is_const();
  if (a_known && b_known) return Scalar::constant(eval_alu(op, true, off, a.umin, b.umin));
  Scalar r = alu64(op, off, a, b, 64);
  if (!r.normalize()) return Scalar::top();
  return r;
}

Scalar byte_swap(const Scalar& a, uint8_t bits, bool swap) {
  if (a.is_const()) {
    uint64_t v = a.umin;
    if (swap) {
      v = __builtin_bswap64(v) >> (64 - bits);
    } else if (bits < 64) {
      v &= (uint64_t{1} << bits) - 1;
    }
    return Scalar::constant(v);
  }
  if (bits == 64) return swap ? Scalar::top() : a;
  const uint64_t max = (uint64_t{1} << bits) - 1;
  if (!swap && a.umax <= max) return a;
  return Scalar::urange(0, max);
}

namespace {

JmpOp negate(JmpOp op) {
  switch (op) {
    case JmpOp::kJeq:
      return JmpOp::kJne;
    case JmpOp::kJne:
      return JmpOp::kJeq;
    case JmpOp::kJgt:
      return JmpOp::kJle;
    case JmpOp::kJle:
      return JmpOp::kJgt;
    case JmpOp::kJge:
      return JmpOp::kJlt;
    case JmpOp::kJlt:
      return JmpOp::kJge;
    case JmpOp::kJsgt:
      return JmpOp::kJsle;
    case JmpOp::kJsle:
      return JmpOp::kJsgt;
    case JmpOp::kJsge:
      return JmpOp::kJslt;
    case JmpOp::kJslt:
      return JmpOp::kJsge;
    default:
      return op;
  }
}

bool is_signed(JmpOp op) {
  return op == JmpOp::kJsgt || op == JmpOp::kJsge || op == JmpOp::kJslt || op == JmpOp::kJsle;
}

// a > b (strict) or a >= b, unsigned.
bool refine_ugt(Scalar& a, Scalar& b, bool strict) {
  const uint64_t d = strict ? 1 : 0;
  if (strict && (b.umin == kUMax || a.umax == 0)) return false;
  a.umin = std::max(a.umin, b.umin + d);
  b.umax = std::min(b.umax, a.umax - d);
  return true;
}

bool refine_sgt(Scalar& a, Scalar& b, bool strict) {
  const int64_t d = strict ? 1 : 0;
  if (strict && (b.smin == kSMax || a.smax == kSMin)) return false;
  a.smin = std::max(a.smin, b.smin + d);
  b.smax = std::min(b.smax, a.smax - d);
  return true;
}

// Removes the constant c from the ends of a's intervals.
void exclude(Scalar& a, uint64_t c) {
  if (a.umin == c && c != kUMax)
    ++a.umin;
  else if (a.umax == c && c != 0)
    --a.umax;
  const auto sc = static_cast<int64_t>(c);
  if (a.smin == sc && sc != kSMax)
    ++a.smin;
  else if (a.smax == sc && sc != kSMin)
    --a.smax;
}

}  // namespace

bool refine(JmpOp op, bool is32, bool taken, Scalar& a, Scalar& b) {
  if (a.is_const() && b.is_const()) return eval_jmp(op, is32, a.umin, b.umin) == taken;
  if (op == JmpOp::kJset) return !taken || (a.umax != 0 && b.umax != 0);
  if (!taken) op = negate(op);
  if (is32) {
    // A 32-bit compare acts like the 64-bit one on zero-extended values (whose bit 31 is also
    // clear for signed compares); otherwise we learn nothing.
    const uint64_t limit = is_signed(op) ? 0x7fffffffu : kU32Max;
    if (a.umax > limit || b.umax > limit) return true;
  }
  bool ok = true;
  switch (op) {
    case JmpOp::kJeq:
      a = b = meet(a, b);
      break;
    case JmpOp::kJne:
      if (b.is_const()) exclude(a, b.umin);
      if (a.is_const()) exclude(b, a.umin);
      break;
    case JmpOp::kJgt:
      ok = refine_ugt(a, b, true);
      break;
    case JmpOp::kJge:
      ok = refine_ugt(a, b, false);
      break;
    case JmpOp::kJlt:
      ok = refine_ugt(b, a, true);
      break;
    case JmpOp::kJle:
      ok = refine_ugt(b, a, false);
      break;
    case JmpOp::kJsgt:
      ok = refine_sgt(a, b, true);
      break;
    case JmpOp::kJsge:
      ok = refine_sgt(a, b, false);
      break;
    case JmpOp::kJslt:
      ok = refine_sgt(b, a, true);
      break;
    case JmpOp::kJsle:
      ok = refine_sgt(b, a, false);
      break;
    default:
      break;
  }
  return ok && a.normalize() && b.normalize();
}

}  // namespace fusebpf::bpf::verifier
