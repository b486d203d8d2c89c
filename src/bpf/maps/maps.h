// Map implementations behind bpf::Map (program.h): hash, array (also global data), LRU hash and
// LPM trie. Every map is safe to use from several threads at once, from programs (through the
// map helpers) and from the host alike.
//
// Value lifetime: a pointer returned by lookup() points into storage that is never freed before
// the map itself is destroyed. Deleting or replacing an entry returns its slot to a free list,
// so a program still holding the pointer reads valid memory whose contents may change once the
// slot is reused -- the same guarantee the kernel gives for preallocated maps. Array values are
// updated in place (a concurrent reader may observe a partially copied value, as in the kernel).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "bpf/program.h"

namespace fusebpf::bpf {

// update() flags (kernel uapi values).
inline constexpr uint64_t kBpfAny = 0;      // create or replace
inline constexpr uint64_t kBpfNoExist = 1;  // create only
inline constexpr uint64_t kBpfExist = 2;    // replace only

// Limits applied to every spec (a hostile object must not make us allocate without bound).
inline constexpr uint32_t kMaxKeySize = 512;
inline constexpr uint32_t kMaxValueSize = 64u << 20;
inline constexpr uint64_t kMaxPreallocBytes = 256ull << 20;  // arrays are allocated up front

// Creates an empty map (arrays: zero-filled, or initial_value for global-data maps).
// Errors name the map and the offending field.
Result<std::unique_ptr<Map>, std::string> create_map(const MapSpec& spec);

// "hash", "array", "lru_hash", "lpm_trie".
std::string_view map_type_name(MapType type);

}  // namespace fusebpf::bpf
