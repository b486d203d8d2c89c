// Tests of the ISA table consumers: classification, decode structure checks, disassembler and
// assembler round trips over every row of abi/bpf_isa.def.
#include "bpf/isa/isa.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

namespace fusebpf::bpf::isa {
namespace {

// A valid instance of `row` with non-trivial values in every free field.
Insn sample(const OpInfo& row) {
  auto pick = [](const FieldRule& r, int32_t reg, int32_t any) {
    switch (r.kind) {
      case FieldRule::kReadReg:
      case FieldRule::kWriteReg:
        return reg;
      case FieldRule::kAny:
        return any;
      case FieldRule::kEqual:
        return r.value;
      case FieldRule::kZero:
        return 0;
    }
    return 0;
  };
  Insn insn;
  insn.opcode = row.opcode;
  insn.dst = pick(row.dst, 3, 0);
  insn.src = pick(row.src, 7, 0);
  insn.off = static_cast<int16_t>(pick(row.off, 0, -12));
  insn.imm = pick(row.imm, 0, row.form == Form::kLddw ? 2 : -77777);
  return insn;
}

TEST(IsaTable, EveryRowClassifiesToItself) {
  for (const OpInfo& row : kOps) {
    Insn insn = sample(row);
    std::optional<Op> op = classify(insn);
    ASSERT_TRUE(op.has_value()) << row.name << ": " << explain_invalid(insn);
    EXPECT_EQ(*op, row.op) << row.name;
    EXPECT_EQ(static_cast<uint8_t>(row.opcode & 7), static_cast<uint8_t>(row.cls)) << row.name;
  }
}

TEST(IsaTable, CoversTheRfcOpcodeBytes) {
  std::set<uint8_t> bytes;
  for (const OpInfo& row : kOps) bytes.insert(row.opcode);
  // RFC 9669 base32/base64/atomic32/atomic64/divmul32/divmul64 without legacy packet loads.
  EXPECT_EQ(kOpCount, 160u);
  EXPECT_EQ(bytes.size(), 119u);
  for (uint8_t missing : {0x8f, 0x8c, 0xdf, 0x20, 0x28, 0x30, 0x40, 0x8d, 0x9d, 0xe5})
    EXPECT_EQ(bytes.count(missing), 0u) << std::hex << int{missing};
}

TEST(IsaTable, RejectsBadFields) {
  Insn add = make(Op::kAdd64Imm, 1, 0, 0, 5);
  add.src = 3;
  EXPECT_FALSE(classify(add));
  EXPECT_EQ(explain_invalid(add), "src must be 0 for add (is 3)");
  Insn r10 = make(Op::kMov64Reg, 10, 1);
  EXPECT_FALSE(classify(r10));
  EXPECT_EQ(explain_invalid(r10), "invalid dst register r10 for mov");
  Insn bad_off = make(Op::kDiv64Reg, 1, 2);
  bad_off.off = 2;
  EXPECT_EQ(explain_invalid(bad_off), "invalid off 2 for opcode 0x3f");
  Insn swap = make(Op::kBswap16, 1);
  swap.imm = 8;
  EXPECT_FALSE(classify(swap));
  EXPECT_EQ(explain_invalid(Insn{0x8f}), "unknown opcode 0x8f");
  Insn atomic = make(Op::kAtomicAdd64, 1, 2);
  atomic.imm = 0x02;
  EXPECT_FALSE(classify(atomic));
}

TEST(IsaTable, MakePinsSelectorFields) {
  constexpr Insn sdiv = make(Op::kSdiv32Imm, 1, 0, 0, 7);
  static_assert(sdiv.opcode == 0x34 && sdiv.off == 1 && sdiv.imm == 7);
  constexpr Insn movsx = make(Op::kMovsx16To64, 2, 3);
  static_assert(movsx.opcode == 0xbf && movsx.off == 16);
  constexpr Insn xchg = make(Op::kAtomicXchg64, 1, 2, -8);
  static_assert(xchg.opcode == 0xdb && xchg.imm == 0xe1 && xchg.off == -8);
  EXPECT_EQ(classify(make(Op::kCallKfunc, 0, 0, 0, 3)), Op::kCallKfunc);
}

TEST(Disasm, KnownText) {
  EXPECT_EQ(disassemble(make(Op::kLdxw, 1, 2, 4)), "ldxw r1, [r2+4]");
  EXPECT_EQ(disassemble(make(Op::kStxdw, 10, 1, -8)), "stxdw [r10-8], r1");
  EXPECT_EQ(disassemble(make(Op::kJsgt32Imm, 3, 0, -2, -1)), "jsgt32 r3, -1, -2");
  EXPECT_EQ(disassemble(make(Op::kMov32Imm, 0, 0, 0, -0x80000000)), "mov32 r0, 0x80000000");
  EXPECT_EQ(disassemble(make(Op::kCallLocal, 0, 0, 0, 5)), "call local +5");
  EXPECT_EQ(disassemble(make(Op::kAtomicFetchAdd32, 1, 2)), "atomic_fetch_add32 [r1+0], r2");
  auto wide = make_lddw(4, 0x1122334455667788);
  EXPECT_EQ(disassemble(wide), "lddw r4, 0x1122334455667788\n");
  EXPECT_EQ(disassemble(make(Op::kBe16, 0)), "be16 r0");
  EXPECT_EQ(disassemble(Insn{0xff}), ".invalid 0xff dst=0 src=0 off=0 imm=0");
}

TEST(Asm, RoundTripsEveryRow) {
  for (const OpInfo& row : kOps) {
    std::vector<Insn> insns{sample(row)};
    if (row.form == Form::kLddw)
      insns.push_back(Insn{0, 0, 0, 0, row.op == Op::kLddw ? -5 : row.op == Op::kLddwMap ? 0 : 24});
    std::string text = disassemble(insns);
    auto back = assemble(text);
    ASSERT_TRUE(back.has_value()) << row.name << " '" << text << "': " << back.error().message;
    ASSERT_EQ(back->size(), insns.size()) << text;
    for (size_t i = 0; i < insns.size(); ++i)
      EXPECT_EQ(std::memcmp(&(*back)[i], &insns[i], sizeof(Insn)), 0) << row.name << ": " << text;
  }
}

TEST(Asm, LabelsCommentsAndRegisterSpellings) {
  auto prog = assemble(R"(
    # count down
    mov %r0, 3          ; comment
  top:
    sub r0, 1
    jne r0, 0, top
    ja done
    mov r0, 99
  done: exit
  )");
  ASSERT_TRUE(prog.has_value()) << prog.error().message;
  ASSERT_EQ(prog->size(), 6u);
  EXPECT_EQ((*prog)[2].off, -2);
  EXPECT_EQ((*prog)[3].off, 1);
  EXPECT_EQ(disassemble(*prog), "mov r0, 3\nsub r0, 1\njne r0, 0, -2\nja +1\nmov r0, 99\nexit\n");
}

TEST(Asm, Errors) {
  auto e1 = assemble("mov r0, 1\nfrob r1, 2\n");
  ASSERT_FALSE(e1.has_value());
  EXPECT_EQ(e1.error().line, 2u);
  EXPECT_NE(e1.error().message.find("unknown mnemonic"), std::string::npos);
  EXPECT_FALSE(assemble("ja nowhere\nexit").has_value());
  EXPECT_FALSE(assemble("ldxw r1, r2").has_value());
  EXPECT_FALSE(assemble("mov r0, 0x1ffffffff").has_value());
  EXPECT_FALSE(assemble("x:\nx:\nexit").has_value());
}

TEST(Decode, StructureChecks) {
  auto ok = decode(*assemble("lddw r0, 0x100000002\nja +0\nexit"));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[0].next_imm, 1);
  EXPECT_EQ((*ok)[1].pc, 2u);
  EXPECT_EQ((*ok)[1].target, 3);

  auto msg = [](std::string_view text) {
    auto r = decode(*assemble(text));
    return r.has_value() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(msg("ja +5\nexit"), "jump target 6 out of range at pc 0");
  EXPECT_EQ(msg("ja +1\nlddw r1, 1\nexit"), "jump into the middle of lddw at pc 2 at pc 0");
  EXPECT_EQ(msg("mov r0, 0\njeq r0, 0, -2"), "last instruction falls through off the end at pc 1");
  EXPECT_EQ(msg("call local -1\nexit"), "ok");
  EXPECT_EQ(msg("call local -2\nexit"), "jump target -1 out of range at pc 0");
  std::vector<Insn> cut = *assemble("lddw r1, 1");
  cut.pop_back();
  EXPECT_EQ(decode(cut).error().message, "lddw is missing its second slot at pc 0");
  EXPECT_EQ(decode({}).error().message, "empty program at pc 0");
}

}  // namespace
}  // namespace fusebpf::bpf::isa
