// LpmTrieMap; see map_impl.h for the representation.
#include <cerrno>
#include <cstring>

#include "bpf/maps/internal/map_impl.h"
#include "bpf/maps/maps.h"

namespace fusebpf::bpf::maps_internal {

LpmTrieMap::LpmTrieMap(MapSpec spec)
    : Map(std::move(spec)),
      data_bits_((this->spec().key_size - 4) * 8),
      slots_(this->spec().value_size, this->spec().max_entries + 1) {}

bool LpmTrieMap::masked(const void* key, uint32_t prefixlen, std::string& out) const {
  if (prefixlen > data_bits_) return false;
  const char* k = static_cast<const char*>(key);
  out.assign(spec().key_size, '\0');
  std::memcpy(out.data(), &prefixlen, 4);
  uint32_t full = prefixlen / 8, rest = prefixlen % 8;
  std::memcpy(out.data() + 4, k + 4, full);
  if (rest != 0) {
    out[4 + full] = static_cast<char>(static_cast<uint8_t>(k[4 + full]) & (0xff00u >> rest));
  }
  return true;
}

bool LpmTrieMap::own_masked(const void* key, std::string& out, uint32_t& prefixlen) const {
  std::memcpy(&prefixlen, key, 4);
  return masked(key, prefixlen, out);
}

void* LpmTrieMap::lookup(const void* key) {
  uint32_t limit;
  std::memcpy(&limit, key, 4);
  std::string probe;
  std::shared_lock lock(mu_);
  for (const auto& [len, count] : lengths_) {  // longest first
    if (len > limit) continue;
    masked(key, len, probe);
    auto it = table_.find(probe);
    if (it != table_.end()) return slots_.at(it->second);
  }
  return nullptr;
}

int LpmTrieMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags > kBpfExist) return -EINVAL;
  uint32_t prefixlen;
  std::string k;
  if (!own_masked(key, k, prefixlen)) return -EINVAL;
  std::unique_lock lock(mu_);
  auto it = table_.find(k);
  if (it != table_.end()) {
    if (flags == kBpfNoExist) return -EEXIST;
    it->second = slots_.replace(it->second, value, spec().value_size);
    return 0;
  }
  if (flags == kBpfExist) return -ENOENT;
  if (table_.size() >= spec().max_entries) return -ENOSPC;  // the kernel's LPM error
  table_.emplace(std::move(k), slots_.store(value, spec().value_size));
  ++lengths_[prefixlen];
  return 0;
}

int LpmTrieMap::remove(const void* key) {
  uint32_t prefixlen;
  std::string k;
  if (!own_masked(key, k, prefixlen)) return -EINVAL;
  std::unique_lock lock(mu_);
  auto it = table_.find(k);
  if (it == table_.end()) return -ENOENT;
  slots_.release(it->second);
  table_.erase(it);
  if (--lengths_[prefixlen] == 0) lengths_.erase(prefixlen);
  return 0;
}

int LpmTrieMap::next_key(const void* key, void* next) {
  std::string k;
  std::shared_lock lock(mu_);
  auto it = table_.end();
  if (key != nullptr) {
    uint32_t prefixlen;
    if (own_masked(key, k, prefixlen)) it = table_.find(k);
  }
  it = it == table_.end() ? table_.begin() : std::next(it);
  if (it == table_.end()) return -ENOENT;
  std::memcpy(next, it->first.data(), spec().key_size);
  return 0;
}

}  // namespace fusebpf::bpf::maps_internal
