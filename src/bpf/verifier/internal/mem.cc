// Memory safety: every load, store, atomic and helper memory argument must stay inside the
// region its pointer points into, respect the region's writability, and (on the stack) read
// only initialised bytes without exposing spilled pointers or dynptr internals.
#include <fmt/format.h>

#include <cstring>

#include "bpf/verifier/internal/analysis.h"

namespace fusebpf::bpf::verifier {
namespace {

using i128 = __int128;
// Pointer offsets beyond this are "unbounded": a bounds check is missing.
constexpr int64_t kMaxOffset = int64_t{1} << 29;

struct Region {
  int64_t lo = 0;
  int64_t hi = 0;
  bool writable = false;
  std::string name;
  const char* oob_code = "mem-oob";
  const char* ro_code = "readonly-mem";
};

Region region_of(const Env& env, const Value& p) {
  switch (p.type) {
    case Type::kStack:
      return {-kStackSize, 0, true, "the stack frame (r10-512 .. r10)", "stack-oob"};
    case Type::kMapValue: {
      const MapSpec& m = env.map(p.aux);
      return {0,         m.value_size,
              !m.frozen, fmt::format("the {}-byte value of map '{}'", m.value_size, m.name),
              "map-oob", "readonly-map"};
    }
    default:
      return {0, p.size, p.writable, fmt::format("the {} bytes of memory it points to", p.size)};
  }
}

std::string fmt_off(i128 v) {
  const auto x = static_cast<int64_t>(v);
  return x < 0 ? fmt::format("-{}", -x) : fmt::format("+{}", x);
}

// Type-level checks shared by every access: a usable, non-NULL, dereferenceable pointer.
bool check_pointer(Env& env, const Value& p, const MemAccess& a, uint32_t pc) {
  switch (p.type) {
    case Type::kUninit:
      return env.fail(pc, "uninit-reg", fmt::format("{} is not initialised", a.what));
    case Type::kScalar:
      return env.fail(pc, "not-pointer",
                      fmt::format("{} is a {}, not a pointer: memory is only reachable through "
                                  "the context, the stack, map values and helper results",
                                  a.what, describe(p)));
    case Type::kTop:
      return env.fail(pc, "type-mismatch", fmt::format("{} is {}", a.what, describe(p)));
    case Type::kMapPtr:
      return env.fail(pc, "not-pointer",
                      fmt::format("{} is a map reference; pass it to a map helper instead of "
                                  "dereferencing it",
                                  a.what));
    case Type::kObject:
      return env.fail(pc, "opaque-object",
                      fmt::format("direct access to '{}' is not allowed; use its kfuncs",
                                  env.ctx.fields[p.aux].object_type));
    default:
      break;
  }
  if (p.maybe_null) {
    return env.fail(pc, "null-deref",
                    fmt::format("{} may be NULL here: check the result of {} against 0 before "
                                "dereferencing it",
                                a.what, env.producer(p.id)));
  }
  return true;
}

// Bounds (and writability) against the region; [lo, hi) relative to the region start.
bool check_bounds(Env& env, const Value& p, const MemAccess& a, uint32_t pc, i128& lo, i128& hi) {
  if (p.num.smin < -kMaxOffset || p.num.smax > kMaxOffset) {
    return env.fail(pc, "unbounded-offset",
                    fmt::format("{} has an unbounded variable offset ({}); add a bounds check "
                                "such as `if (i < N)` before the access",
                                a.what, p.num.to_string()));
  }
  const Region r = region_of(env, p);
  lo = i128{p.num.smin} + a.off;
  hi = i128{p.num.smax} + a.off + a.size;
  if (lo < r.lo || hi > r.hi) {
    const std::string where = p.num.is_const()
                                  ? fmt::format("offset {}", static_cast<int64_t>(lo))
                                  : fmt::format("offsets {} .. {}", static_cast<int64_t>(lo),
                                                static_cast<int64_t>(hi - a.size));
    return env.fail(
        pc, r.oob_code,
        fmt::format("{}: {} bytes at {} are outside {}", a.what, a.size, where, r.name));
  }
  if (a.kind != AccessKind::kRead && !r.writable) {
    return env.fail(pc, r.ro_code,
                    fmt::format("{}: {} is read-only{}", a.what, r.name,
                                p.type == Type::kMapValue ? " (frozen, e.g. .rodata)" : ""));
  }
  return true;
}

// Every byte of [lo, hi) on the stack must be readable: initialised and not part of a
// spilled pointer or a dynptr (reading those would expose an address).
bool check_stack_read(Env& env, const Frame& fr, int64_t lo, int64_t hi, const MemAccess& a,
                      uint32_t pc) {
  for (int64_t off = lo; off < hi; ++off) {
    const Slot& sl = fr.slot_at(slot_of(off));
    switch (sl.kind) {
      case Slot::Kind::kSpill:
        if (sl.spill.type == Type::kScalar) break;
        return env.fail(pc, "ptr-leak",
                        fmt::format("{} reads (part of) a pointer spilled at r10{}; only a "
                                    "whole 8-byte load may reload it",
                                    a.what, fmt_off(off - ((off + kStackSize) % 8))));
      case Slot::Kind::kDynptr:
      case Slot::Kind::kDynptrTail:
        return env.fail(pc, "dynptr-access",
                        fmt::format("{} reads the bytes of a dynptr at r10{}; use the dynptr "
                                    "helpers",
                                    a.what, fmt_off(off)));
      case Slot::Kind::kBytes:
        if ((sl.init >> byte_of(off) & 1) == 0) {
          return env.fail(pc, "uninit-stack",
                          fmt::format("{} reads uninitialised stack at r10{} (write it first)",
                                      a.what, fmt_off(off)));
        }
        break;
    }
  }
  return true;
}

bool check_region(Env& env, State& s, const Value& p, const MemAccess& a, uint32_t pc, i128& lo,
                  i128& hi) {
  if (!check_pointer(env, p, a, pc) || !check_bounds(env, p, a, pc, lo, hi)) return false;
  if (p.type != Type::kStack) return true;
  if (env.reporting) env.lowest_stack_offset = std::min<int64_t>(env.lowest_stack_offset, lo);
  if (a.kind == AccessKind::kWrite) return true;
  return check_stack_read(env, s.frames[p.aux], static_cast<int64_t>(lo), static_cast<int64_t>(hi),
                          a, pc);
}

const ContextField* find_field(const ContextDescriptor& ctx, int64_t off, uint64_t size,
                               uint32_t* index) {
  for (uint32_t i = 0; i < ctx.fields.size(); ++i) {
    const ContextField& f = ctx.fields[i];
    if (off >= f.offset && off + static_cast<int64_t>(size) <= int64_t{f.offset} + f.size) {
      *index = i;
      return &f;
    }
  }
  return nullptr;
}

// Context accesses: constant offset, within one field, honouring writability and kind.
const ContextField* ctx_field(Env& env, const Value& p, const MemAccess& a, uint32_t pc,
                              uint32_t* index) {
  if (!p.num.is_const()) {
    env.fail(pc, "ctx-access",
             fmt::format("{} points into the context at a variable offset; context fields must "
                         "be accessed at constant offsets",
                         a.what));
    return nullptr;
  }
  const int64_t off = p.num.smin + a.off;
  const ContextField* f = find_field(env.ctx, off, a.size, index);
  if (f == nullptr) {
    env.fail(pc, "ctx-access",
             fmt::format("invalid access to context '{}': {} bytes at offset {} are not inside "
                         "one field",
                         env.ctx.name, a.size, off));
    return nullptr;
  }
  if (f->kind != FieldKind::kScalar && (off != f->offset || a.size != 8)) {
    env.fail(pc, "ctx-access",
             fmt::format("context field '{}' holds a pointer; load it whole with an 8-byte load",
                         f->name));
    return nullptr;
  }
  if (a.kind != AccessKind::kRead && (!f->writable || f->kind != FieldKind::kScalar)) {
    env.fail(pc, "ctx-readonly",
             fmt::format("context field '{}' is read-only", f->name.empty() ? "?" : f->name));
    return nullptr;
  }
  return f;
}

Value ctx_load_value(State& s, const ContextField& f, uint32_t index, const Load& in, uint32_t pc) {
  if (f.kind == FieldKind::kScalar) return Value::scalar(Scalar::of_width(in.size, in.sign_extend));
  Value v = Value::pointer(f.kind == FieldKind::kPtrToMem ? Type::kMem : Type::kObject, index);
  v.size = f.pointee_size;
  v.writable = f.pointee_writable;
  if (f.nullable) {
    release_id(s, pc + 1);
    v.maybe_null = true;
    v.id = pc + 1;
  }
  return v;
}

// A constant read of a frozen map's initial bytes is the constant itself (.rodata config).
Value map_load_value(const Env& env, const Value& p, const Load& in) {
  const MapSpec& m = env.map(p.aux);
  const int64_t off = p.num.smin + in.off;
  if (m.frozen && p.num.is_const() &&
      off + in.size <= static_cast<int64_t>(m.initial_value.size())) {
    uint64_t v = 0;
    std::memcpy(&v, m.initial_value.data() + off, in.size);
    if (in.sign_extend && in.size < 8) {
      const unsigned shift = 64 - in.size * 8;
      v = static_cast<uint64_t>(static_cast<int64_t>(v << shift) >> shift);
    }
    return Value::scalar(Scalar::constant(v));
  }
  return Value::scalar(Scalar::of_width(in.size, in.sign_extend));
}

}  // namespace

bool check_mem(Env& env, State& s, const Value& p, const MemAccess& a, uint32_t pc) {
  if (p.type == Type::kCtx)
    return env.fail(pc, "bad-arg",
                    fmt::format("{}: the context cannot be passed as memory", a.what));
  i128 lo = 0, hi = 0;
  if (!check_region(env, s, p, a, pc, lo, hi)) return false;
  if (p.type == Type::kStack && a.kind != AccessKind::kRead) {
    Frame& fr = s.frames[p.aux];
    for (auto off = static_cast<int64_t>(lo); off < hi; ++off) slot_to_bytes(fr, slot_of(off));
    // Written by every execution: from the highest start to the lowest end.
    const int64_t first = p.num.smax + a.off;
    const int64_t last = p.num.smin + a.off + static_cast<int64_t>(a.size_min);
    if (first < last) mark_stack_written(s, p, first, last);
  }
  return true;
}

void mark_stack_written(State& s, const Value& p, int64_t lo, int64_t hi) {
  Frame& fr = s.frames[p.aux];
  for (int64_t off = lo; off < hi; ++off) {
    slot_to_bytes(fr, slot_of(off));
    fr.slot(slot_of(off)).init |= static_cast<uint8_t>(1u << byte_of(off));
  }
}

bool exec_load(Env& env, State& s, const Load& in, uint32_t pc) {
  if (!check_init(env, s, in.base, pc)) return false;
  const Value p = s.reg(in.base);
  const MemAccess a{in.off, in.size, in.size, AccessKind::kRead, fmt::format("r{}", in.base)};
  if (p.type == Type::kCtx) {
    uint32_t index = 0;
    const ContextField* f = ctx_field(env, p, a, pc, &index);
    if (f == nullptr) return false;
    s.reg(in.dst) = ctx_load_value(s, *f, index, in, pc);
    return true;
  }
  if (!check_pointer(env, p, a, pc)) return false;
  if (p.type == Type::kStack && p.num.is_const() && in.size == 8) {
    const int64_t off = p.num.smin + in.off;
    if (off >= -kStackSize && off < 0 && off % 8 == 0) {
      const Slot& sl = s.frames[p.aux].slot_at(slot_of(off));
      if (sl.kind == Slot::Kind::kSpill) {
        if (env.reporting) env.lowest_stack_offset = std::min(env.lowest_stack_offset, off);
        s.reg(in.dst) = sl.spill;  // fill: the register comes back with its type and bounds
        return true;
      }
    }
  }
  i128 lo = 0, hi = 0;
  if (!check_region(env, s, p, a, pc, lo, hi)) return false;
  s.reg(in.dst) = p.type == Type::kMapValue
                      ? map_load_value(env, p, in)
                      : Value::scalar(Scalar::of_width(in.size, in.sign_extend));
  return true;
}

namespace {

bool store_stack(Env& env, State& s, const Value& p, const Value& v, const Store& in,
                 const MemAccess& a, uint32_t pc) {
  i128 lo = 0, hi = 0;
  if (!check_region(env, s, p, a, pc, lo, hi)) return false;
  Frame& fr = s.frames[p.aux];
  const bool exact = p.num.is_const();
  if (exact && in.size == 8 && lo % 8 == 0) {
    const int slot = slot_of(static_cast<int64_t>(lo));
    slot_to_bytes(fr, slot);
    fr.slot(slot) = Slot{Slot::Kind::kSpill, 0xff, v};
    return true;
  }
  if (v.type != Type::kScalar) {
    return env.fail(pc, "ptr-spill",
                    fmt::format("{} is spilled with a partial, misaligned or variable-offset "
                                "store; pointers may only be spilled to 8-byte aligned slots",
                                describe(v)));
  }
  if (exact) {
    mark_stack_written(s, p, static_cast<int64_t>(lo), static_cast<int64_t>(hi));
    return true;
  }
  // A variable-offset write may hit any slot in range: spills and dynptrs there are gone, but
  // no byte becomes initialised for sure.
  for (int64_t off = static_cast<int64_t>(lo); off < hi; ++off) slot_to_bytes(fr, slot_of(off));
  return true;
}

}  // namespace

bool exec_store(Env& env, State& s, const Store& in, uint32_t pc) {
  if (!check_init(env, s, in.base, pc)) return false;
  if (in.value.is_reg && !check_init(env, s, in.value.reg, pc)) return false;
  const Value p = s.reg(in.base);
  Value v = in.value.is_reg ? s.reg(in.value.reg) : Value::scalar(Scalar::constant(in.value.imm));
  if (in.size < 8 && v.type == Type::kScalar) {
    const Scalar narrowed =
        alu(AluOp::kAnd, true, 0, v.num, Scalar::constant((uint64_t{1} << (8 * in.size)) - 1));
    v = Value::scalar(narrowed);
  }
  const MemAccess a{in.off, in.size, in.size, AccessKind::kWrite, fmt::format("r{}", in.base)};
  if (p.type == Type::kStack) return store_stack(env, s, p, v, in, a, pc);
  if (v.type != Type::kScalar) {
    return env.fail(pc, "ptr-leak",
                    fmt::format("storing {} (r{}) into memory other than the stack would leak an "
                                "address; only scalars may be stored there",
                                describe(v), in.value.reg));
  }
  if (p.type == Type::kCtx) {
    uint32_t index = 0;
    return ctx_field(env, p, a, pc, &index) != nullptr;
  }
  i128 lo = 0, hi = 0;
  return check_region(env, s, p, a, pc, lo, hi);
}

bool exec_atomic(Env& env, State& s, const Atomic& in, uint32_t pc) {
  if (!check_init(env, s, in.base, pc) || !check_init(env, s, in.src, pc)) return false;
  if (in.op == AtomicOp::kCmpxchg && !check_init(env, s, 0, pc)) return false;
  const Value p = s.reg(in.base);
  const Value& v = s.reg(in.src);
  if (v.type != Type::kScalar || (in.op == AtomicOp::kCmpxchg && s.reg(0).type != Type::kScalar)) {
    return env.fail(pc, "ptr-leak",
                    "atomic operations work on scalars only; the operand is a pointer");
  }
  if (p.type == Type::kCtx)
    return env.fail(pc, "ctx-access", "atomic operations on the context are not allowed");
  const MemAccess a{in.off, in.size, in.size, AccessKind::kReadWrite, fmt::format("r{}", in.base)};
  i128 lo = 0, hi = 0;
  if (!check_region(env, s, p, a, pc, lo, hi)) return false;
  if (p.type == Type::kStack) {
    // The slot keeps initialised bytes but loses any tracked spilled scalar value.
    for (int64_t off = static_cast<int64_t>(lo); off < hi; ++off)
      slot_to_bytes(s.frames[p.aux], slot_of(off));
  }
  const Value old = Value::scalar(Scalar::of_width(in.size));
  if (in.op == AtomicOp::kCmpxchg)
    s.reg(0) = old;
  else if (in.fetch)
    s.reg(in.src) = old;
  return true;
}

}  // namespace fusebpf::bpf::verifier
