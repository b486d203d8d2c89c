// The interpreter's dispatch loop (internal to interp/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/interp/interpreter.h"

namespace fusebpf::bpf::interp {

// Runs pre-decoded code from pc 0 with r1 = ctx, r2 = ctx_size. `traps` holds the messages
// of trap slots. See Interpreter::run for the contract.
Result<uint64_t, RunError> execute(const Slot* code, const std::vector<std::string>& traps,
                                   void* ctx, uint64_t ctx_size, uint64_t budget);

}  // namespace fusebpf::bpf::interp
