// FUSE opcodes and their static properties, generated from abi/fuse_ops.def.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "abi/fuse_kernel.h"

namespace fusebpf::fuse {

enum class Opcode : uint32_t {
#define FUSE_OP(Name, method, KNAME, num, In, min_in, names, reply) k##Name = num,
#include "abi/fuse_ops.def"
#undef FUSE_OP
};

enum ReplyKind : bool { kNoReply = false, kReply = true };

struct OpInfo {
  Opcode opcode;
  std::string_view name;  // kernel name without FUSE_, e.g. "LOOKUP"
  uint32_t in_size;       // sizeof the input struct (0 for NoIn)
  uint32_t min_in;        // smallest input accepted
  uint8_t names;          // NUL-terminated names after the struct
  bool reply;             // the kernel waits for a reply
};

// Largest opcode number in the table, for dense per-op arrays.
inline constexpr uint32_t kMaxOpcode = 52;

// Properties of a known opcode, or nullptr.
const OpInfo* op_info(uint32_t opcode);
// "LOOKUP", or "OP_<n>" for unknown opcodes.
std::string_view op_name(uint32_t opcode);
inline std::string_view op_name(Opcode op) { return op_name(static_cast<uint32_t>(op)); }

// Compile-time input type per opcode.
template <Opcode Op>
struct OpTraits;
#define FUSE_OP(Name, method, KNAME, num, In, min_in, names, reply) \
  template <>                                                       \
  struct OpTraits<Opcode::k##Name> {                                \
    using InType = abi::In;                                         \
  };
#include "abi/fuse_ops.def"
#undef FUSE_OP

}  // namespace fusebpf::fuse
