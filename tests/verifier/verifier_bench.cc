// Not a test: prints how long verify() takes on a generated 4,000-instruction program that
// looks like clang -O2 filter code (map lookups, NULL checks, bounds-checked indexing, context
// reads, branches). Usage: verifier_bench [instructions] [repetitions]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "bpf/verifier/verifier.h"
#include "cases.h"
#include "insn_builder.h"

using namespace fusebpf::bpf;
using namespace fusebpf::bpf::testing;

namespace {

// One 25-instruction chunk: read ctx->len, look up a map, bounds-check an index into the value.
void add_chunk(std::vector<Insn>& p, int i) {
  auto push = [&](Insn x) { p.push_back(x); };
  push(ldx(kW, 7, 6, 0));   // r7 = ctx->len
  push(st(kW, 10, -4, i));  // key = i
  push(mov64_reg(2, 10));
  push(alu64_imm(kAdd, 2, -4));
  for (Insn x : lddw_map(1, 0)) push(x);
  push(call_helper(1));          // r0 = lookup(map, &key)
  push(jmp_imm(kJeq, 0, 0, 9));  // if !r0 skip
  push(mov64_reg(3, 7));
  push(alu64_imm(kAnd, 3, 0xff));
  push(jmp_imm(kJge, 3, 8, 6));  // if idx >= 8 skip
  push(alu64_imm(kLsh, 3, 3));
  push(mov64_reg(4, 0));
  push(alu64_reg(kAdd, 4, 3));
  push(ldx(kDW, 5, 4, 0));  // v = value[idx]
  push(alu64_imm(kAdd, 5, 1));
  push(stx(kDW, 4, 5, 0));      // value[idx] = v + 1
  push(alu64_reg(kAdd, 8, 7));  // acc += len
  push(jmp_imm(kJgt, 8, 1000, 2));
  push(alu64_imm(kXor, 8, i));
  push(ja(0));
  push(mov64_imm(9, i));
  push(stx(kDW, 10, 8, -16));  // spill acc
  push(ldx(kDW, 8, 10, -16));  // fill acc
}

}  // namespace

int main(int argc, char** argv) {
  const int want = argc > 1 ? std::atoi(argv[1]) : 4000;
  const int reps = argc > 2 ? std::atoi(argv[2]) : 20;
  RawProgram prog;
  prog.maps = {MapSpec{"values", MapType::kHash, 4, 64, 1024, 0, {}, false}};
  prog.insns = {mov64_reg(6, 1), mov64_imm(8, 0)};
  for (int i = 0; static_cast<int>(prog.insns.size()) + 25 + 2 <= want; ++i)
    add_chunk(prog.insns, i);
  while (static_cast<int>(prog.insns.size()) < want - 2)
    prog.insns.push_back(alu64_imm(kAdd, 9, 1));
  prog.insns.push_back(mov64_imm(0, 0));
  prog.insns.push_back(exit_insn());
  const Platform platform = make_platform({});
  const ContextDescriptor ctx = default_context();
  double best = 1e9, total = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto v = verifier::verify(prog, platform, ctx);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!v) {
      std::fprintf(stderr, "bench program rejected:\n%s",
                   verifier::format_diagnostics(v.error()).c_str());
      return 1;
    }
    best = std::min(best, ms);
    total += ms;
  }
  std::printf("verify: %zu instructions, best %.2f ms, mean %.2f ms over %d runs\n",
              prog.insns.size(), best, total / reps, reps);
  return 0;
}
