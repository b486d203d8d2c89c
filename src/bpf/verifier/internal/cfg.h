// Structure of a decoded program: functions (main + BPF-to-BPF subprograms), basic blocks,
// loop heads and widening thresholds, plus every structural check that needs no values
// (jump ranges, lddw halves, function ends, reachability, call depth without recursion).
#pragma once

#include <cstdint>
#include <vector>

#include "bpf/verifier/internal/ast.h"

namespace fusebpf::bpf::verifier {

struct Block {
  uint32_t start = 0;
  uint32_t end = 0;        // one past the last slot
  bool loop_head = false;  // target of a backward jump: widening happens here
};

struct Function {
  uint32_t entry = 0;
  uint32_t end = 0;
};

struct Cfg {
  std::vector<Block> blocks;        // sorted by start
  std::vector<int32_t> block_at;    // pc -> index of the block starting there, or -1
  std::vector<Function> functions;  // sorted by entry; functions[0] is main
  std::vector<int64_t> thresholds;  // sorted, from compare immediates (c-1, c, c+1)
};

// Checks the program's structure. On error the Cfg must not be analysed. Unreachable
// instructions are an error unless allow_dead_code (they are never analysed either way).
Cfg build_cfg(const std::vector<Instruction>& ast, bool allow_dead_code,
              std::vector<DecodeError>& errors);

}  // namespace fusebpf::bpf::verifier
