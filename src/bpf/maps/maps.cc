// create_map: validates a MapSpec and builds the matching implementation.
#include "bpf/maps/maps.h"

#include <fmt/format.h>

#include "bpf/maps/internal/map_impl.h"

namespace fusebpf::bpf {

std::string_view map_type_name(MapType type) {
  switch (type) {
    case MapType::kHash:
      return "hash";
    case MapType::kArray:
      return "array";
    case MapType::kLruHash:
      return "lru_hash";
    case MapType::kLpmTrie:
      return "lpm_trie";
  }
  return "unknown";
}

Result<std::unique_ptr<Map>, std::string> create_map(const MapSpec& spec) {
  auto bad = [&](std::string_view what) {
    return fail(fmt::format("map '{}' ({}): {}", spec.name, map_type_name(spec.type), what));
  };
  if (spec.key_size == 0 || spec.key_size > kMaxKeySize)
    return bad(fmt::format("key_size {} not in 1..{}", spec.key_size, kMaxKeySize));
  if (spec.value_size == 0 || spec.value_size > kMaxValueSize)
    return bad(fmt::format("value_size {} not in 1..{}", spec.value_size, kMaxValueSize));
  if (spec.max_entries == 0 || spec.max_entries == UINT32_MAX)
    return bad(fmt::format("max_entries {} is invalid", spec.max_entries));
  if (spec.initial_value.size() > spec.value_size)
    return bad("initial value is larger than value_size");
  switch (spec.type) {
    case MapType::kArray: {
      if (spec.key_size != 4) return bad("array keys must be 4 bytes");
      uint64_t bytes = uint64_t{maps_internal::round_up8(spec.value_size)} * spec.max_entries;
      if (bytes > kMaxPreallocBytes)
        return bad(fmt::format("{} bytes exceed the {} byte limit", bytes, kMaxPreallocBytes));
      return std::unique_ptr<Map>(new maps_internal::ArrayMap(spec));
    }
    case MapType::kHash:
    case MapType::kLruHash:
      if (!spec.initial_value.empty() || spec.frozen) return bad("only arrays hold global data");
      return std::unique_ptr<Map>(new maps_internal::HashMap(spec, spec.type == MapType::kLruHash));
    case MapType::kLpmTrie:
      if (spec.key_size < 5) return bad("LPM keys are u32 prefixlen plus at least one byte");
      if (!spec.initial_value.empty() || spec.frozen) return bad("only arrays hold global data");
      return std::unique_ptr<Map>(new maps_internal::LpmTrieMap(spec));
  }
  return bad(fmt::format("unsupported map type {}", static_cast<uint32_t>(spec.type)));
}

}  // namespace fusebpf::bpf
