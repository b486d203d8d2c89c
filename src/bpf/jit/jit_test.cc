// JIT unit tests: every ISA row has an emitter and compiles, code memory is never writable
// and executable, and compile errors are reported. Semantics are tested by tests/bpf.
#include "bpf/jit/jit.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bpf/internal/verifier_access.h"

namespace fusebpf::bpf::jit {
namespace {

VerifiedProgram make_program(std::vector<Insn> insns, std::vector<HelperFn> targets = {}) {
  RawProgram raw;
  raw.insns = std::move(insns);
  targets.resize(raw.insns.size());
  return VerifierAccess::make(std::move(raw), std::move(targets), ContextDescriptor{}, 512);
}

uint64_t add_two(uint64_t a, uint64_t b, uint64_t, uint64_t, uint64_t) { return a + b; }

TEST(JitCoverage, EveryRowHasAnEmitter) {
  for (const isa::OpInfo& row : isa::kOps) EXPECT_TRUE(has_emitter(row.op)) << row.name;
}

TEST(JitCoverage, EveryRowCompiles) {
  for (const isa::OpInfo& row : isa::kOps) {
    if (row.form == isa::Form::kLddw && row.op != isa::Op::kLddw) continue;  // needs maps
    std::vector<Insn> insns;
    if (row.form == isa::Form::kLddw) {
      for (const Insn& i : isa::make_lddw(1, 0x1234567890)) insns.push_back(i);
    } else {
      insns.push_back(
          isa::make(row.op, 1, 2, 0,
                    (row.form == isa::Form::kCallLocal || row.op == isa::Op::kJa32) ? 0 : 3));
    }
    insns.push_back(isa::make(isa::Op::kExit));
    std::vector<HelperFn> targets(insns.size(), nullptr);
    targets[0] = add_two;
    auto jit = JitProgram::compile(make_program(insns, targets));
    EXPECT_TRUE(jit.has_value()) << row.name << ": " << (jit ? "" : jit.error());
  }
}

// The permissions of the mapping that contains addr, from /proc/self/maps ("r-xp").
std::string mapping_perms(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  const auto a = reinterpret_cast<uintptr_t>(addr);
  for (std::string line; std::getline(maps, line);) {
    std::istringstream in(line);
    std::string range, perms;
    in >> range >> perms;
    const size_t dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (a >= lo && a < hi) return perms;
  }
  return "";
}

TEST(Jit, CodeIsExecutableButNotWritable) {
  auto jit = JitProgram::compile(
      make_program({isa::make(isa::Op::kMov64Imm, 0, 0, 0, 42), isa::make(isa::Op::kExit)}));
  ASSERT_TRUE(jit.has_value()) << jit.error();
  EXPECT_EQ(mapping_perms(jit->code().data()), "r-xp");
  auto r = jit->run(nullptr, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 42u);
}

TEST(Jit, HelperCallAndMoveOnly) {
  auto jit = JitProgram::compile(make_program(
      {isa::make(isa::Op::kMov64Imm, 1, 0, 0, 40), isa::make(isa::Op::kMov64Imm, 2, 0, 0, 2),
       isa::make(isa::Op::kCall, 0, 0, 0, 7), isa::make(isa::Op::kExit)},
      {nullptr, nullptr, add_two, nullptr}));
  ASSERT_TRUE(jit.has_value()) << jit.error();
  JitProgram moved = std::move(*jit);
  auto r = moved.run(nullptr, 0);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 42u);
}

TEST(Jit, CompileErrors) {
  auto no_target = JitProgram::compile(
      make_program({isa::make(isa::Op::kCall, 0, 0, 0, 1), isa::make(isa::Op::kExit)}));
  ASSERT_FALSE(no_target.has_value());
  EXPECT_EQ(no_target.error(), "call without a target at pc 0");
  auto lo = isa::make(isa::Op::kLddwMap, 1, 0, 0, 0);
  auto no_map = JitProgram::compile(make_program({lo, Insn{}, isa::make(isa::Op::kExit)}));
  ASSERT_FALSE(no_map.has_value());
  EXPECT_NE(no_map.error().find("only 0 maps are bound"), std::string::npos);
  auto invalid = JitProgram::compile(make_program({Insn{0x8f}, isa::make(isa::Op::kExit)}));
  ASSERT_FALSE(invalid.has_value());
  EXPECT_EQ(invalid.error(), "unknown opcode 0x8f at pc 0");
}

}  // namespace
}  // namespace fusebpf::bpf::jit
