// HashMap (plain and LRU). One shared_mutex per map: lookups share it, writers take it
// exclusively. LRU recency is a list under its own small mutex so lookups stay shared.
#include <cerrno>
#include <cstring>

#include "bpf/maps/internal/map_impl.h"
#include "bpf/maps/maps.h"

namespace fusebpf::bpf::maps_internal {

// One spare slot: a replacing update fills a fresh slot before releasing the old one, so a
// reader never sees a value half old and half new.
HashMap::HashMap(MapSpec spec, bool lru)
    : Map(std::move(spec)),
      lru_(lru),
      slots_(this->spec().value_size, this->spec().max_entries + 1) {}

void* HashMap::lookup(const void* key) {
  std::string_view k(static_cast<const char*>(key), spec().key_size);
  std::shared_lock lock(mu_);
  auto it = table_.find(k);
  if (it == table_.end()) return nullptr;
  if (lru_) {
    std::lock_guard l(lru_mu_);
    lru_list_.splice(lru_list_.begin(), lru_list_, it->second.lru_pos);
  }
  return slots_.at(it->second.slot);
}

void HashMap::erase_locked(Table::iterator it) {
  slots_.release(it->second.slot);
  if (lru_) {
    std::lock_guard l(lru_mu_);
    lru_list_.erase(it->second.lru_pos);
  }
  table_.erase(it);
}

int HashMap::update(const void* key, const void* value, uint64_t flags) {
  if (flags > kBpfExist) return -EINVAL;
  std::string_view k(static_cast<const char*>(key), spec().key_size);
  std::unique_lock lock(mu_);
  auto it = table_.find(k);
  if (it != table_.end()) {
    if (flags == kBpfNoExist) return -EEXIST;
    it->second.slot = slots_.replace(it->second.slot, value, spec().value_size);
    if (lru_) {
      std::lock_guard l(lru_mu_);
      lru_list_.splice(lru_list_.begin(), lru_list_, it->second.lru_pos);
    }
    return 0;
  }
  if (flags == kBpfExist) return -ENOENT;
  if (table_.size() >= spec().max_entries) {
    if (!lru_) return -E2BIG;
    const std::string* victim;
    {
      std::lock_guard l(lru_mu_);
      victim = lru_list_.back();
    }
    erase_locked(table_.find(*victim));
  }
  uint32_t slot = slots_.store(value, spec().value_size);
  auto [pos, inserted] = table_.emplace(std::string(k), Entry{slot, {}});
  if (lru_) {
    std::lock_guard l(lru_mu_);
    lru_list_.push_front(&pos->first);
    pos->second.lru_pos = lru_list_.begin();
  }
  return 0;
}

int HashMap::remove(const void* key) {
  std::string_view k(static_cast<const char*>(key), spec().key_size);
  std::unique_lock lock(mu_);
  auto it = table_.find(k);
  if (it == table_.end()) return -ENOENT;
  erase_locked(it);
  return 0;
}

int HashMap::next_key(const void* key, void* next) {
  std::shared_lock lock(mu_);
  auto it = table_.end();
  if (key != nullptr) {
    it = table_.find(std::string_view(static_cast<const char*>(key), spec().key_size));
  }
  // Like the kernel: a missing (or null) key restarts from the first element.
  it = it == table_.end() ? table_.begin() : std::next(it);
  if (it == table_.end()) return -ENOENT;
  std::memcpy(next, it->first.data(), spec().key_size);
  return 0;
}

}  // namespace fusebpf::bpf::maps_internal
