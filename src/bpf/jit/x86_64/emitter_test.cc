// Encodings of X86Emitter forms, checked against hand-assembled bytes (Intel SDM vol. 2).
#include "bpf/jit/x86_64/emitter.h"

#include <gtest/gtest.h>

#include <functional>

namespace fusebpf::bpf::jit::x86 {
namespace {

std::vector<uint8_t> encode(const std::function<void(X86Emitter&)>& f) {
  X86Emitter e;
  f(e);
  auto code = e.finish();
  EXPECT_TRUE(code.has_value()) << code.error();
  return code.has_value() ? *code : std::vector<uint8_t>{};
}

using Bytes = std::vector<uint8_t>;

TEST(X86Emitter, RegisterForms) {
  EXPECT_EQ(encode([](auto& e) { e.mov(true, Reg::kRax, Reg::kRbx); }), (Bytes{0x48, 0x89, 0xd8}));
  EXPECT_EQ(encode([](auto& e) { e.mov(false, Reg::kR9, Reg::kR9); }), (Bytes{0x45, 0x89, 0xc9}));
  EXPECT_EQ(encode([](auto& e) { e.alu(AluOp::kAdd, true, Reg::kR13, Reg::kRdi); }),
            (Bytes{0x49, 0x01, 0xfd}));
  EXPECT_EQ(encode([](auto& e) { e.alu(AluOp::kSub, false, Reg::kRax, 1000); }),
            (Bytes{0x81, 0xe8, 0xe8, 0x03, 0x00, 0x00}));
  EXPECT_EQ(encode([](auto& e) { e.alu(AluOp::kCmp, true, Reg::kRsi, -1); }),
            (Bytes{0x48, 0x83, 0xfe, 0xff}));
  EXPECT_EQ(encode([](auto& e) { e.imul(true, Reg::kRdx, Reg::kR15); }),
            (Bytes{0x49, 0x0f, 0xaf, 0xd7}));
  EXPECT_EQ(encode([](auto& e) { e.shift(ShiftOp::kRol, Width::k16, Reg::kRdx, 8); }),
            (Bytes{0x66, 0xc1, 0xc2, 0x08}));
  EXPECT_EQ(encode([](auto& e) { e.shift_cl(ShiftOp::kSar, true, Reg::kR8); }),
            (Bytes{0x49, 0xd3, 0xf8}));
  EXPECT_EQ(encode([](auto& e) { e.bswap(false, Reg::kR9); }), (Bytes{0x41, 0x0f, 0xc9}));
  EXPECT_EQ(encode([](auto& e) { e.bswap(true, Reg::kRax); }), (Bytes{0x48, 0x0f, 0xc8}));
  EXPECT_EQ(encode([](auto& e) { e.movsx(Width::k8, true, Reg::kRax, Reg::kRsi); }),
            (Bytes{0x48, 0x0f, 0xbe, 0xc6}));
  // A byte register 4..7 needs a REX prefix to mean sil/dil rather than dh/bh.
  EXPECT_EQ(encode([](auto& e) { e.movsx(Width::k8, false, Reg::kRax, Reg::kRdi); }),
            (Bytes{0x40, 0x0f, 0xbe, 0xc7}));
  EXPECT_EQ(encode([](auto& e) { e.movsx(Width::k32, true, Reg::kRbx, Reg::kRcx); }),
            (Bytes{0x48, 0x63, 0xd9}));
  EXPECT_EQ(encode([](auto& e) { e.div(true, true, Reg::kRcx); }), (Bytes{0x48, 0xf7, 0xf9}));
  EXPECT_EQ(encode([](auto& e) { e.sign_extend_rax(true); }), (Bytes{0x48, 0x99}));
}

TEST(X86Emitter, Immediates) {
  EXPECT_EQ(encode([](auto& e) { e.mov_imm64(Reg::kRax, 0x1122334455667788); }),
            (Bytes{0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}));
  EXPECT_EQ(encode([](auto& e) { e.mov_imm64(Reg::kRcx, ~0ull); }),
            (Bytes{0x48, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff}));
  EXPECT_EQ(encode([](auto& e) { e.mov_imm64(Reg::kR10, 5); }),
            (Bytes{0x41, 0xba, 0x05, 0x00, 0x00, 0x00}));
}

TEST(X86Emitter, MemoryForms) {
  // r12 as a base needs a SIB byte, r13/rbp always a displacement.
  EXPECT_EQ(encode([](auto& e) {
              e.alu(AluOp::kSub, Mem{Reg::kR12, 0}, 1);
            }),
            (Bytes{0x49, 0x83, 0x2c, 0x24, 0x01}));
  EXPECT_EQ(encode([](auto& e) {
              e.load(Width::k64, false, Reg::kRax, Mem{Reg::kR13, 0});
            }),
            (Bytes{0x49, 0x8b, 0x45, 0x00}));
  EXPECT_EQ(encode([](auto& e) {
              e.load(Width::k8, true, Reg::kRdx, Mem{Reg::kRbp, -8});
            }),
            (Bytes{0x48, 0x0f, 0xbe, 0x55, 0xf8}));
  EXPECT_EQ(encode([](auto& e) {
              e.load(Width::k32, false, Reg::kR9, Mem{Reg::kRdi, 0x200});
            }),
            (Bytes{0x44, 0x8b, 0x8f, 0x00, 0x02, 0x00, 0x00}));
  EXPECT_EQ(encode([](auto& e) {
              e.store(Width::k8, Mem{Reg::kRdi, 4}, Reg::kRsi);
            }),
            (Bytes{0x40, 0x88, 0x77, 0x04}));
  EXPECT_EQ(encode([](auto& e) {
              e.store(Width::k16, Mem{Reg::kRsp, 0}, Reg::kR8);
            }),
            (Bytes{0x66, 0x44, 0x89, 0x04, 0x24}));
  EXPECT_EQ(encode([](auto& e) {
              e.store_imm(Width::k16, Mem{Reg::kRax, 2}, 0x1234);
            }),
            (Bytes{0x66, 0xc7, 0x40, 0x02, 0x34, 0x12}));
  EXPECT_EQ(encode([](auto& e) {
              e.lock_cmpxchg(true, Mem{Reg::kRcx, 0}, Reg::kR10);
            }),
            (Bytes{0xf0, 0x4c, 0x0f, 0xb1, 0x11}));
  EXPECT_EQ(encode([](auto& e) {
              e.lock_xadd(false, Mem{Reg::kRbx, 8}, Reg::kRax);
            }),
            (Bytes{0xf0, 0x0f, 0xc1, 0x43, 0x08}));
}

TEST(X86Emitter, LabelsAndControlFlow) {
  EXPECT_EQ(encode([](auto& e) {
              Label l = e.new_label();
              e.jmp(l);
              e.ret();
              e.bind(l);
            }),
            (Bytes{0xe9, 0x01, 0x00, 0x00, 0x00, 0xc3}));
  EXPECT_EQ(encode([](auto& e) {
              Label l = e.new_label();
              e.bind(l);
              e.jcc(Cond::kNe, l);
            }),
            (Bytes{0x0f, 0x85, 0xfa, 0xff, 0xff, 0xff}));
  EXPECT_EQ(encode([](auto& e) {
              e.push(Reg::kR12);
              e.pop(Reg::kRbp);
              e.call(Reg::kR10);
            }),
            (Bytes{0x41, 0x54, 0x5d, 0x41, 0xff, 0xd2}));
}

TEST(X86Emitter, ErrorsAreSticky) {
  X86Emitter e;
  Label l = e.new_label();
  e.jmp(l);
  auto code = e.finish();
  ASSERT_FALSE(code.has_value());
  EXPECT_NE(code.error().find("never bound"), std::string::npos);

  X86Emitter e2;
  e2.movsx(Width::k32, false, Reg::kRax, Reg::kRbx);
  e2.ret();
  EXPECT_FALSE(e2.ok());
  EXPECT_FALSE(e2.finish().has_value());
}

}  // namespace
}  // namespace fusebpf::bpf::jit::x86
