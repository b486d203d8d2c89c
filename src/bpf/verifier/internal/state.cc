// Join and widening of values, stack slots and states. Joins only lose information; a pointer
// joined with NULL becomes a maybe-NULL pointer, anything else of mixed types becomes kTop.
#include "bpf/verifier/internal/state.h"

#include <fmt/format.h>

#include <algorithm>

namespace fusebpf::bpf::verifier {
namespace {

bool nullable_type(Type t) { return t == Type::kMapValue || t == Type::kMem || t == Type::kObject; }

Value top_value() { return Value{Type::kTop}; }

// Joins two values of different kinds or regions; `num` is the joined offset/value.
Value join_shapes(const Value& a, const Value& b, const Scalar& num) {
  if (a.type == Type::kUninit || b.type == Type::kUninit) return Value{};
  if (a.type == Type::kScalar && b.type == Type::kScalar) return Value::scalar(num);
  if (a.is_null() && nullable_type(b.type)) {
    Value r = b;
    r.maybe_null = true;
    r.id = 0;
    return r;
  }
  if (b.is_null() && nullable_type(a.type)) return join_shapes(b, a, num);
  if (a.type != b.type || a.aux != b.aux || !a.is_pointer()) return top_value();
  Value r = a;
  r.num = num;
  r.maybe_null = a.maybe_null || b.maybe_null;
  r.id = (a.id == b.id && r.maybe_null) ? a.id : 0;
  r.size = std::min(a.size, b.size);
  r.writable = a.writable && b.writable;
  return r;
}

Slot poisoned() {
  Slot s;
  s.kind = Slot::Kind::kSpill;
  s.spill = top_value();
  return s;
}

template <typename ValueJoin>
Slot join_slot(const Slot& a, const Slot& b, ValueJoin&& vj) {
  using K = Slot::Kind;
  if (a == b) return a;
  if (a.kind == K::kBytes && b.kind == K::kBytes) {
    Slot s;
    s.init = a.init & b.init;
    return s;
  }
  if (a.kind == K::kSpill && b.kind == K::kSpill) {
    Slot s = a;
    s.spill = vj(a.spill, b.spill);
    return s;
  }
  // A spilled scalar is just 8 initialised bytes.
  if (a.kind == K::kSpill && a.spill.type == Type::kScalar && b.kind == K::kBytes) return b;
  if (b.kind == K::kSpill && b.spill.type == Type::kScalar && a.kind == K::kBytes) return a;
  return poisoned();
}

template <typename ValueJoin>
State join_states(const State& a, const State& b, ValueJoin&& vj) {
  State r;
  const size_t n = std::min(a.frames.size(), b.frames.size());
  r.frames.resize(n);
  for (size_t f = 0; f < n; ++f) {
    const Frame& fa = a.frames[f];
    const Frame& fb = b.frames[f];
    Frame& out = r.frames[f];
    for (int i = 0; i < kNumRegs; ++i) out.regs[i] = vj(fa.regs[i], fb.regs[i]);
    const size_t depth = std::max(fa.stack.size(), fb.stack.size());
    out.stack.resize(depth);
    for (size_t j = 0; j < depth; ++j) out.stack[j] = join_slot(fa.at_depth(j), fb.at_depth(j), vj);
    while (!out.stack.empty() && out.stack.back() == Slot{}) out.stack.pop_back();
  }
  return r;
}

}  // namespace

Value join(const Value& a, const Value& b) {
  if (a == b) return a;
  return join_shapes(a, b, a.num.join(b.num));
}

Value widen(const Value& old, const Value& next, std::span<const int64_t> thresholds) {
  if (old == next) return old;
  return join_shapes(old, next, old.num.widen(next.num, thresholds));
}

State join(const State& a, const State& b) {
  return join_states(a, b, [](const Value& x, const Value& y) { return join(x, y); });
}

State widen(const State& old, const State& next, std::span<const int64_t> thresholds) {
  return join_states(
      old, next, [thresholds](const Value& x, const Value& y) { return widen(x, y, thresholds); });
}

std::string describe(const Value& v) {
  std::string off =
      v.num.is_const() && v.num.umin == 0 ? "" : fmt::format(" (offset {})", v.num.to_string());
  const char* null = v.maybe_null ? "maybe-NULL " : "";
  switch (v.type) {
    case Type::kUninit:
      return "uninitialised";
    case Type::kScalar:
      return fmt::format("scalar {}", v.num.to_string());
    case Type::kCtx:
      return "pointer to the context" + off;
    case Type::kStack:
      return "pointer to the stack" + off;
    case Type::kMapValue:
      return fmt::format("{}pointer to a value of map #{}{}", null, v.aux, off);
    case Type::kMem:
      return fmt::format("{}pointer to {} bytes of memory{}", null, v.size, off);
    case Type::kMapPtr:
      return fmt::format("reference to map #{}", v.aux);
    case Type::kObject:
      return fmt::format("{}context object", null);
    case Type::kTop:
      return "unusable: its type differs between paths, or it pointed into the stack of a "
             "function that has returned";
  }
  return "?";
}

}  // namespace fusebpf::bpf::verifier

namespace fusebpf::bpf::verifier {

void release_id(State& s, uint32_t id) {
  s.for_each_value([id](Value& v) {
    if (v.id == id) v.id = 0;
  });
}

void slot_to_bytes(Frame& f, int i) {
  const Slot sl = f.slot_at(i);
  uint8_t init = 0;
  switch (sl.kind) {
    case Slot::Kind::kBytes:
      return;
    case Slot::Kind::kSpill:
      init = sl.spill.type == Type::kScalar ? 0xff : 0;
      break;
    case Slot::Kind::kDynptr:
      if (i + 1 < kSlots && f.slot_at(i + 1).kind == Slot::Kind::kDynptrTail)
        f.slot(i + 1) = Slot{};
      break;
    case Slot::Kind::kDynptrTail:
      if (i > 0 && f.slot_at(i - 1).kind == Slot::Kind::kDynptr) f.slot(i - 1) = Slot{};
      break;
  }
  f.slot(i) = Slot{Slot::Kind::kBytes, init, Value{}};
}

bool Frame::operator==(const Frame& o) const {
  if (regs != o.regs) return false;
  const size_t depth = std::max(stack.size(), o.stack.size());
  for (size_t j = 0; j < depth; ++j)
    if (!(at_depth(j) == o.at_depth(j))) return false;
  return true;
}

}  // namespace fusebpf::bpf::verifier
