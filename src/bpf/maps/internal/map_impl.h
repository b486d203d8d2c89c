// Concrete map classes; only maps.cc constructs them (through create_map).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpf/program.h"

namespace fusebpf::bpf::maps_internal {

inline uint32_t round_up8(uint32_t n) { return (n + 7u) & ~7u; }

// Fixed-size value slots handed out by index. Memory is allocated in chunks on demand and only
// released by the destructor, so a slot pointer stays dereferenceable for the map's lifetime.
// Not synchronised: the owning map serialises alloc/release (exclusive lock) against at()
// (shared lock).
class SlotArena {
 public:
  SlotArena(uint32_t value_size, uint32_t capacity);
  static constexpr uint32_t kNone = UINT32_MAX;
  uint32_t alloc();  // kNone when all `capacity` slots are in use
  void release(uint32_t slot) { free_.push_back(slot); }
  // alloc() and copy `size` bytes of value in; kNone when full.
  uint32_t store(const void* value, uint32_t size);
  // Stores value in a fresh slot, then releases `old` (readers of old never see a torn value).
  uint32_t replace(uint32_t old, const void* value, uint32_t size);
  std::byte* at(uint32_t slot) const {
    return chunks_[slot / per_chunk_].get() + size_t{slot % per_chunk_} * stride_;
  }

 private:
  uint32_t stride_;
  uint32_t per_chunk_;
  uint32_t capacity_;
  uint32_t high_water_ = 0;
  std::vector<std::unique_ptr<std::byte[]>> chunks_;
  std::vector<uint32_t> free_;
};

// Hash on raw key bytes with heterogeneous (string_view) lookup.
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view k) const { return std::hash<std::string_view>{}(k); }
};
struct KeyEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

class ArrayMap final : public Map {
 public:
  explicit ArrayMap(MapSpec spec);
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int next_key(const void* key, void* next) override;
  std::byte* array_base() override { return storage_.get(); }

 private:
  uint32_t stride_;
  std::unique_ptr<std::byte[]> storage_;
};

// Hash map; with `lru` set, a full map evicts the least recently used entry instead of failing.
class HashMap final : public Map {
 public:
  HashMap(MapSpec spec, bool lru);
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int next_key(const void* key, void* next) override;

 private:
  struct Entry {
    uint32_t slot;
    std::list<const std::string*>::iterator lru_pos;  // lru maps only
  };
  using Table = std::unordered_map<std::string, Entry, KeyHash, KeyEq>;
  void erase_locked(Table::iterator it);

  const bool lru_;
  std::shared_mutex mu_;
  Table table_;
  SlotArena slots_;
  // Most recently used at the front. Guarded by lru_mu_ (lookups touch it under a shared mu_).
  std::mutex lru_mu_;
  std::list<const std::string*> lru_list_;
};

// Longest-prefix-match trie. Keys are {u32 prefixlen; u8 data[key_size - 4]}; data bits past
// prefixlen are ignored. Stored as a hash of masked keys plus the set of prefix lengths in use;
// a lookup probes each length in use from the longest down, so its cost grows with the number
// of distinct lengths, not with the number of entries.
class LpmTrieMap final : public Map {
 public:
  explicit LpmTrieMap(MapSpec spec);
  void* lookup(const void* key) override;
  int update(const void* key, const void* value, uint64_t flags) override;
  int remove(const void* key) override;
  int next_key(const void* key, void* next) override;

 private:
  // Copies key into out with the bits past its prefixlen cleared; false if prefixlen is too big.
  bool masked(const void* key, uint32_t prefixlen, std::string& out) const;
  // masked() at the key's own prefixlen.
  bool own_masked(const void* key, std::string& out, uint32_t& prefixlen) const;

  const uint32_t data_bits_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, uint32_t, KeyHash, KeyEq> table_;
  std::map<uint32_t, uint32_t, std::greater<>> lengths_;  // prefixlen -> entries using it
  SlotArena slots_;
};

}  // namespace fusebpf::bpf::maps_internal
