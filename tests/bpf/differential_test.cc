// Randomized differential test: thousands of generated programs (random_program.h) run on the
// interpreter and the JIT must agree on r0 and on the final context memory. Fixed seeds, so a
// failure reproduces; the failing program is printed as assembler text.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "bpf/isa/isa.h"
#include "harness.h"
#include "random_program.h"

namespace fusebpf::bpf::testing {
namespace {

void run_batch(uint64_t seed, int count, const GeneratorOptions& options) {
  std::mt19937_64 rng(seed);
  std::function<uint64_t()> next = [&rng] { return rng(); };
  int failures = 0;
  for (int i = 0; i < count && failures < 3; ++i) {
    GeneratedProgram p = generate_program(next, options);
    auto program = prepare(p.insns, static_cast<uint32_t>(p.memory.size()));
    ASSERT_TRUE(program.has_value()) << program.error() << "\n" << isa::disassemble(p.insns, true);
    Outcome a = run_engine(Engine::kInterpreter, *program, p.memory, isa::kDefaultBudget);
    // Without the JIT this still checks that generated programs decode and run.
    Outcome b =
        jit_available() ? run_engine(Engine::kJit, *program, p.memory, isa::kDefaultBudget) : a;
    ASSERT_TRUE(a.ok) << describe(a);
    if (!(a == b)) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << " program " << i << ": interpreter " << describe(a)
                    << ", jit " << describe(b) << (a.memory != b.memory ? " (memory differs)" : "")
                    << "\n"
                    << isa::disassemble(p.insns, true);
    }
  }
}

TEST(Differential, StraightLine) { run_batch(1, 1500, GeneratorOptions{48, false, false}); }

TEST(Differential, BranchesAndCalls) { run_batch(2, 1500, GeneratorOptions{64, true, true}); }

TEST(Differential, ShortPrograms) { run_batch(3, 1000, GeneratorOptions{6, true, true}); }

}  // namespace
}  // namespace fusebpf::bpf::testing
