// The engine test fixture (see harness.h).
#include "harness.h"

#include <fmt/format.h>

#include <cstring>
#include <memory>

#include "bpf/internal/verifier_access.h"
#include "bpf/interp/interpreter.h"
#include "bpf/isa/isa.h"
#include "bpf/verifier/verifier.h"
#ifndef FUSEBPF_TEST_WITH_JIT
#define FUSEBPF_TEST_WITH_JIT 0
#endif
#if FUSEBPF_TEST_WITH_JIT
#include "bpf/jit/jit.h"
#endif

namespace fusebpf::bpf::testing {
namespace {

uint64_t weighted_sum(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
  return a + 2 * b + 3 * c + 4 * d + 5 * e;
}
uint64_t map_value_size(uint64_t map, uint64_t, uint64_t, uint64_t, uint64_t) {
  return reinterpret_cast<Map*>(map)->spec().value_size;
}
uint64_t constant(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) { return 0x5eed; }
uint64_t kfunc_mul_sub(uint64_t a, uint64_t b, uint64_t c, uint64_t, uint64_t) { return a * b - c; }

HelperFn helper_by_id(int32_t id) {
  switch (id) {
    case 1:
      return weighted_sum;
    case 2:
      return map_value_size;
    case 3:
      return constant;
    default:
      return nullptr;
  }
}

// A minimal array map over owned storage (the real maps live in bpf/maps).
class TestArrayMap : public Map {
 public:
  explicit TestArrayMap(MapSpec spec) : Map(spec), storage_(spec.value_size * spec.max_entries) {
    const size_t n = std::min(storage_.size(), spec.initial_value.size());
    if (n != 0) std::memcpy(storage_.data(), spec.initial_value.data(), n);
  }
  void* lookup(const void* key) override {
    uint32_t i;
    std::memcpy(&i, key, sizeof(i));
    return i < spec().max_entries ? storage_.data() + i * spec().value_size : nullptr;
  }
  int update(const void*, const void*, uint64_t) override { return -1; }
  int remove(const void*) override { return -1; }
  int next_key(const void*, void*) override { return -1; }
  std::byte* array_base() override { return storage_.data(); }

 private:
  std::vector<std::byte> storage_;
};

std::vector<MapSpec> test_map_specs() {
  MapSpec a{"a", MapType::kArray, 4, 16, 2};
  for (uint64_t i = 0; i < 4; ++i) {
    uint64_t v = 0x1111111111111111ull * (i + 1);
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    a.initial_value.insert(a.initial_value.end(), p, p + 8);
  }
  MapSpec b{"b", MapType::kArray, 4, 8, 1};
  return {a, b};
}

}  // namespace

bool jit_available() { return FUSEBPF_TEST_WITH_JIT != 0; }

std::string_view engine_name(Engine e) { return e == Engine::kJit ? "jit" : "interpreter"; }

std::string describe(const Outcome& o) {
  return o.ok ? fmt::format("r0 = {:#x}", o.value) : "error: " + o.error;
}

Result<VerifiedProgram, std::string> prepare(std::span<const Insn> insns, uint32_t mem_size) {
  auto decoded = isa::decode(insns);
  if (!decoded) return fail("rejected: " + decoded.error().message);
  RawProgram raw;
  raw.name = "test";
  raw.insns.assign(insns.begin(), insns.end());
  raw.maps = test_map_specs();
  raw.kfunc_names = {"fusebpf_test_mul_sub"};
  std::vector<HelperFn> targets(insns.size(), nullptr);
  for (const isa::DecodedInsn& d : *decoded) {
    if (d.op == isa::Op::kCall) targets[d.pc] = helper_by_id(d.insn.imm);
    if (d.op == isa::Op::kCallKfunc && d.insn.imm == 0) targets[d.pc] = kfunc_mul_sub;
    if ((d.op == isa::Op::kCall || d.op == isa::Op::kCallKfunc) && targets[d.pc] == nullptr)
      return fail(fmt::format("rejected: unknown helper {} at pc {}", d.insn.imm, d.pc));
    if ((d.op == isa::Op::kLddwMap || d.op == isa::Op::kLddwMapValue) &&
        static_cast<uint32_t>(d.insn.imm) >= raw.maps.size())
      return fail(fmt::format("rejected: unknown map {} at pc {}", d.insn.imm, d.pc));
  }
  ContextDescriptor ctx{"raw", mem_size, {}, true, true};
  return VerifierAccess::make(std::move(raw), std::move(targets), std::move(ctx), 512);
}

namespace {

const Platform& test_platform() {
  static const Platform platform = [] {
    using A = ArgKind;
    Platform p;
    p.add_helper(1, {"weighted_sum", {A::kScalar, A::kScalar, A::kScalar, A::kScalar, A::kScalar}},
                 weighted_sum);
    p.add_helper(2, {"map_value_size", {A::kConstMapPtr}}, map_value_size);
    p.add_helper(3, {"constant", {}}, constant);
    p.add_kfunc({"fusebpf_test_mul_sub", {A::kScalar, A::kScalar, A::kScalar}}, kfunc_mul_sub);
    return p;
  }();
  return platform;
}

}  // namespace

Result<VerifiedProgram, std::string> prepare_verified(std::span<const Insn> insns,
                                                      uint32_t mem_size) {
  FUSEBPF_TRY(seam, prepare(insns, mem_size));
  auto verified = verifier::verify(seam.raw(), test_platform(), seam.context());
  if (!verified) {
    const auto& d = verified.error();
    return fail(d.empty() ? std::string("verifier: rejected")
                          : fmt::format("verifier: {} (pc {})", d.front().message, d.front().pc));
  }
  return std::move(*verified);
}

Outcome run_engine(Engine engine, const VerifiedProgram& program, std::vector<uint8_t> memory,
                   uint64_t budget) {
  std::vector<std::unique_ptr<Map>> owned;
  std::vector<Map*> maps;
  for (const MapSpec& spec : program.raw().maps) {
    owned.push_back(std::make_unique<TestArrayMap>(spec));
    maps.push_back(owned.back().get());
  }
  Outcome out;
  Result<uint64_t, RunError> r = fail(RunError::kOutOfBounds);
  if (engine == Engine::kInterpreter) {
    r = interp::Interpreter(program, maps).run(memory.data(), memory.size(), budget);
  } else {
#if FUSEBPF_TEST_WITH_JIT
    auto jit = jit::JitProgram::compile(program, maps);
    if (!jit) {
      out.error = "jit: " + jit.error();
      return out;
    }
    r = jit->run(memory.data(), memory.size(), budget);
#else
    out.error = "jit: not built";
    return out;
#endif
  }
  out.ok = r.has_value();
  if (out.ok)
    out.value = *r;
  else
    out.error = std::string(run_error_name(r.error()));
  out.memory = std::move(memory);
  return out;
}

Outcome run_program(Engine engine, std::span<const Insn> insns, const std::vector<uint8_t>& memory,
                    uint64_t budget) {
  auto program = prepare(insns, static_cast<uint32_t>(memory.size()));
  if (!program) return Outcome{false, 0, program.error(), memory};
  return run_engine(engine, *program, memory, budget);
}

}  // namespace fusebpf::bpf::testing
