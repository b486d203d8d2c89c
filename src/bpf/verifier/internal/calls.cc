// Calls. Helpers and kfuncs: each argument is checked against its ArgKind from the one
// registry (Platform), then the call's effects are applied (stack written by the helper,
// dynptrs initialised, r0 typed by RetKind, r1-r5 clobbered). BPF-to-BPF calls get a fresh
// frame; r6-r9 and the caller's stack survive, r1-r5 do not.
#include <fmt/format.h>

#include <algorithm>

#include "bpf/verifier/internal/analysis.h"

namespace fusebpf::bpf::verifier {
namespace {

constexpr uint64_t kMaxMemSize = uint64_t{1} << 29;

class CallChecker {
 public:
  CallChecker(Env& env, State& s, const HelperPrototype& proto, std::string name, uint32_t pc)
      : env_(env), s_(s), proto_(proto), name_(std::move(name)), pc_(pc) {}

  bool check_args() {
    for (int i = 0; i < 5; ++i) {
      if (proto_.args[i] == ArgKind::kNone || proto_.args[i] == ArgKind::kMemSize) continue;
      if (!check_init(env_, s_, i + 1, pc_) || !check_arg(i)) return false;
    }
    return true;
  }

  bool apply_effects() {
    for (int i = 0; i < 5; ++i) {
      if (proto_.args[i] != ArgKind::kDynptrUninit) continue;
      const Value& p = s_.reg(i + 1);
      Frame& fr = s_.frames[p.aux];
      const int slot = slot_of(p.num.smin);
      slot_to_bytes(fr, slot);
      slot_to_bytes(fr, slot + 1);
      fr.slot(slot) = Slot{Slot::Kind::kDynptr, 0xff, {}};
      fr.slot(slot + 1) = Slot{Slot::Kind::kDynptrTail, 0xff, {}};
    }
    Value r0;
    if (!return_value(r0)) return false;
    for (int r = 1; r <= 5; ++r) s_.reg(r) = Value{};
    s_.reg(0) = r0;
    return true;
  }

 private:
  std::string what(int i) const {
    return fmt::format("argument {} (r{}) of {}", i + 1, i + 1, name_);
  }
  bool fail(std::string_view code, std::string msg) { return env_.fail(pc_, code, std::move(msg)); }
  bool bad_proto(const char* why) {
    return fail("bad-prototype", fmt::format("the prototype of {} is invalid: {}", name_, why));
  }

  bool check_arg(int i) {
    const Value& v = s_.reg(i + 1);
    switch (proto_.args[i]) {
      case ArgKind::kAnything:
        return true;
      case ArgKind::kScalar:
        if (v.type == Type::kScalar) return true;
        return fail("bad-arg", fmt::format("{} must be a scalar, not {}", what(i), describe(v)));
      case ArgKind::kConstMapPtr:
        if (v.type != Type::kMapPtr)
          return fail("bad-arg", fmt::format("{} must be a map reference (lddw map), not {}",
                                             what(i), describe(v)));
        map_ = static_cast<int>(v.aux);
        return true;
      case ArgKind::kMapKey:
      case ArgKind::kMapValue:
        return check_map_mem(i);
      case ArgKind::kReadableMem:
      case ArgKind::kWritableMem:
      case ArgKind::kOptionalWritableMem:
        return check_sized_mem(i);
      case ArgKind::kConstStr:
        return check_const_str(i);
      case ArgKind::kDynptrUninit:
      case ArgKind::kDynptr:
        return check_dynptr(i);
      case ArgKind::kCtxObject:
        return check_object(i);
      case ArgKind::kNone:
      case ArgKind::kMemSize:
        return true;
    }
    return true;
  }

  bool check_map_mem(int i) {
    if (map_ < 0) return bad_proto("a map key/value argument needs a map argument before it");
    const MapSpec& m = env_.map(static_cast<uint32_t>(map_));
    const bool key = proto_.args[i] == ArgKind::kMapKey;
    const uint32_t size = key ? m.key_size : m.value_size;
    return check_mem(env_, s_, s_.reg(i + 1),
                     MemAccess{0, size, size, AccessKind::kRead,
                               fmt::format("{} (the map {} of '{}', {} bytes)", what(i),
                                           key ? "key" : "value", m.name, size)},
                     pc_);
  }

  bool check_sized_mem(int i) {
    const ArgKind kind = proto_.args[i];
    int size_arg = -1;
    for (int j = i + 1; j < 5 && size_arg < 0; ++j)
      if (proto_.args[j] == ArgKind::kMemSize) size_arg = j;
    if (size_arg < 0 || (kind != ArgKind::kOptionalWritableMem && size_arg != i + 1))
      return bad_proto("a memory argument must be followed by its kMemSize argument");
    if (!check_init(env_, s_, size_arg + 1, pc_)) return false;
    const Value& size = s_.reg(size_arg + 1);
    if (size.type != Type::kScalar)
      return fail("bad-arg", fmt::format("{} is a size and must be a scalar, not {}",
                                         what(size_arg), describe(size)));
    if (size.num.umax > kMaxMemSize)
      return fail("unbounded-size",
                  fmt::format("{} is a size with no usable upper bound ({}); check it against the "
                              "buffer size first",
                              what(size_arg), size.num.to_string()));
    const Value& p = s_.reg(i + 1);
    if (kind == ArgKind::kOptionalWritableMem && p.is_null()) return true;
    if (size.num.umax == 0 && p.is_pointer() && !p.maybe_null) return true;
    const AccessKind access =
        kind == ArgKind::kReadableMem ? AccessKind::kRead : AccessKind::kWrite;
    return check_mem(
        env_, s_, p,
        MemAccess{0, size.num.umax, size.num.umin, access,
                  fmt::format("{} ({} up to {} bytes)", what(i),
                              access == AccessKind::kRead ? "reading" : "writing", size.num.umax)},
        pc_);
  }

  bool check_const_str(int i) {
    const Value& p = s_.reg(i + 1);
    if (p.type != Type::kMapValue || p.maybe_null || !env_.map(p.aux).frozen || !p.num.is_const())
      return fail("bad-arg", fmt::format("{} must be a constant string in a frozen map such as "
                                         ".rodata, not {}",
                                         what(i), describe(p)));
    const MapSpec& m = env_.map(p.aux);
    const auto& bytes = m.initial_value;
    const size_t end = std::min<size_t>(bytes.size(), m.value_size);
    for (size_t k = p.num.umin; k < end; ++k)
      if (bytes[k] == std::byte{0}) return true;
    return fail("bad-arg", fmt::format("{}: the string at offset {} of map '{}' is not "
                                       "NUL-terminated",
                                       what(i), p.num.umin, m.name));
  }

  bool check_dynptr(int i) {
    const Value& p = s_.reg(i + 1);
    const bool init = proto_.args[i] == ArgKind::kDynptr;
    const int64_t off = p.num.smin;
    const bool placed = p.type == Type::kStack && p.num.is_const() && off % 8 == 0 &&
                        off >= -kStackSize && off + 16 <= 0;
    if (!placed)
      return fail("bad-arg", fmt::format("{} must point to 16 bytes of stack at a constant, 8-byte "
                                         "aligned offset (a dynptr), not {}",
                                         what(i), describe(p)));
    if (env_.reporting) env_.lowest_stack_offset = std::min(env_.lowest_stack_offset, off);
    const Frame& fr = s_.frames[p.aux];
    const int slot = slot_of(off);
    if (init && (fr.slot_at(slot).kind != Slot::Kind::kDynptr ||
                 fr.slot_at(slot + 1).kind != Slot::Kind::kDynptrTail))
      return fail("bad-arg", fmt::format("{} must point to an initialised dynptr; r10{} holds none",
                                         what(i), off));
    return true;
  }

  bool check_object(int i) {
    const Value& p = s_.reg(i + 1);
    if (p.type != Type::kObject)
      return fail("bad-arg", fmt::format("{} must be a '{}' loaded from the context, not {}",
                                         what(i), proto_.object_type, describe(p)));
    if (p.maybe_null)
      return fail("null-deref", fmt::format("{} may be NULL here: check the result of {} against 0 "
                                            "first",
                                            what(i), env_.producer(p.id)));
    const std::string& type = env_.ctx.fields[p.aux].object_type;
    if (type != proto_.object_type)
      return fail("bad-arg",
                  fmt::format("{} must be a '{}', not a '{}'", what(i), proto_.object_type, type));
    return true;
  }

  bool return_value(Value& r0) {
    switch (proto_.ret) {
      case RetKind::kScalar:
        r0 = Value::scalar(Scalar::top());
        return true;
      case RetKind::kVoid:
        r0 = Value{};
        return true;
      case RetKind::kMapValueOrNull:
        if (map_ < 0) return bad_proto("kMapValueOrNull needs a kConstMapPtr argument");
        r0 = Value::pointer(Type::kMapValue, static_cast<uint32_t>(map_));
        break;
      case RetKind::kMemOrNull: {
        const int a = proto_.ret_size_arg;
        if (a < 0 || a > 4) return bad_proto("kMemOrNull needs ret_size_arg");
        const Value& size = s_.reg(a + 1);
        if (size.type != Type::kScalar || !size.num.is_const() || size.num.umax > kMaxMemSize)
          return fail("bad-arg",
                      fmt::format("{} must be a constant: it is the size of the returned "
                                  "memory (it is {})",
                                  what(a), describe(size)));
        r0 = Value::pointer(Type::kMem, 0);
        r0.size = static_cast<uint32_t>(size.num.umin);
        r0.writable = proto_.ret_writable;
        break;
      }
    }
    release_id(s_, pc_ + 1);
    r0.maybe_null = true;
    r0.id = pc_ + 1;
    return true;
  }

  Env& env_;
  State& s_;
  const HelperPrototype& proto_;
  std::string name_;
  uint32_t pc_;
  int map_ = -1;
};

}  // namespace

bool exec_helper_call(Env& env, State& s, const Call& in, uint32_t pc) {
  const Helper* h = nullptr;
  std::string name;
  if (in.kind == Call::Kind::kKfunc) {
    if (in.imm < 0 || static_cast<size_t>(in.imm) >= env.prog.kfunc_names.size())
      return env.fail(pc, "unknown-kfunc",
                      fmt::format("kfunc call #{} has no name: the program lists {} kfuncs", in.imm,
                                  env.prog.kfunc_names.size()));
    name = env.prog.kfunc_names[in.imm];
    h = env.platform.kfunc(name);
    if (h == nullptr)
      return env.fail(pc, "unknown-kfunc",
                      fmt::format("unknown kfunc '{}': the platform does not "
                                  "provide it",
                                  name));
  } else {
    h = env.platform.helper(in.imm);
    if (h == nullptr)
      return env.fail(pc, "unknown-helper",
                      fmt::format("unknown helper #{}: the platform does "
                                  "not provide it",
                                  in.imm));
    name = h->proto.name;
  }
  CallChecker checker(env, s, h->proto, name, pc);
  if (!checker.check_args() || !checker.apply_effects()) return false;
  if (env.reporting) env.call_targets[pc] = h->fn;
  return true;
}

void enter_function(State& s) {
  Frame callee;
  for (int r = 1; r <= 5; ++r) callee.regs[r] = s.reg(r);
  callee.regs[kFramePointer] = Value::pointer(Type::kStack, static_cast<uint32_t>(s.frames.size()));
  s.frames.push_back(callee);
}

bool leave_function(Env& env, State& s, uint32_t pc) {
  const Value r0 = s.reg(0);
  const auto callee = static_cast<uint32_t>(s.frames.size() - 1);
  if (r0.type == Type::kUninit)
    return env.fail(pc, "uninit-reg", "r0 is not initialised when this function returns");
  if (r0.type == Type::kStack && r0.aux == callee)
    return env.fail(pc, "stack-escape", "r0 points into the returning function's own stack");
  s.frames.pop_back();
  // Anything still pointing into the dead frame becomes unusable.
  s.for_each_value([callee](Value& v) {
    if (v.type == Type::kStack && v.aux >= callee) v = Value{Type::kTop};
  });
  for (int r = 1; r <= 5; ++r) s.reg(r) = Value{};
  s.reg(0) = r0;
  return true;
}

}  // namespace fusebpf::bpf::verifier
