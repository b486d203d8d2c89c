// Register semantics: ALU (scalar intervals and the pointer arithmetic rules), byte swaps,
// lddw, conditional-jump checks and refinement (including NULL checks), and exit.
#include <fmt/format.h>

#include "bpf/verifier/internal/analysis.h"

namespace fusebpf::bpf::verifier {
namespace {

constexpr int64_t kMaxOffset = int64_t{1} << 29;

bool bounded(const Scalar& v) { return v.smin >= -kMaxOffset && v.smax <= kMaxOffset; }

bool check_arith_pointer(Env& env, const Value& p, int reg, uint32_t pc) {
  if (p.maybe_null)
    return env.fail(pc, "null-deref",
                    fmt::format("r{} may be NULL here: check the result of {} against 0 before "
                                "doing arithmetic on it",
                                reg, env.producer(p.id)));
  if (p.type == Type::kMapPtr || p.type == Type::kObject)
    return env.fail(
        pc, "ptr-arith",
        fmt::format("r{} is {}; it is opaque and allows no arithmetic", reg, describe(p)));
  return true;
}

// dst op= src where at least one side is not a scalar.
bool pointer_alu(Env& env, State& s, const Alu& in, const Value& d, const Value& src, uint32_t pc) {
  const int src_reg = in.src.is_reg ? in.src.reg : -1;
  if (d.type == Type::kTop || src.type == Type::kTop)
    return env.fail(pc, "type-mismatch",
                    fmt::format("r{} holds different types on different paths",
                                d.type == Type::kTop ? in.dst : src_reg));
  const bool add_sub = in.op == AluOp::kAdd || in.op == AluOp::kSub;
  if (!in.is64 || !add_sub || (in.op == AluOp::kSub && !d.is_pointer())) {
    return env.fail(
        pc, "ptr-arith",
        fmt::format("invalid pointer arithmetic: only adding a scalar to a pointer or "
                    "subtracting one from it (64-bit) is allowed; r{} is {}, {} is {}",
                    in.dst, describe(d), src_reg >= 0 ? fmt::format("r{}", src_reg) : "the operand",
                    describe(src)));
  }
  if (d.is_pointer() && src.is_pointer()) {
    // ptr - ptr into the same region is a distance, not an address.
    if (in.op != AluOp::kSub || d.type != src.type || d.aux != src.aux || d.maybe_null ||
        src.maybe_null)
      return env.fail(pc, "ptr-arith",
                      "pointers may only be subtracted from pointers into the same region");
    s.reg(in.dst) = Value::scalar(alu(AluOp::kSub, true, 0, d.num, src.num));
    return true;
  }
  const bool dst_is_ptr = d.is_pointer();
  const Value& p = dst_is_ptr ? d : src;
  const Value& n = dst_is_ptr ? src : d;
  const int preg = dst_is_ptr ? in.dst : src_reg;
  if (!check_arith_pointer(env, p, preg, pc)) return false;
  const Scalar off = alu(in.op, true, 0, p.num, n.num);
  if (!bounded(n.num) || !bounded(off)) {
    return env.fail(pc, "unbounded-offset",
                    fmt::format("pointer arithmetic on r{} with an unbounded scalar ({}); check "
                                "its range (e.g. `if (i < N)`) first",
                                preg, n.num.to_string()));
  }
  Value r = p;
  r.num = off;
  s.reg(in.dst) = r;
  return true;
}

bool is_zero_operand(const State& s, const Operand& o) {
  return o.is_reg ? s.reg(o.reg).is_null() : o.imm == 0;
}

// Marks the pointer in `reg` (and every copy sharing its id) as NULL or as checked non-NULL.
void set_nullness(State& s, int reg, bool is_null) {
  const uint32_t id = s.reg(reg).id;
  auto apply = [is_null](Value& v) {
    if (is_null)
      v = Value::scalar(Scalar::constant(0));
    else
      v.maybe_null = false, v.id = 0;
  };
  if (id != 0) {
    s.for_each_value([&](Value& v) {
      if (v.id == id && v.maybe_null) apply(v);
    });
  }
  apply(s.reg(reg));
}

}  // namespace

bool Env::fail(uint32_t pc, std::string_view code, std::string message) {
  if (reporting) findings.push_back({pc, std::string(code), std::move(message)});
  return false;
}

std::string Env::producer(uint32_t id) const {
  if (id == 0) return "the call or load that produced it";
  const uint32_t pc = id - 1;
  if (const auto* c = std::get_if<Call>(&ast[pc])) {
    if (c->kind == Call::Kind::kKfunc)
      return fmt::format("{} (pc {})", prog.kfunc_names[c->imm], pc);
    const Helper* h = platform.helper(c->imm);
    return fmt::format("{} (pc {})", h != nullptr ? h->proto.name : "the helper", pc);
  }
  return fmt::format("the context field load at pc {}", pc);
}

State entry_state(const ContextDescriptor& ctx) {
  State s;
  s.frames.resize(1);
  if (ctx.raw_memory) {
    Value mem = Value::pointer(Type::kMem, 0);
    mem.size = ctx.size;
    mem.writable = true;
    s.reg(1) = mem;
    if (ctx.r2_is_size) s.reg(2) = Value::scalar(Scalar::constant(ctx.size));
  } else {
    s.reg(1) = Value::pointer(Type::kCtx, 0);
  }
  s.reg(kFramePointer) = Value::pointer(Type::kStack, 0);
  return s;
}

bool check_init(Env& env, const State& s, int reg, uint32_t pc, bool) {
  if (s.reg(reg).type != Type::kUninit) return true;
  return env.fail(pc, "uninit-reg",
                  fmt::format("r{} is not initialised{}", reg,
                              reg >= 1 && reg <= 5 ? " (r1-r5 do not survive a call)" : ""));
}

bool exec_alu(Env& env, State& s, const Alu& in, uint32_t pc) {
  if (in.src.is_reg && !check_init(env, s, in.src.reg, pc)) return false;
  if (in.op != AluOp::kMov && !check_init(env, s, in.dst, pc)) return false;
  const Value src = in.src.is_reg
                        ? s.reg(in.src.reg)
                        : Value::scalar(Scalar::constant(static_cast<uint64_t>(in.src.imm)));
  if (in.op == AluOp::kMov) {
    if (in.is64 && in.off == 0) {
      s.reg(in.dst) = src;  // copies keep the pointer type and its NULL-check id
      return true;
    }
    if (src.type != Type::kScalar)
      return env.fail(pc, "ptr-arith",
                      fmt::format("a 32-bit or sign-extending move of {} (r{}) would truncate a "
                                  "pointer",
                                  describe(src), in.src.reg));
    s.reg(in.dst) = Value::scalar(alu(in.op, in.is64, in.off, Scalar::top(), src.num));
    return true;
  }
  const Value d = s.reg(in.dst);
  if (d.type == Type::kScalar && src.type == Type::kScalar) {
    s.reg(in.dst) = Value::scalar(alu(in.op, in.is64, in.off, d.num, src.num));
    return true;
  }
  return pointer_alu(env, s, in, d, src, pc);
}

bool exec_endian(Env& env, State& s, const Endian& in, uint32_t pc) {
  if (!check_init(env, s, in.dst, pc)) return false;
  const Value& d = s.reg(in.dst);
  if (d.type != Type::kScalar)
    return env.fail(pc, "ptr-arith", fmt::format("byte swap of {} (r{})", describe(d), in.dst));
  s.reg(in.dst) = Value::scalar(byte_swap(d.num, in.bits, in.swap));
  return true;
}

bool exec_load_imm(Env& env, State& s, const LoadImm& in, uint32_t pc) {
  if (in.kind == LoadImm::Kind::kImm) {
    s.reg(in.dst) = Value::scalar(Scalar::constant(in.imm));
    return true;
  }
  if (in.imm >= env.prog.maps.size())
    return env.fail(pc, "bad-map",
                    fmt::format("lddw references map #{} but the program has {} maps", in.imm,
                                env.prog.maps.size()));
  const auto index = static_cast<uint32_t>(in.imm);
  if (in.kind == LoadImm::Kind::kMapFd) {
    s.reg(in.dst) = Value::pointer(Type::kMapPtr, index);
    return true;
  }
  const MapSpec& m = env.map(index);
  if (m.type != MapType::kArray)
    return env.fail(
        pc, "bad-map",
        fmt::format("direct value access needs an array map; map '{}' is not one", m.name));
  if (in.map_off >= m.value_size)
    return env.fail(pc, "map-oob",
                    fmt::format("lddw map value offset {} is outside the {}-byte value of map '{}'",
                                in.map_off, m.value_size, m.name));
  s.reg(in.dst) = Value::pointer(Type::kMapValue, index, Scalar::constant(in.map_off));
  return true;
}

bool check_jump(Env& env, const State& s, const Jump& j, uint32_t pc) {
  if (j.op == JmpOp::kJa) return true;
  if (!check_init(env, s, j.dst, pc)) return false;
  if (j.src.is_reg && !check_init(env, s, j.src.reg, pc)) return false;
  const Value& d = s.reg(j.dst);
  const Value src = j.src.is_reg ? s.reg(j.src.reg) : Value::scalar(Scalar::constant(j.src.imm));
  if (d.type == Type::kScalar && src.type == Type::kScalar) return true;
  if (d.type == Type::kTop || src.type == Type::kTop)
    return env.fail(pc, "type-mismatch",
                    "a compared register holds different types on different paths");
  const bool null_check = (d.is_pointer() && src.is_null()) || (src.is_pointer() && d.is_null());
  if (null_check && !j.is32 && (j.op == JmpOp::kJeq || j.op == JmpOp::kJne)) return true;
  const bool same_region = d.is_pointer() && src.is_pointer() && d.type == src.type &&
                           d.aux == src.aux && j.op != JmpOp::kJset && !j.is32;
  if (same_region) return true;
  return env.fail(pc, "ptr-compare",
                  fmt::format("comparing {} with {} is not allowed: pointers may only be compared "
                              "with 0 (== or !=, a NULL check) or with pointers into the same "
                              "region",
                              describe(d), describe(src)));
}

bool refine_jump(const State& in, const Jump& j, bool taken, State& out) {
  out = in;
  if (j.op == JmpOp::kJa) return taken;
  const Value& d = in.reg(j.dst);
  if (d.type == Type::kScalar && (!j.src.is_reg || in.reg(j.src.reg).type == Type::kScalar)) {
    Scalar a = d.num;
    Scalar b = j.src.is_reg ? in.reg(j.src.reg).num : Scalar::constant(j.src.imm);
    if (!refine(j.op, j.is32, taken, a, b)) return false;
    out.reg(j.dst).num = a;
    if (j.src.is_reg) out.reg(j.src.reg).num = b;
    return true;
  }
  const int preg = d.is_pointer() ? j.dst : j.src.reg;
  if (!(d.is_pointer() ? is_zero_operand(in, j.src) : d.is_null())) return true;  // same region
  const bool is_null = (j.op == JmpOp::kJeq) == taken;
  if (is_null && !in.reg(preg).maybe_null) return false;  // a valid pointer is never NULL
  set_nullness(out, preg, is_null);
  return true;
}

bool check_exit(Env& env, const State& s, uint32_t pc) {
  const Value& r0 = s.reg(0);
  if (r0.type == Type::kUninit)
    return env.fail(pc, "uninit-reg", "r0 is not initialised at exit: set the return value");
  if (r0.type != Type::kScalar)
    return env.fail(pc, "ptr-leak",
                    fmt::format("r0 holds {} at exit; returning a pointer would leak an address",
                                describe(r0)));
  return true;
}

}  // namespace fusebpf::bpf::verifier
