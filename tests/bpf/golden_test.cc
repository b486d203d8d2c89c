// Runs every case of tests/bpf/*.data on the interpreter and the JIT and checks the expected
// result or error; also checks that the cases together exercise every row of the ISA table.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "bpf/isa/isa.h"
#include "golden_case.h"
#include "harness.h"

namespace fusebpf::bpf::testing {
namespace {

std::vector<GoldenCase> load_all() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(FUSEBPF_GOLDEN_DIR))
    if (e.path().extension() == ".data") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<GoldenCase> all;
  for (const auto& f : files) {
    auto cases = load_golden_file(f);
    if (!cases) {
      // Surface parse errors as a failing case rather than silently skipping the file.
      GoldenCase broken;
      broken.name = f.filename().string() + ":PARSE-ERROR";
      broken.error = cases.error();
      all.push_back(broken);
      continue;
    }
    for (auto& c : *cases) all.push_back(std::move(c));
  }
  return all;
}

const std::vector<GoldenCase>& all_cases() {
  static const std::vector<GoldenCase> cases = load_all();
  return cases;
}

}  // namespace

// gtest prints parameters of failed cases; the name is enough.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

namespace {

class Golden : public ::testing::TestWithParam<GoldenCase> {};

void check(Engine engine, const GoldenCase& c, const Outcome& got) {
  SCOPED_TRACE(std::string(engine_name(engine)));
  if (c.result) {
    EXPECT_TRUE(got.ok) << describe(got);
    if (got.ok) {
      EXPECT_EQ(got.value, *c.result) << std::hex << "got 0x" << got.value;
    }
  } else {
    EXPECT_FALSE(got.ok) << describe(got);
    EXPECT_NE(got.error.find(*c.error), std::string::npos)
        << "error '" << got.error << "' lacks '" << *c.error << "'";
  }
}

// Cases run through the real verifier when it accepts them; the engines' edge cases that it
// (rightly) refuses, e.g. division by a constant zero, run through the test seam instead.
TEST_P(Golden, BothEngines) {
  const GoldenCase& c = GetParam();
  ASSERT_FALSE(c.insns.empty()) << c.error.value_or("");
  SCOPED_TRACE(c.name);
  const uint64_t budget = c.budget.value_or(isa::kDefaultBudget);
  const auto mem_size = static_cast<uint32_t>(c.memory.size());
  auto program = prepare_verified(c.insns, mem_size);
  if (!program) program = prepare(c.insns, mem_size);
  if (!program) {
    Outcome rejected{false, 0, program.error(), c.memory};
    check(Engine::kInterpreter, c, rejected);
    return;
  }
  Outcome interp = run_engine(Engine::kInterpreter, *program, c.memory, budget);
  check(Engine::kInterpreter, c, interp);
  if (c.no_jit || !jit_available()) return;
  Outcome jit = run_engine(Engine::kJit, *program, c.memory, budget);
  check(Engine::kJit, c, jit);
  if (interp.ok && jit.ok) {
    EXPECT_EQ(interp.memory, jit.memory) << "final memory differs";
  }
}

std::string case_test_name(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Data, Golden, ::testing::ValuesIn(all_cases()), case_test_name);

TEST(GoldenCoverage, EveryIsaRowIsExercised) {
  std::set<isa::Op> seen;
  for (const GoldenCase& c : all_cases()) {
    for (const Insn& insn : c.insns)
      if (auto op = isa::classify(insn)) seen.insert(*op);
  }
  for (const isa::OpInfo& row : isa::kOps)
    EXPECT_TRUE(seen.count(row.op)) << "no golden case uses " << row.name;
}

// Not a pass/fail criterion for the engines: lists the cases the verifier refuses, so that a
// verifier change that starts refusing ordinary programs is visible here. Cases expecting a
// decode error must be refused by it as well.
TEST(GoldenVerifier, ListsCasesTheVerifierRefuses) {
  int accepted = 0;
  for (const GoldenCase& c : all_cases()) {
    auto v = prepare_verified(c.insns, static_cast<uint32_t>(c.memory.size()));
    if (v) {
      ++accepted;
      EXPECT_FALSE(c.error && c.error->find("budget") == std::string::npos &&
                   c.error->find("depth") == std::string::npos)
          << c.name << ": expected a rejection but the verifier accepted it";
    } else if (c.result) {
      std::cout << "[ verifier refuses ] " << c.name << ": " << v.error() << "\n";
    }
  }
  std::cout << "[ verifier accepts ] " << accepted << " of " << all_cases().size() << " cases\n";
}

}  // namespace
}  // namespace fusebpf::bpf::testing
