// Micro-benchmarks of the eBPF runtime (issue 2, item 9; issue 4, item 7): the same filter
// logic -- a 16-byte name compare plus a hash-map lookup -- as native C++, on the interpreter
// and on the JIT, and the verification time of a 4,000-instruction program.
//
// Targets (issue 2): JIT within 1.5x of native C++, interpreter within 8x, verify < 10 ms.
// bench/run.sh prints the ratios; by hand:
//   build/bench/micro_bpf --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bpf/interp/interpreter.h"
#include "bpf/isa/isa.h"
#include "bpf/jit/jit.h"
#include "bpf/maps/maps.h"
#include "bpf/program.h"
#include "bpf/verifier/verifier.h"

namespace fusebpf::bpf {
namespace {

// What a filter sees for one request (a stand-in for the filter layer's per-op context).
struct FilterCtx {
  uint64_t nodeid;
  uint32_t opcode;
  uint32_t uid;
  char name[16];
};
static_assert(sizeof(FilterCtx) == 32);

constexpr char kHidden[16] = ".secret_file";  // zero-padded to 16 bytes
constexpr uint64_t kDenied = 13;              // EACCES

ContextDescriptor filter_context() {
  ContextDescriptor c;
  c.name = "bench_ctx";
  c.size = sizeof(FilterCtx);
  c.fields = {
      {0, 8, false, FieldKind::kScalar, 0, false, false, "", "nodeid"},
      {8, 4, false, FieldKind::kScalar, 0, false, false, "", "opcode"},
      {12, 4, false, FieldKind::kScalar, 0, false, false, "", "uid"},
      {16, 8, false, FieldKind::kScalar, 0, false, false, "", "name_lo"},
      {24, 8, false, FieldKind::kScalar, 0, false, false, "", "name_hi"},
  };
  return c;
}

uint64_t word(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The filter as eBPF: deny the hidden name, else return the rule stored for the node (0: none).
std::string filter_asm() {
  return "ldxdw r2, [r1+16]\n"
         "lddw r3, " +
         std::to_string(word(kHidden)) +
         "\n"
         "jne r2, r3, +6\n"
         "ldxdw r2, [r1+24]\n"
         "lddw r3, " +
         std::to_string(word(kHidden + 8)) +
         "\n"
         "jne r2, r3, +2\n"
         "mov r0, " +
         std::to_string(kDenied) +
         "\n"
         "exit\n"
         "ldxdw r2, [r1+0]\n"
         "stxdw [r10-8], r2\n"
         "mov r2, r10\n"
         "add r2, -8\n"
         "lddw r1, map[0]\n"
         "call 1\n"
         "jeq r0, 0, +2\n"
         "ldxdw r0, [r0+0]\n"
         "exit\n"
         "mov r0, 0\n"
         "exit\n";
}

// The same logic in C++, calling the same map implementation.
__attribute__((noinline)) uint64_t native_filter(const FilterCtx& ctx, Map& rules) {
  if (std::memcmp(ctx.name, kHidden, sizeof kHidden) == 0) return kDenied;
  const void* v = rules.lookup(&ctx.nodeid);
  return v ? *static_cast<const uint64_t*>(v) : 0;
}

struct FilterSetup {
  FilterSetup() {
    auto m = create_map(MapSpec{"rules", MapType::kHash, 8, 8, 1024, 0, {}, false});
    if (!m) abort_with(m.error());
    rules = std::move(*m);
    for (uint64_t node = 1; node <= 512; ++node) {
      uint64_t value = node * 3;
      rules->update(&node, &value, kBpfAny);
    }
    maps = {rules.get()};
    auto insns = isa::assemble(filter_asm());
    if (!insns) abort_with("assemble: " + insns.error().message);
    RawProgram raw;
    raw.name = "bench_filter";
    raw.insns = *insns;
    raw.maps = {rules->spec()};
    auto v = verifier::verify(raw, platform, filter_context());
    if (!v) abort_with(verifier::format_diagnostics(v.error()));
    program = std::make_unique<VerifiedProgram>(std::move(*v));
    ctx.nodeid = 77;  // present in the map: the lookup hits
    ctx.opcode = 1;
    std::memcpy(ctx.name, "main.c", 7);
  }
  [[noreturn]] static void abort_with(const std::string& why) {
    std::fprintf(stderr, "micro_bpf: %s\n", why.c_str());
    std::abort();
  }
  Platform platform = Platform::standard();
  std::unique_ptr<Map> rules;
  std::vector<Map*> maps;
  std::unique_ptr<VerifiedProgram> program;
  FilterCtx ctx{};
};

FilterSetup& setup() {
  static FilterSetup s;
  return s;
}

void BM_FilterNative(benchmark::State& state) {
  auto& s = setup();
  uint64_t sum = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&s.ctx);
    sum += native_filter(s.ctx, *s.rules);
  }
  if (sum != 77 * 3 * static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("wrong result");
}
BENCHMARK(BM_FilterNative);

void BM_FilterInterpreter(benchmark::State& state) {
  auto& s = setup();
  interp::Interpreter engine(*s.program, s.maps);
  uint64_t sum = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&s.ctx);
    auto r = engine.run(&s.ctx, sizeof s.ctx);
    sum += r ? *r : 0;
  }
  if (sum != 77 * 3 * static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("wrong result");
}
BENCHMARK(BM_FilterInterpreter);

void BM_FilterJit(benchmark::State& state) {
  auto& s = setup();
  auto engine = jit::JitProgram::compile(*s.program, s.maps);
  if (!engine) return state.SkipWithError(("JIT unavailable: " + engine.error()).c_str());
  uint64_t sum = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(&s.ctx);
    auto r = engine->run(&s.ctx, sizeof s.ctx);
    sum += r ? *r : 0;
  }
  if (sum != 77 * 3 * static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("wrong result");
}
BENCHMARK(BM_FilterJit);

// The denied-name path (no map lookup): the pure cost of entering the engine and comparing.
void BM_FilterDeniedNative(benchmark::State& state) {
  auto& s = setup();
  FilterCtx ctx = s.ctx;
  std::memcpy(ctx.name, kHidden, sizeof kHidden);
  for (auto _ : state) {
    benchmark::DoNotOptimize(&ctx);
    benchmark::DoNotOptimize(native_filter(ctx, *s.rules));
  }
}
BENCHMARK(BM_FilterDeniedNative);

void BM_FilterDeniedJit(benchmark::State& state) {
  auto& s = setup();
  FilterCtx ctx = s.ctx;
  std::memcpy(ctx.name, kHidden, sizeof kHidden);
  auto engine = jit::JitProgram::compile(*s.program, s.maps);
  if (!engine) return state.SkipWithError("JIT unavailable");
  for (auto _ : state) {
    benchmark::DoNotOptimize(&ctx);
    benchmark::DoNotOptimize(engine->run(&ctx, sizeof ctx));
  }
}
BENCHMARK(BM_FilterDeniedJit);

void BM_FilterDeniedInterpreter(benchmark::State& state) {
  auto& s = setup();
  FilterCtx ctx = s.ctx;
  std::memcpy(ctx.name, kHidden, sizeof kHidden);
  interp::Interpreter engine(*s.program, s.maps);
  for (auto _ : state) {
    benchmark::DoNotOptimize(&ctx);
    benchmark::DoNotOptimize(engine.run(&ctx, sizeof ctx));
  }
}
BENCHMARK(BM_FilterDeniedInterpreter);

// ---- verification of a large program ----

// A 4,000-instruction program shaped like clang -O2 filter code: per 24-slot chunk a context
// read, a map lookup with its NULL check, a bounds-checked index into the value, a
// read-modify-write of it, a branch and a spill/fill.
std::string big_program(int instructions) {
  std::string text = "mov r6, r1\nmov r8, 0\nmov r9, 0\n";
  int slots = 3, i = 0;
  constexpr int kChunk = 24;
  while (slots + kChunk + 2 <= instructions) {
    std::string n = std::to_string(i++);
    text += "ldxw r7, [r6+8]\nstw [r10-4], " + n +
            "\nmov r2, r10\nadd r2, -4\nlddw r1, map[0]\ncall 1\njeq r0, 0, +9\n"
            "mov r3, r7\nand r3, 255\njge r3, 8, +6\nlsh r3, 3\nmov r4, r0\nadd r4, r3\n"
            "ldxdw r5, [r4+0]\nadd r5, 1\nstxdw [r4+0], r5\n"
            "add r8, r7\njgt r8, 1000, +2\nxor r8, " +
            n + "\nja +0\nmov r9, " + n + "\nstxdw [r10-16], r8\nldxdw r8, [r10-16]\n";
    slots += kChunk;
  }
  for (; slots < instructions - 2; ++slots) text += "add r9, 1\n";
  return text + "mov r0, 0\nexit\n";
}

void BM_Verify4k(benchmark::State& state) {
  auto insns = isa::assemble(big_program(static_cast<int>(state.range(0))));
  if (!insns) return state.SkipWithError(("assemble: " + insns.error().message).c_str());
  RawProgram raw;
  raw.name = "big";
  raw.insns = *insns;
  raw.maps = {MapSpec{"values", MapType::kHash, 4, 64, 1024, 0, {}, false}};
  const Platform platform = Platform::standard();
  const ContextDescriptor ctx = filter_context();
  for (auto _ : state) {
    auto v = verifier::verify(raw, platform, ctx);
    if (!v) {
      state.SkipWithError(verifier::format_diagnostics(v.error()).substr(0, 300).c_str());
      break;
    }
    benchmark::DoNotOptimize(v);
  }
  state.counters["insns"] = static_cast<double>(raw.insns.size());
}
BENCHMARK(BM_Verify4k)->Arg(4000)->Unit(benchmark::kMillisecond);

// Verified once, JIT-compiled per iteration (what loading a filter costs after verify).
void BM_Jit4kCompile(benchmark::State& state) {
  auto insns = isa::assemble(big_program(4000));
  if (!insns) return state.SkipWithError("assemble failed");
  RawProgram raw;
  raw.name = "big";
  raw.insns = *insns;
  raw.maps = {MapSpec{"values", MapType::kHash, 4, 64, 1024, 0, {}, false}};
  const Platform platform = Platform::standard();
  auto v = verifier::verify(raw, platform, filter_context());
  if (!v) return state.SkipWithError("rejected");
  auto m = create_map(raw.maps[0]);
  if (!m) return state.SkipWithError("map");
  std::vector<Map*> maps = {m->get()};
  for (auto _ : state) {
    auto j = jit::JitProgram::compile(*v, maps);
    if (!j) return state.SkipWithError("JIT unavailable");
    benchmark::DoNotOptimize(j);
  }
}
BENCHMARK(BM_Jit4kCompile)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fusebpf::bpf

BENCHMARK_MAIN();
