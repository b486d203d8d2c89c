// SlotArena; see map_impl.h.
#include <algorithm>
#include <cstring>

#include "bpf/maps/internal/map_impl.h"

namespace fusebpf::bpf::maps_internal {

SlotArena::SlotArena(uint32_t value_size, uint32_t capacity)
    : stride_(round_up8(value_size)),
      // About 64 KiB per chunk, at least one slot.
      per_chunk_(std::max<uint32_t>(1, std::min<uint32_t>(256, (64u << 10) / stride_))),
      capacity_(capacity) {}

uint32_t SlotArena::alloc() {
  if (!free_.empty()) {
    uint32_t slot = free_.back();
    free_.pop_back();
    return slot;
  }
  if (high_water_ >= capacity_) return kNone;
  uint32_t slot = high_water_++;
  if (slot / per_chunk_ >= chunks_.size()) {
    chunks_.push_back(std::make_unique<std::byte[]>(size_t{per_chunk_} * stride_));
  }
  return slot;
}

uint32_t SlotArena::store(const void* value, uint32_t size) {
  uint32_t slot = alloc();
  if (slot != kNone) std::memcpy(at(slot), value, size);
  return slot;
}

uint32_t SlotArena::replace(uint32_t old, const void* value, uint32_t size) {
  uint32_t slot = store(value, size);  // the owner keeps one spare slot, so this succeeds
  release(old);
  return slot;
}

}  // namespace fusebpf::bpf::maps_internal
