// The abstract machine state: per call frame, 11 register values and 64 stack slots of 8 bytes.
// Values are a small tagged domain (uninitialised, scalar interval, pointer into a region with an
// interval offset, top); the stack tracks initialised bytes, spilled registers at 8-byte
// granularity and dynptr slots. All are value types with join and widen (STYLE.md F28).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "bpf/isa/isa.h"
#include "bpf/verifier/internal/scalar.h"

namespace fusebpf::bpf::verifier {

enum class Type : uint8_t {
  kUninit,    // never written (reading it is an error)
  kScalar,    // a number
  kCtx,       // the context (field mode); raw_memory contexts are kMem
  kStack,     // a call frame's stack; aux = frame index, offset relative to that frame's r10
  kMapValue,  // a map value; aux = map index
  kMem,       // `size` bytes returned by a helper/kfunc or pointed to by a context field
  kMapPtr,    // a map reference from lddw; aux = map index; only helpers may use it
  kObject,    // an opaque object from the context; aux = context field index; kfunc-only
  kTop,       // initialised, but different types on different paths: unusable
};

struct Value {
  Type type = Type::kUninit;
  bool maybe_null = false;  // pointer that may be NULL (must be compared with 0 first)
  bool writable = false;    // kMem
  uint32_t id = 0;          // null-check group (pc + 1 of the producer); 0 = none
  uint32_t aux = 0;
  uint32_t size = 0;  // kMem: bytes
  Scalar num;         // kScalar: the value; pointers: offset into the region

  static Value scalar(Scalar s) { return Value{Type::kScalar, false, false, 0, 0, 0, s}; }
  static Value pointer(Type t, uint32_t aux, Scalar off = Scalar::constant(0)) {
    return Value{t, false, false, 0, aux, 0, off};
  }
  bool is_pointer() const {
    return type != Type::kUninit && type != Type::kScalar && type != Type::kTop;
  }
  bool is_null() const { return type == Type::kScalar && num.is_const() && num.umin == 0; }
  bool operator==(const Value&) const = default;
};

Value join(const Value& a, const Value& b);
Value widen(const Value& old, const Value& next, std::span<const int64_t> thresholds);
// "a pointer to map value (offset 8)", for diagnostics.
std::string describe(const Value& v);

inline constexpr int kStackSize = 512;
inline constexpr int kSlots = kStackSize / 8;
// Frames of a run: main plus the nested BPF-to-BPF calls the engines allow.
inline constexpr int kMaxFrames = static_cast<int>(isa::kMaxCallDepth) + 1;

struct Slot {
  enum class Kind : uint8_t { kBytes, kSpill, kDynptr, kDynptrTail };
  Kind kind = Kind::kBytes;
  uint8_t init = 0;  // kBytes: bit i set = byte i initialised
  Value spill;       // kSpill: the stored register (its 8 bytes are all initialised)
  bool operator==(const Slot&) const = default;
};

// Slot k (0..63) covers r10-512+8k .. r10-512+8k+7. Only the slots from r10 down to the deepest
// one touched are stored (most programs use a few), which keeps states small to copy and join.
struct Frame {
  std::array<Value, kNumRegs> regs{};
  std::vector<Slot> stack;  // stack[j] is slot kSlots-1-j; missing slots are default (unused)

  // The slot for writing (grows the stored part). Invalidates references to other slots.
  Slot& slot(int k) {
    const size_t j = static_cast<size_t>(kSlots - 1 - k);
    if (j >= stack.size()) stack.resize(j + 1);
    return stack[j];
  }
  const Slot& slot_at(int k) const { return at_depth(static_cast<size_t>(kSlots - 1 - k)); }
  const Slot& at_depth(size_t j) const {
    static const Slot kUnused;
    return j < stack.size() ? stack[j] : kUnused;
  }
  bool operator==(const Frame& o) const;
};

struct State {
  std::vector<Frame> frames;  // frames.back() is the running function
  bool operator==(const State&) const = default;

  Frame& top() { return frames.back(); }
  const Frame& top() const { return frames.back(); }
  Value& reg(int r) { return frames.back().regs[r]; }
  const Value& reg(int r) const { return frames.back().regs[r]; }
  // Applies f(Value&) to every register and spilled value of every frame.
  template <typename F>
  void for_each_value(F&& f) {
    for (Frame& fr : frames) {
      for (Value& v : fr.regs) f(v);
      for (Slot& s : fr.stack)
        if (s.kind == Slot::Kind::kSpill) f(s.spill);
    }
  }
};

// Lattice operations on states with the same frame count.
State join(const State& a, const State& b);
State widen(const State& old, const State& next, std::span<const int64_t> thresholds);

// Slot index and byte-in-slot of a stack offset in [-512, 0).
inline int slot_of(int64_t off) { return static_cast<int>((off + kStackSize) / 8); }
inline int byte_of(int64_t off) { return static_cast<int>((off + kStackSize) % 8); }

}  // namespace fusebpf::bpf::verifier

namespace fusebpf::bpf::verifier {
// Before a new maybe-NULL value with `id` is created (the same instruction may run again in a
// loop), older copies lose the id so a NULL check of one cannot vouch for the other.
void release_id(State& s, uint32_t id);
// Converts a stack slot to plain bytes before a partial overwrite: a spilled scalar keeps its
// bytes initialised, a spilled pointer's bytes become unreadable, a dynptr is destroyed.
void slot_to_bytes(Frame& f, int slot);
}  // namespace fusebpf::bpf::verifier
