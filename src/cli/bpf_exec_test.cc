// Tests of the conformance runner (bpf_exec.h) on both engines.
#include "cli/bpf_exec.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sstream>

#include "bpf/isa/isa.h"

namespace fusebpf::cli {
namespace {

// Program text as the conformance runner sends it: two spaces between bytes.
std::string program_hex(std::string_view text) {
  auto insns = bpf::isa::assemble(text);
  EXPECT_TRUE(insns.has_value()) << insns.error().message;
  std::string hex;
  const auto* p = reinterpret_cast<const uint8_t*>(insns->data());
  for (size_t i = 0; i < insns->size() * sizeof(bpf::Insn); ++i)
    hex += fmt::format("{:02x}  ", p[i]);
  return hex;
}

struct ExecResult {
  int code;
  std::string out, err;
};

ExecResult exec(bool jit, std::string_view memory, const std::string& program) {
  std::istringstream in(program);
  std::ostringstream out, err;
  int code = run_bpf_exec(jit, memory, in, out, err);
  return {code, out.str(), err.str()};
}

class BpfExec : public ::testing::TestWithParam<bool> {};

TEST_P(BpfExec, PrintsR0InHex) {
  ExecResult r = exec(GetParam(), "", program_hex("mov r0, 0x2a\nexit"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "2a\n");
  r = exec(GetParam(), "", program_hex("mov r0, -1\nexit"));
  EXPECT_EQ(r.out, "ffffffffffffffff\n");
}

TEST_P(BpfExec, MemoryIsTheContext) {
  ExecResult r = exec(GetParam(), "11  22  33", program_hex("ldxb r0, [r1+1]\nexit"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "22\n");
  r = exec(GetParam(), "00 00 00 00 00", program_hex("mov r0, r2\nexit"));
  EXPECT_EQ(r.out, "5\n");
  r = exec(GetParam(), "0102", program_hex("sth [r1+0], 7\nldxh r0, [r1+0]\nexit"));
  EXPECT_EQ(r.out, "7\n");
}

TEST_P(BpfExec, RejectsUnsafePrograms) {
  ExecResult r = exec(GetParam(), "00 00", program_hex("ldxdw r0, [r1+8]\nexit"));
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("verification failed"), std::string::npos) << r.err;
}

TEST_P(BpfExec, BadInput) {
  ExecResult r = exec(GetParam(), "zz", program_hex("exit"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("memory: invalid hex character 'z'"), std::string::npos) << r.err;
  r = exec(GetParam(), "", "b7 00 00");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a whole number of instructions"), std::string::npos) << r.err;
}

TEST_P(BpfExec, RunawayLoopStopsAtTheBudget) {
  // The verifier cannot know the loop never ends: its exit depends on the memory.
  ExecResult r = exec(GetParam(), "00", program_hex(R"(
      ldxb r1, [r1+0]
      mov r0, 0
    l:
      add r0, 1
      jne r1, 7, l
      exit)"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("budget exceeded"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Engines, BpfExec, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Jit" : "Interpreter"; });

}  // namespace
}  // namespace fusebpf::cli
