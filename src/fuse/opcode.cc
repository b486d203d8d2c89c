// Opcode table lookups, generated from abi/fuse_ops.def.
#include "fuse/opcode.h"

#include <array>
#include <string>
#include <type_traits>

namespace fusebpf::fuse {
namespace {

template <typename T>
constexpr uint32_t in_size_of() {
  return std::is_empty_v<T> ? 0 : sizeof(T);
}

constexpr bool fits(uint32_t min_in, uint32_t size) { return min_in <= size; }

constexpr std::array<OpInfo, kMaxOpcode + 1> make_table() {
  std::array<OpInfo, kMaxOpcode + 1> t{};
#define FUSE_OP(Name, method, KNAME, num, In, min_in, names, reply) \
  static_assert(num <= kMaxOpcode);                                 \
  static_assert(fits(min_in, in_size_of<abi::In>()));               \
  t[num] = OpInfo{Opcode::k##Name, #KNAME, in_size_of<abi::In>(), min_in, names, reply};
#include "abi/fuse_ops.def"
#undef FUSE_OP
  return t;
}

constexpr auto kTable = make_table();

}  // namespace

const OpInfo* op_info(uint32_t opcode) {
  if (opcode > kMaxOpcode || kTable[opcode].name.empty()) return nullptr;
  return &kTable[opcode];
}

std::string_view op_name(uint32_t opcode) {
  if (const OpInfo* info = op_info(opcode)) return info->name;
  thread_local std::string unknown;
  unknown = "OP_" + std::to_string(opcode);
  return unknown;
}

}  // namespace fusebpf::fuse
