// Decoded FUSE requests. The decoder (internal/decode.h) checks the header length, the op
// table's minimum input size and that each name is NUL-terminated; handlers then read a typed
// view and never cast raw bytes.
//
// Lifetime: a request views the worker's read buffer; it is valid until the handler returns
// (handlers that answer later must copy what they need).
#pragma once

#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>

#include "abi/fuse_kernel.h"
#include "fuse/opcode.h"

namespace fusebpf::fuse {

// Who sent a request (from fuse_in_header).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
};

class DecodedRequest {
 public:
  const abi::fuse_in_header& header() const { return header_; }
  Opcode opcode() const { return static_cast<Opcode>(header_.opcode); }
  uint64_t unique() const { return header_.unique; }
  uint64_t nodeid() const { return header_.nodeid; }
  Caller caller() const { return {header_.uid, header_.gid, header_.pid}; }
  // The i-th name (without its NUL).
  std::string_view name(size_t i = 0) const { return names_[i]; }
  // Bytes after the struct and names (WRITE data, SETXATTR value, BATCH_FORGET entries, ...).
  std::span<const std::byte> payload() const { return payload_; }

  const std::byte* in_bytes() const { return in_; }
  static constexpr size_t kMaxInSize = 96;

 private:
  friend class Decoder;
  abi::fuse_in_header header_{};
  // A zero-filled copy of the input struct: shorter inputs from older kernels read as zero,
  // and the struct is always aligned.
  alignas(8) std::byte in_[kMaxInSize]{};
  std::array<std::string_view, 2> names_{};
  std::span<const std::byte> payload_{};
};

// Typed view of a decoded request for one opcode.
template <Opcode Op>
class Request {
 public:
  using In = typename OpTraits<Op>::InType;
  explicit Request(const DecodedRequest& decoded) : d_(decoded) {}

  const In& in() const { return *reinterpret_cast<const In*>(d_.in_bytes()); }
  const abi::fuse_in_header& header() const { return d_.header(); }
  uint64_t unique() const { return d_.unique(); }
  uint64_t nodeid() const { return d_.nodeid(); }
  Caller caller() const { return d_.caller(); }
  std::string_view name(size_t i = 0) const { return d_.name(i); }
  std::span<const std::byte> payload() const { return d_.payload(); }
  const DecodedRequest& decoded() const { return d_; }

 private:
  const DecodedRequest& d_;
};

}  // namespace fusebpf::fuse
