// ArrayMap: max_entries values of round_up8(value_size) bytes, contiguous, updated in place.
#include <cerrno>
#include <cstring>

#include "bpf/maps/internal/map_impl.h"
#include "bpf/maps/maps.h"

namespace fusebpf::bpf::maps_internal {

ArrayMap::ArrayMap(MapSpec spec)
    : Map(std::move(spec)), stride_(round_up8(this->spec().value_size)) {
  size_t bytes = size_t{stride_} * this->spec().max_entries;
  storage_ = std::make_unique<std::byte[]>(bytes);  // value-initialised: zeroes
  const auto& init = this->spec().initial_value;
  if (!init.empty()) std::memcpy(storage_.get(), init.data(), std::min(init.size(), bytes));
}

void* ArrayMap::lookup(const void* key) {
  uint32_t index;
  std::memcpy(&index, key, sizeof index);
  if (index >= spec().max_entries) return nullptr;
  return storage_.get() + size_t{index} * stride_;
}

int ArrayMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags > kBpfExist) return -EINVAL;
  if (spec().frozen) return -EPERM;
  uint32_t index;
  std::memcpy(&index, key, sizeof index);
  if (index >= spec().max_entries) return -E2BIG;
  if (flags == kBpfNoExist) return -EEXIST;  // every element of an array exists
  std::memcpy(storage_.get() + size_t{index} * stride_, value, spec().value_size);
  return 0;
}

int ArrayMap::remove(const void*) { return -EINVAL; }

int ArrayMap::next_key(const void* key, void* next) {
  uint32_t index = 0;
  if (key != nullptr) {
    std::memcpy(&index, key, sizeof index);
    index = index >= spec().max_entries ? 0 : index + 1;
  }
  if (index >= spec().max_entries) return -ENOENT;
  std::memcpy(next, &index, sizeof index);
  return 0;
}

}  // namespace fusebpf::bpf::maps_internal
