// libFuzzer target: the interpreter and the JIT must agree (r0, error, final memory) on every
// program the verifier accepts. Aborts with both outcomes and the program on a mismatch.
//
// Input byte 0 selects the mode:
//   even: the rest seeds a safe-by-construction generated program (tests/bpf/random_program.h)
//   odd:  bytes 1..64 are the context memory, the rest raw instructions, which must pass the
//         real verifier (raw-memory context, test platform of tests/bpf/harness.h)
// Runs use a small budget so that loops stay fast; budget errors must agree too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "bpf/isa/isa.h"
#include "harness.h"
#include "random_program.h"

namespace {

using namespace fusebpf::bpf;
using testing::Engine;
using testing::Outcome;

constexpr uint64_t kBudget = 20'000;
constexpr size_t kMemSize = 64;

void compare(const VerifiedProgram& program, const std::vector<uint8_t>& memory) {
  Outcome a = testing::run_engine(Engine::kInterpreter, program, memory, kBudget);
  Outcome b = testing::run_engine(Engine::kJit, program, memory, kBudget);
  if (a == b) return;
  std::fprintf(stderr, "interpreter: %s\njit: %s%s\n%s", testing::describe(a).c_str(),
               testing::describe(b).c_str(), a.memory != b.memory ? " (memory differs)" : "",
               isa::disassemble(program.insns(), true).c_str());
  std::abort();
}

void generated(const uint8_t* data, size_t size) {
  size_t pos = 0;
  std::function<uint64_t()> next = [&]() {
    uint64_t v = 0;
    const size_t n = std::min<size_t>(8, size - pos);
    std::memcpy(&v, data + pos, n);
    pos += n;
    return v;
  };
  testing::GeneratedProgram p = testing::generate_program(next);
  auto program = testing::prepare(p.insns, static_cast<uint32_t>(p.memory.size()));
  if (!program) {
    std::fprintf(stderr, "generator produced an undecodable program: %s\n%s",
                 program.error().c_str(), isa::disassemble(p.insns, true).c_str());
    std::abort();
  }
  compare(*program, p.memory);
}

void raw(const uint8_t* data, size_t size) {
  std::vector<uint8_t> memory(kMemSize, 0);
  const size_t mem_bytes = std::min(size, kMemSize);
  std::memcpy(memory.data(), data, mem_bytes);
  data += mem_bytes;
  size -= mem_bytes;
  std::vector<Insn> insns(size / sizeof(Insn));
  if (insns.empty()) return;
  std::memcpy(insns.data(), data, insns.size() * sizeof(Insn));
  auto program = testing::prepare_verified(insns, kMemSize);
  if (program) compare(*program, memory);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    generated(data + 1, size - 1);
  } else {
    raw(data + 1, size - 1);
  }
  return 0;
}
