// composefs: what the BPF program (composefs.bpf.c), the fetching C++ filter
// (composefs_fetch.cc) and their tests must agree on. Header-only, no dependencies.
//
// * Path keys: the `paths` map is keyed by the 64-bit FNV-1a hash of "/" + the file's path
//   relative to the mount root ("/bin/sh" for MNT/bin/sh). The BPF side computes it one
//   component at a time (hash of the parent directory, then '/', then the name), so
//   fnv1a("/a/b") == fnv1a_continue(fnv1a("/a"), "/b"). A 64-bit hash keeps the key small
//   and fixed-size; two manifest paths with the same hash would be a loader error (reported).
// * Digests: lowercase hex SHA-256 of a blob's bytes (64 characters, no NUL).
// * Blob paths: "objects/" + digest[0..2] + "/" + digest[2..], relative to the object
//   store (the mount's filter root), and the same below the remote store.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace fusebpf::examples::composefs {

inline constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ull;
inline constexpr size_t kDigestLen = 64;
inline constexpr size_t kBlobPathLen = 8 + 2 + 1 + kDigestLen - 2;  // objects/hh/rest

constexpr uint64_t fnv1a_continue(uint64_t h, std::string_view bytes) {
  for (char c : bytes) h = (h ^ static_cast<uint8_t>(c)) * kFnvPrime;
  return h;
}
// The `paths` key of a path relative to the mount root ("a/b", no leading slash).
constexpr uint64_t path_key(std::string_view rel) {
  return fnv1a_continue(fnv1a_continue(kFnvBasis, "/"), rel);
}

constexpr bool is_digest(std::string_view d) {
  if (d.size() != kDigestLen) return false;
  for (char c : d) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

inline std::string blob_path(std::string_view digest) {
  return "objects/" + std::string(digest.substr(0, 2)) + "/" + std::string(digest.substr(2));
}

// SHA-256 (FIPS 180-4), streaming: update() any number of times, then hex().
class Sha256 {
 public:
  void update(std::span<const std::byte> data) {
    for (std::byte b : data) {
      block_[fill_++] = static_cast<uint8_t>(b);
      if (fill_ == 64) {
        compress();
        fill_ = 0;
      }
    }
    bits_ += uint64_t{data.size()} * 8;
  }
  void update(std::string_view s) { update(std::as_bytes(std::span(s.data(), s.size()))); }

  // The digest as 64 lowercase hex characters. Call once.
  std::string hex() {
    uint64_t bits = bits_;
    const std::byte pad{0x80}, zero{0};
    update(std::span(&pad, 1));
    while (fill_ != 56) update(std::span(&zero, 1));
    for (int i = 7; i >= 0; --i) block_[fill_++] = static_cast<uint8_t>(bits >> (i * 8));
    compress();
    std::string out;
    for (uint32_t w : h_) {
      for (int i = 28; i >= 0; i -= 4) out += "0123456789abcdef"[(w >> i) & 15];
    }
    return out;
  }

 private:
  static constexpr uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void compress() {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      w[i] = uint32_t{block_[4 * i]} << 24 | uint32_t{block_[4 * i + 1]} << 16 |
             uint32_t{block_[4 * i + 2]} << 8 | uint32_t{block_[4 * i + 3]};
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    std::array<uint32_t, 8> v = h_;  // a..h
    for (int i = 0; i < 64; ++i) {
      uint32_t s1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
      uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      uint32_t t1 = v[7] + s1 + ch + k[i] + w[i];
      uint32_t s0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
      uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      for (int j = 7; j > 0; --j) v[j] = v[j - 1];
      v[4] += t1;
      v[0] = t1 + s0 + maj;
    }
    for (int i = 0; i < 8; ++i) h_[i] += v[i];
  }

  std::array<uint32_t, 8> h_ = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t block_[64] = {};
  size_t fill_ = 0;
  uint64_t bits_ = 0;
};

inline std::string sha256_hex(std::string_view data) {
  Sha256 s;
  s.update(data);
  return s.hex();
}

}  // namespace fusebpf::examples::composefs
