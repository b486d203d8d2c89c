// The verify() API beyond the golden cases: what a VerifiedProgram carries (call targets,
// stack size, the program), and how diagnostics read for a filter author.
#include <gtest/gtest.h>

#include "bpf/verifier/verifier.h"
#include "cases.h"
#include "insn_builder.h"

namespace fusebpf::bpf::testing {
namespace {

using verifier::format_diagnostics;
using verifier::verify;

MapSpec hash_map() { return MapSpec{"counts", MapType::kHash, 4, 8, 16, 0, {}, false}; }

// r2 = &key (stack), r1 = map, call lookup; if r0 { *r0 += 1 }; return 0.
std::vector<Insn> lookup_program(bool check_null) {
  std::vector<Insn> p{st(kW, 10, -4, 7), mov64_reg(2, 10), alu64_imm(kAdd, 2, -4)};
  for (Insn i : lddw_map(1, 0)) p.push_back(i);
  p.push_back(call_helper(1));
  if (check_null) p.push_back(jmp_imm(kJeq, 0, 0, 3));
  p.push_back(ldx(kDW, 1, 0, 0));
  p.push_back(alu64_imm(kAdd, 1, 1));
  p.push_back(stx(kDW, 0, 1, 0));
  p.push_back(mov64_imm(0, 0));
  p.push_back(exit_insn());
  return p;
}

TEST(VerifyApi, AcceptedProgramCarriesCallTargetsAndStack) {
  RawProgram prog;
  prog.insns = lookup_program(true);
  prog.maps = {hash_map()};
  const Platform platform = make_platform({});
  const auto r = verify(prog, platform, default_context());
  ASSERT_TRUE(r.has_value()) << format_diagnostics(r.error());
  ASSERT_EQ(r->call_targets().size(), prog.insns.size());
  EXPECT_EQ(r->call_targets()[5], &dummy_helper);
  EXPECT_EQ(r->call_targets()[0], nullptr);
  EXPECT_EQ(r->stack_size(), 8u);  // 4 bytes used at r10-4, rounded to 8
  EXPECT_EQ(r->insns().size(), prog.insns.size());
  EXPECT_EQ(r->context().name, "test_ctx");
}

TEST(VerifyApi, NullDiagnosticNamesHelperSourceAndInstruction) {
  RawProgram prog;
  prog.section = "struct_ops/lookup_prefilter";
  prog.insns = lookup_program(false);
  prog.maps = {hash_map()};
  prog.lines = {{0, "filter.c", 40, "u32 key = 7;"}, {6, "filter.c", 42, "x = *v;"}};
  const Platform platform = make_platform({});
  const auto r = verify(prog, platform, default_context());
  ASSERT_FALSE(r.has_value());
  ASSERT_FALSE(r.error().empty());
  const auto& d = r.error().front();
  EXPECT_EQ(d.pc, 6u);
  EXPECT_EQ(d.code, "null-deref");
  EXPECT_EQ(d.section, "struct_ops/lookup_prefilter");
  EXPECT_EQ(d.source, "filter.c:42: x = *v;");
  EXPECT_EQ(d.disasm, "ldxdw r1, [r0+0]");
  const std::string text = format_diagnostics(r.error());
  EXPECT_NE(text.find("pc 6: r0 may be NULL here: check the result of bpf_map_lookup_elem (pc 5)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(filter.c:42: x = *v;)"), std::string::npos) << text;
}

TEST(VerifyApi, RejectionIsAValueForEveryStage) {
  const Platform platform = make_platform({});
  RawProgram bad_insn;
  bad_insn.insns = {make_insn(0xff, 0, 0, 0, 0), exit_insn()};
  EXPECT_FALSE(verify(bad_insn, platform, default_context()).has_value());
  RawProgram bad_value;
  bad_value.insns = {exit_insn()};
  const auto r = verify(bad_value, platform, default_context());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().front().code, "uninit-reg");
}

TEST(VerifyApi, DiagnosticsAreCappedAndSorted) {
  const Platform platform = make_platform({});
  RawProgram prog;
  for (int i = 0; i < 40; ++i) prog.insns.push_back(make_insn(0xff, 0, 0, 0, 0));
  prog.insns.push_back(exit_insn());
  verifier::VerifyOptions opts;
  opts.max_diagnostics = 5;
  const auto r = verify(prog, platform, default_context(), opts);
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 5u);
  for (size_t i = 1; i < r.error().size(); ++i) EXPECT_LT(r.error()[i - 1].pc, r.error()[i].pc);
}

TEST(VerifyApi, HelperPrototypeWithoutSizeArgumentIsRejectedNotTrusted) {
  VerifierCase c;
  HelperPrototype p{
      "broken", {ArgKind::kReadableMem, ArgKind::kScalar}, RetKind::kScalar, -1, false, ""};
  c.helpers.emplace_back(100, p);
  const Platform platform = make_platform(c);
  RawProgram prog;
  prog.insns = {mov64_reg(1, 10), alu64_imm(kAdd, 1, -8), st(kDW, 10, -8, 0), mov64_imm(2, 8),
                call_helper(100), mov64_imm(0, 0),        exit_insn()};
  const auto r = verify(prog, platform, default_context());
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().front().code, "bad-prototype");
}

}  // namespace
}  // namespace fusebpf::bpf::testing
