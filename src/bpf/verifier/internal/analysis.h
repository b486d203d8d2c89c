// Shared pieces of the abstract interpretation: the read-only environment (program, platform,
// context), the diagnostic sink, and the per-concern transfer functions:
//   mem.cc       loads, stores, atomics and memory ranges passed to helpers (region checks)
//   transfer.cc  ALU, byte swaps, lddw, conditional jumps (refinement), exit
//   calls.cc     helper/kfunc argument checks and effects, BPF-to-BPF call frames
// Every function returns false when the instruction is unsafe (the path then stops) and only
// records a diagnostic when env.reporting is set (the final pass over the stable states).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/program.h"
#include "bpf/verifier/internal/ast.h"
#include "bpf/verifier/internal/state.h"
#include "bpf/verifier/verifier.h"

namespace fusebpf::bpf::verifier {

struct Finding {
  uint32_t pc;
  std::string code;
  std::string message;
};

struct Env {
  const RawProgram& prog;
  const Platform& platform;
  const ContextDescriptor& ctx;
  const std::vector<Instruction>& ast;

  // Final pass only: findings and facts for the VerifiedProgram.
  bool reporting = false;
  std::vector<Finding> findings;
  int64_t lowest_stack_offset = 0;     // most negative stack offset touched, any frame
  std::vector<HelperFn> call_targets;  // per pc (sized by the caller)

  // Records a finding when reporting; always returns false so callers can `return env.fail(..)`.
  bool fail(uint32_t pc, std::string_view code, std::string message);
  // "bpf_map_lookup_elem (pc 5)": who produced a pointer with this null-check id.
  std::string producer(uint32_t id) const;
  const MapSpec& map(uint32_t index) const { return prog.maps[index]; }
};

// The state at program entry: r1 = context, r2 = size (raw_memory + r2_is_size), r10 = stack.
State entry_state(const ContextDescriptor& ctx);

// ---- mem.cc ----
enum class AccessKind : uint8_t { kRead, kWrite, kReadWrite };
struct MemAccess {
  int64_t off = 0;        // added to the pointer's offset
  uint64_t size = 0;      // bytes (the maximum, for helper ranges)
  uint64_t size_min = 0;  // helper ranges: bytes certainly written (the minimum size)
  AccessKind kind = AccessKind::kRead;
  std::string what;  // "r2" or "argument 2 (r2) of bpf_probe_read"
};
bool exec_load(Env& env, State& s, const Load& in, uint32_t pc);
bool exec_store(Env& env, State& s, const Store& in, uint32_t pc);
bool exec_atomic(Env& env, State& s, const Atomic& in, uint32_t pc);
// Checks that [ptr+off, ptr+off+size) may be accessed. For helper writes to the stack, the
// bytes every possible call writes become initialised and anything the call may overwrite
// loses its spill/dynptr state. Used for helper memory arguments.
bool check_mem(Env& env, State& s, const Value& ptr, const MemAccess& a, uint32_t pc);
void mark_stack_written(State& s, const Value& ptr, int64_t lo, int64_t hi);

// ---- transfer.cc ----
bool exec_alu(Env& env, State& s, const Alu& in, uint32_t pc);
bool exec_endian(Env& env, State& s, const Endian& in, uint32_t pc);
bool exec_load_imm(Env& env, State& s, const LoadImm& in, uint32_t pc);
// Checks a conditional jump's operands (pointer comparisons); false if unsafe.
bool check_jump(Env& env, const State& s, const Jump& in, uint32_t pc);
// The state on the `taken` edge, or false when that edge is infeasible.
bool refine_jump(const State& in, const Jump& j, bool taken, State& out);
// Checks r0 at the program's exit.
bool check_exit(Env& env, const State& s, uint32_t pc);
// Reads a register that must be initialised (and not of mixed types when want_usable).
bool check_init(Env& env, const State& s, int reg, uint32_t pc, bool want_usable = true);

// ---- calls.cc ----
bool exec_helper_call(Env& env, State& s, const Call& in, uint32_t pc);
// Pushes the callee frame (r1-r5 passed, r6-r9 fresh, r10 = new frame's stack).
void enter_function(State& s);
// Pops the callee frame at its exit; false if r0 is unusable.
bool leave_function(Env& env, State& s, uint32_t pc);

}  // namespace fusebpf::bpf::verifier
