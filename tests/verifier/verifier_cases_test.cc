// Runs every golden case in tests/verifier/*.txt (format: cases.h) through verify() and checks
// the verdict, the diagnostic's pc/code/substring, and for accepted programs the stack size.
#include <gtest/gtest.h>

#include "asm.h"
#include "bpf/verifier/verifier.h"
#include "cases.h"

namespace fusebpf::bpf::testing {
namespace {

const std::vector<VerifierCase>& all_cases() {
  static const std::vector<VerifierCase> cases = load_cases(FUSEBPF_VERIFIER_CASES_DIR);
  return cases;
}

class VerifierCaseTest : public ::testing::TestWithParam<size_t> {};

TEST_P(VerifierCaseTest, Verdict) {
  const VerifierCase& c = all_cases()[GetParam()];
  SCOPED_TRACE(c.file + ":" + std::to_string(c.line) + " " + c.name);
  ASSERT_TRUE(c.parse_error.empty()) << c.parse_error;
  ASSERT_TRUE(c.expect_accept || !c.reject_substring.empty()) << "case has no expectation";
  const AsmResult a = assemble(c.code);
  ASSERT_TRUE(a.error.empty()) << a.error;
  RawProgram prog;
  prog.name = c.name;
  prog.section = "test/" + c.name;
  prog.insns = a.insns;
  prog.maps = c.maps;
  prog.kfunc_names = c.kfunc_names;
  prog.lines = c.lines;
  const Platform platform = make_platform(c);
  verifier::VerifyOptions opts;
  opts.allow_loops = !c.no_loops;
  opts.allow_dead_code = c.allow_dead_code;
  const auto r = verifier::verify(prog, platform, c.ctx, opts);
  if (c.expect_accept) {
    ASSERT_TRUE(r.has_value()) << verifier::format_diagnostics(r.error());
    if (c.stack) {
      EXPECT_EQ(r->stack_size(), *c.stack);
    }
    return;
  }
  ASSERT_FALSE(r.has_value()) << "accepted an unsafe program";
  const std::string text = verifier::format_diagnostics(r.error());
  bool found = false;
  for (const auto& d : r.error()) {
    if (d.message.find(c.reject_substring) == std::string::npos) continue;
    if (c.pc && d.pc != *c.pc) continue;
    if (!c.diag_code.empty() && d.code != c.diag_code) continue;
    found = true;
  }
  EXPECT_TRUE(found) << "wanted '" << c.reject_substring << "'"
                     << (c.pc ? " at pc " + std::to_string(*c.pc) : "")
                     << (c.diag_code.empty() ? "" : " code " + c.diag_code) << ", got:\n"
                     << text << "codes:" << [&] {
                          std::string s;
                          for (const auto& d : r.error()) s += " " + d.code;
                          return s;
                        }();
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string n = all_cases()[info.param].name;
  for (char& ch : n)
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n + "_" + std::to_string(info.param);
}

INSTANTIATE_TEST_SUITE_P(Golden, VerifierCaseTest, ::testing::Range(size_t{0}, all_cases().size()),
                         case_name);

// Guards the suite itself: the files must hold enough distinct unsafe and safe programs.
TEST(VerifierCases, Inventory) {
  size_t rejects = 0, accepts = 0;
  for (const auto& c : all_cases()) (c.expect_accept ? accepts : rejects)++;
  EXPECT_GE(rejects, 40u);
  EXPECT_GE(accepts, 20u);
}

}  // namespace
}  // namespace fusebpf::bpf::testing
