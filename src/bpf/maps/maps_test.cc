#include "bpf/maps/maps.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace fusebpf::bpf {
namespace {

std::unique_ptr<Map> make(MapType type, uint32_t key, uint32_t value, uint32_t entries) {
  auto m = create_map(MapSpec{
      .name = "m", .type = type, .key_size = key, .value_size = value, .max_entries = entries});
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error());
  return std::move(m).value();
}

uint64_t get(Map& m, uint32_t key) {
  void* v = m.lookup(&key);
  if (v == nullptr) return ~0ull;
  uint64_t out;
  std::memcpy(&out, v, 8);
  return out;
}

TEST(CreateMap, RejectsBadSpecsWithMessage) {
  auto r = create_map(MapSpec{
      .name = "bad", .type = MapType::kArray, .key_size = 8, .value_size = 4, .max_entries = 1});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("bad"), std::string::npos);
  EXPECT_NE(r.error().find("4 bytes"), std::string::npos);
  EXPECT_FALSE(create_map(
      MapSpec{.type = MapType::kHash, .key_size = 0, .value_size = 4, .max_entries = 1}));
  EXPECT_FALSE(create_map(
      MapSpec{.type = MapType::kHash, .key_size = 4, .value_size = 4, .max_entries = 0}));
  EXPECT_FALSE(create_map(MapSpec{.type = MapType::kArray,
                                  .key_size = 4,
                                  .value_size = 1 << 20,
                                  .max_entries = 1 << 20}));  // 1 TiB preallocation
  EXPECT_FALSE(create_map(
      MapSpec{.type = MapType::kLpmTrie, .key_size = 4, .value_size = 4, .max_entries = 1}));
  EXPECT_FALSE(create_map(
      MapSpec{.type = static_cast<MapType>(99), .key_size = 4, .value_size = 4, .max_entries = 1}));
}

TEST(ArrayMap, InitialValueLookupUpdateIterate) {
  MapSpec spec{
      .name = ".data", .type = MapType::kArray, .key_size = 4, .value_size = 12, .max_entries = 3};
  spec.initial_value = {std::byte{7}, std::byte{0}, std::byte{0}, std::byte{0}};
  auto m = std::move(create_map(spec)).value();
  EXPECT_EQ(get(*m, 0) & 0xffffffff, 7u);
  EXPECT_EQ(get(*m, 1), 0u);
  EXPECT_EQ(m->lookup(&spec.max_entries), nullptr);
  uint64_t v[2] = {42, 0};
  uint32_t k = 2;
  EXPECT_EQ(m->update(&k, v, kBpfAny), 0);
  EXPECT_EQ(get(*m, 2), 42u);
  EXPECT_EQ(m->update(&k, v, kBpfNoExist), -EEXIST);
  EXPECT_EQ(m->remove(&k), -EINVAL);
  k = 3;
  EXPECT_EQ(m->update(&k, v, kBpfAny), -E2BIG);
  // Values are 8-byte aligned and contiguous at the rounded stride.
  uint32_t one = 1;
  EXPECT_EQ(static_cast<std::byte*>(m->lookup(&one)), m->array_base() + 16);
  std::vector<uint32_t> keys;
  uint32_t next;
  for (const uint32_t* cur = nullptr; m->next_key(cur, &next) == 0; cur = &keys.back())
    keys.push_back(next);
  EXPECT_EQ(keys, (std::vector<uint32_t>{0, 1, 2}));
}

TEST(ArrayMap, FrozenRejectsHostWrites) {
  auto m = std::move(create_map(MapSpec{.name = ".rodata",
                                        .type = MapType::kArray,
                                        .key_size = 4,
                                        .value_size = 4,
                                        .max_entries = 1,
                                        .frozen = true}))
               .value();
  uint32_t k = 0, v = 1;
  EXPECT_EQ(m->update(&k, &v, kBpfAny), -EPERM);
}

TEST(HashMap, FlagsAndFull) {
  auto m = make(MapType::kHash, 4, 8, 2);
  uint32_t k1 = 1, k2 = 2, k3 = 3;
  uint64_t v = 10;
  EXPECT_EQ(m->update(&k1, &v, kBpfExist), -ENOENT);
  EXPECT_EQ(m->update(&k1, &v, kBpfNoExist), 0);
  EXPECT_EQ(m->update(&k1, &v, kBpfNoExist), -EEXIST);
  v = 11;
  EXPECT_EQ(m->update(&k1, &v, kBpfExist), 0);
  EXPECT_EQ(get(*m, 1), 11u);
  EXPECT_EQ(m->update(&k2, &v, kBpfAny), 0);
  EXPECT_EQ(m->update(&k3, &v, kBpfAny), -E2BIG);
  EXPECT_EQ(m->update(&k1, &v, kBpfAny), 0);  // replacing works when full
  EXPECT_EQ(m->update(&k1, &v, 7), -EINVAL);
  EXPECT_EQ(m->remove(&k2), 0);
  EXPECT_EQ(m->remove(&k2), -ENOENT);
  EXPECT_EQ(m->lookup(&k2), nullptr);
  EXPECT_EQ(m->update(&k3, &v, kBpfAny), 0);
}

TEST(HashMap, NextKeyVisitsEveryKeyOnce) {
  auto m = make(MapType::kHash, 4, 4, 100);
  for (uint32_t i = 0; i < 50; ++i) ASSERT_EQ(m->update(&i, &i, kBpfAny), 0);
  std::set<uint32_t> seen;
  uint32_t cur, next;
  int rc = m->next_key(nullptr, &next);
  while (rc == 0) {
    EXPECT_TRUE(seen.insert(next).second);
    cur = next;
    rc = m->next_key(&cur, &next);
  }
  EXPECT_EQ(rc, -ENOENT);
  EXPECT_EQ(seen.size(), 50u);
  uint32_t missing = 1000;
  EXPECT_EQ(m->next_key(&missing, &next), 0);  // restarts at the first key
}

TEST(HashMap, DeletedValueStaysReadable) {
  auto m = make(MapType::kHash, 4, 8, 4);
  uint32_t k = 1;
  uint64_t v = 5;
  ASSERT_EQ(m->update(&k, &v, kBpfAny), 0);
  auto* p = static_cast<uint64_t*>(m->lookup(&k));
  ASSERT_EQ(m->remove(&k), 0);
  EXPECT_EQ(*p, 5u);  // memory still owned by the map (ASan would flag a use-after-free)
}

TEST(LruHashMap, EvictsLeastRecentlyUsed) {
  auto m = make(MapType::kLruHash, 4, 8, 3);
  for (uint32_t i = 1; i <= 3; ++i) {
    uint64_t v = i * 10;
    ASSERT_EQ(m->update(&i, &v, kBpfAny), 0);
  }
  uint32_t k1 = 1;
  ASSERT_NE(m->lookup(&k1), nullptr);  // 2 is now the least recently used
  uint32_t k4 = 4;
  uint64_t v = 40;
  ASSERT_EQ(m->update(&k4, &v, kBpfAny), 0);
  EXPECT_EQ(get(*m, 2), ~0ull);
  EXPECT_EQ(get(*m, 1), 10u);
  EXPECT_EQ(get(*m, 3), 30u);
  EXPECT_EQ(get(*m, 4), 40u);
  // 1, 3, 4 were just read in that order: 1 is evicted next.
  uint32_t k5 = 5;
  ASSERT_EQ(m->update(&k5, &v, kBpfNoExist), 0);
  EXPECT_EQ(get(*m, 1), ~0ull);
  EXPECT_EQ(get(*m, 3), 30u);
}

struct LpmKey {
  uint32_t prefixlen;
  char data[16];
};

LpmKey lpm_key(const char* s, uint32_t bits) {
  LpmKey k{};
  k.prefixlen = bits;
  std::strncpy(k.data, s, sizeof k.data);
  return k;
}

TEST(LpmTrieMap, LongestPrefixWins) {
  auto m = make(MapType::kLpmTrie, sizeof(LpmKey), 4, 16);
  uint32_t v = 1;
  auto a = lpm_key("/usr", 4 * 8);
  ASSERT_EQ(m->update(&a, &v, kBpfAny), 0);
  v = 2;
  auto b = lpm_key("/usr/lib", 8 * 8);
  ASSERT_EQ(m->update(&b, &v, kBpfAny), 0);
  v = 3;
  auto root = lpm_key("", 0);
  ASSERT_EQ(m->update(&root, &v, kBpfAny), 0);
  v = 4;
  auto ip = lpm_key("\xc0\xa8", 12);  // 192.168.0.0/12 style bit prefix: 0xc0 0xa0
  ASSERT_EQ(m->update(&ip, &v, kBpfAny), 0);

  auto q = [&](const char* s, uint32_t bits = 128) {
    auto k = lpm_key(s, bits);
    void* p = m->lookup(&k);
    return p ? *static_cast<uint32_t*>(p) : 0u;
  };
  EXPECT_EQ(q("/usr/lib/x"), 2u);
  EXPECT_EQ(q("/usr/bin"), 1u);
  EXPECT_EQ(q("/etc"), 3u);
  EXPECT_EQ(q("/usr/lib/x", 6 * 8), 1u);  // the query's prefixlen bounds the match
  EXPECT_EQ(q("\xc0\xaf"), 4u);           // only the first 12 bits matter
  EXPECT_EQ(q("\xc0\xb0"), 3u);

  auto too_long = lpm_key("x", 129);
  EXPECT_EQ(m->update(&too_long, &v, kBpfAny), -EINVAL);
  auto b_dirty = lpm_key("/usr/lib", 8 * 8);
  b_dirty.data[12] = 'z';  // bits past prefixlen are ignored
  EXPECT_EQ(m->update(&b_dirty, &v, kBpfNoExist), -EEXIST);
  EXPECT_EQ(m->remove(&b_dirty), 0);
  EXPECT_EQ(q("/usr/lib/x"), 1u);
  EXPECT_EQ(m->remove(&b), -ENOENT);

  int n = 0;
  LpmKey cur, next;
  for (int rc = m->next_key(nullptr, &next); rc == 0; rc = m->next_key(&cur, &next)) {
    cur = next;
    ++n;
  }
  EXPECT_EQ(n, 3);
}

TEST(LpmTrieMap, FullReturnsNoSpace) {
  auto m = make(MapType::kLpmTrie, 8, 4, 1);
  uint32_t k[2] = {32, 1}, v = 0;
  ASSERT_EQ(m->update(k, &v, kBpfAny), 0);
  k[1] = 2;
  EXPECT_EQ(m->update(k, &v, kBpfAny), -ENOSPC);
}

// Several threads insert, read, replace and delete at once; ends with a consistent count.
// Run under TSan/ASan this also checks the locking.
TEST(MapStress, ConcurrentMixedOperations) {
  for (MapType type : {MapType::kHash, MapType::kLruHash, MapType::kLpmTrie}) {
    uint32_t key_size = type == MapType::kLpmTrie ? 8 : 4;
    auto m = make(type, key_size, 16, 256);
    std::atomic<int> errors{0};
    std::vector<std::thread> threads;
    for (uint32_t t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        uint32_t seed = t * 7919 + 1;
        for (int i = 0; i < 20000; ++i) {
          seed = seed * 1103515245 + 12345;
          uint32_t key[2] = {32, (seed >> 8) % 300};
          if (type != MapType::kLpmTrie) key[0] = key[1];
          uint64_t value[2] = {key[1], key[1]};
          switch (seed % 4) {
            case 0:
            case 1: {
              auto* p = static_cast<uint64_t*>(m->lookup(key));
              // A slot may be reused under us, but it always holds a whole value of some key.
              if (p != nullptr && p[0] >= 300) errors.fetch_add(1);
              break;
            }
            case 2: {
              int rc = m->update(key, value, kBpfAny);
              if (rc != 0 && rc != -E2BIG && rc != -ENOSPC) errors.fetch_add(1);
              break;
            }
            case 3:
              m->remove(key);
              break;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(errors.load(), 0) << map_type_name(type);
    int n = 0;
    uint32_t cur[2], next[2];
    for (int rc = m->next_key(nullptr, next); rc == 0; rc = m->next_key(cur, next)) {
      std::memcpy(cur, next, sizeof cur);
      auto* p = static_cast<uint64_t*>(m->lookup(cur));
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(p[0], type == MapType::kLpmTrie ? cur[1] : cur[0]);
      ++n;
    }
    EXPECT_LE(n, 256) << map_type_name(type);
    EXPECT_GT(n, 0) << map_type_name(type);
  }
}

}  // namespace
}  // namespace fusebpf::bpf
