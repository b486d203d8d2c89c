// libFuzzer target for the verifier (untrusted input: any instruction stream a filter author's
// object file contains). Every input must be accepted or rejected cleanly, and an accepted
// program must satisfy the VerifiedProgram invariants the engines rely on.
// Input: byte 0 picks the context (field mode or raw memory), the rest is instructions.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "bpf/verifier/verifier.h"

namespace {

using namespace fusebpf::bpf;

uint64_t noop(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) { return 0; }

const Platform& platform() {
  static const Platform p = [] {
    using A = ArgKind;
    Platform pl;
    pl.add_helper(1, {"map_lookup", {A::kConstMapPtr, A::kMapKey}, RetKind::kMapValueOrNull}, noop);
    pl.add_helper(2, {"map_update", {A::kConstMapPtr, A::kMapKey, A::kMapValue, A::kScalar}}, noop);
    pl.add_helper(4, {"probe_read", {A::kWritableMem, A::kMemSize, A::kAnything}}, noop);
    pl.add_helper(6, {"printk", {A::kReadableMem, A::kMemSize}}, noop);
    pl.add_helper(182, {"strncmp", {A::kReadableMem, A::kMemSize, A::kConstStr}}, noop);
    pl.add_helper(197, {"from_mem", {A::kWritableMem, A::kMemSize, A::kScalar, A::kDynptrUninit}},
                  noop);
    pl.add_helper(
        203, {"dynptr_data", {A::kDynptr, A::kScalar, A::kScalar}, RetKind::kMemOrNull, 2, true},
        noop);
    pl.add_kfunc({"obj_size", {A::kCtxObject}, RetKind::kScalar, -1, false, "obj"}, noop);
    return pl;
  }();
  return p;
}

ContextDescriptor context(bool raw) {
  if (raw) return ContextDescriptor{"raw", 64, {}, true, true};
  ContextDescriptor c{"fuzz_ctx", 24, {}, false, false};
  c.fields.push_back({0, 4, false, FieldKind::kScalar, 0, false, false, "", "len"});
  c.fields.push_back({4, 4, true, FieldKind::kScalar, 0, false, false, "", "flags"});
  c.fields.push_back({8, 8, false, FieldKind::kPtrToMem, 32, true, true, "", "data"});
  c.fields.push_back({16, 8, false, FieldKind::kPtrToObject, 0, false, true, "obj", "obj"});
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  RawProgram prog;
  prog.maps = {MapSpec{"h", MapType::kHash, 4, 16, 8, 0, {}, false},
               MapSpec{"ro", MapType::kArray, 4, 8, 1, 0, std::vector<std::byte>(8), true}};
  prog.kfunc_names = {"obj_size", "missing"};
  prog.insns.resize((size - 1) / sizeof(Insn));
  if (!prog.insns.empty())
    std::memcpy(prog.insns.data(), data + 1, prog.insns.size() * sizeof(Insn));
  const ContextDescriptor ctx = context((data[0] & 1) != 0);
  verifier::VerifyOptions opts;
  opts.max_steps = 20'000;  // keep each input fast; "too complex" is a valid rejection
  auto r = verifier::verify(prog, platform(), ctx, opts);
  if (!r) {
    if (r.error().empty()) std::abort();  // a rejection must say why
    (void)verifier::format_diagnostics(r.error());
    return 0;
  }
  if (r->call_targets().size() != prog.insns.size() || r->stack_size() > 512) std::abort();
  // Only helper/kfunc call sites may carry a call target.
  for (size_t pc = 0; pc < prog.insns.size(); ++pc) {
    const Insn& in = prog.insns[pc];
    const bool call = in.opcode == 0x85 && in.src != 1;
    if (r->call_targets()[pc] != nullptr && !call) std::abort();
  }
  return 0;
}
