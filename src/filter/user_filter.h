// C++ user filters: one virtual prefilter and postfilter per FUSE-BPF op (filter_ops.def),
// with exactly the arguments a BPF program of that op gets. Override only what you need.
//
//   class DenyGuest : public fusebpf::filter::UserFilter {
//     Verdict lookup_prefilter(const FilterMeta& m, FuseBuffer& name) override {
//       return m.uid == 65534 ? Verdict::error(EACCES) : Verdict::kContinue;
//     }
//   };
//   extern "C" fusebpf::filter::UserFilter* fusebpf_create_user_filter(const char* arg) {
//     return new DenyGuest;
//   }
//
// When hooks run (src/filter/README.md has the full flow):
// - On a node with a BPF program, the program decides: BPF_FUSE_USER_PREFILTER runs the C++
//   prefilter (whose verdict then picks the next step like a BPF prefilter's would),
//   BPF_FUSE_USER_POSTFILTER the C++ postfilter, BPF_FUSE_USER the C++ postfilter *as the
//   whole operation* (meta.opcode has no stage bit, error_in is 0, outputs are zeroed: fill
//   them; the backing op is not run).
// - On a node without a BPF program the C++ prefilter always runs; its verdict decides like
//   a BPF prefilter's. The default prefilter returns kUserPostfilter, so a filter that only
//   overrides a postfilter gets it called; the default postfilter changes nothing.
//
// Threading: hooks are called concurrently from every worker thread. They may block (e.g. a
// network call); that occupies one worker. Buffers and structs are valid only during the call.
// Loading: `fusebpf mount --user-filter lib.so[:ARG]` dlopens lib.so and calls
// `extern "C" UserFilter* fusebpf_create_user_filter(const char* arg)` (kUserFilterFactory);
// the daemon owns the result. Library users pass one to StackedFs::set_filters().
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/errno.h"
#include "filter/fuse_bpf_abi.h"

namespace fusebpf::filter {

// A filter's decision: one of the BPF_FUSE_* codes or an error.
class Verdict {
 public:
  enum Code : int32_t {
    kContinue = kBpfFuseContinue,
    kUser = kBpfFuseUser,
    kUserPrefilter = kBpfFuseUserPrefilter,
    kPostfilter = kBpfFusePostfilter,
    kUserPostfilter = kBpfFuseUserPostfilter,
    kCallDefault = kBpfFuseCallDefault,
  };
  constexpr Verdict(Code c) : value_(c) {}  // NOLINT: implicit on purpose
  // Fails the operation with `err` (a positive errno value).
  static constexpr Verdict error(int err) { return Verdict(-err); }
  static constexpr Verdict error(Errno err) { return Verdict(-static_cast<int32_t>(err)); }
  // A BPF program's r0 (u32 holding a code or a negative errno).
  static constexpr Verdict from_bpf(uint64_t r0) { return Verdict(static_cast<int32_t>(r0)); }

  constexpr bool is_error() const { return value_ < 0; }
  constexpr int errno_value() const { return -value_; }
  constexpr int32_t value() const { return value_; }
  constexpr bool operator==(const Verdict&) const = default;

 private:
  constexpr explicit Verdict(int32_t v) : value_(v) {}
  int32_t value_;
};

#define FUSEBPF_FILTER_PARAMS(...) __VA_OPT__(, ) __VA_ARGS__
#define FUSEBPF_FILTER_UNPAREN(...) __VA_ARGS__

// The maps of the mount's BPF object, for C++ filters (and the control socket). Writes made
// here are host-side changes: they invalidate the kernel's cached entries and attributes of
// filtered nodes (src/filter/README.md, "Caching rule"). Virtual, so a --user-filter library
// needs no symbol from the daemon. Keys and values are raw bytes of exactly the map's sizes.
class FilterMaps {
 public:
  virtual ~FilterMaps() = default;
  // Copies the value under `key` into `value`. kNoEnt: no such key; kInval: sizes differ or
  // no such map.
  virtual Errno map_lookup(std::string_view map, std::span<const std::byte> key,
                           std::span<std::byte> value) = 0;
  // flags: BPF_ANY (0) / BPF_NOEXIST (1) / BPF_EXIST (2).
  virtual Errno map_update(std::string_view map, std::span<const std::byte> key,
                           std::span<const std::byte> value, uint64_t flags = 0) = 0;
  virtual Errno map_delete(std::string_view map, std::span<const std::byte> key) = 0;
};

class UserFilter {
 public:
  virtual ~UserFilter() = default;

  // Called once when the mount's filters are set up, before any hook runs. `maps` is null
  // when the mount has no BPF object; it outlives the filter.
  virtual void attach(FilterMaps* maps) {}

  // Return true to see file data (read_iter/write_iter hooks): files are then served by the
  // daemon instead of kernel passthrough, which costs throughput. With false those hooks
  // still run for files that a BPF program already keeps out of passthrough.
  virtual bool wants_data() const { return false; }

  // Return false when your lookup/getattr/readdir hooks answer the same for every caller and
  // change their minds only through FilterMaps writes (or changes of the lower fs): names and
  // attributes are then cached by the kernel with the mount's timeouts, and each FilterMaps
  // write invalidates them. true (the safe default): nothing under this filter is cached.
  virtual bool decisions_depend_on_caller() const { return true; }

#define FILTER_OP(member, Op, pre, post)                                                   \
  virtual Verdict member##_prefilter(const FilterMeta& meta FUSEBPF_FILTER_PARAMS pre) {   \
    return Verdict::kUserPostfilter;                                                       \
  }                                                                                        \
  virtual Verdict member##_postfilter(const FilterMeta& meta FUSEBPF_FILTER_PARAMS post) { \
    return Verdict::kContinue;                                                             \
  }
#include "filter/filter_ops.def"
#undef FILTER_OP
};

// The factory symbol a --user-filter library exports.
inline constexpr const char* kUserFilterFactory = "fusebpf_create_user_filter";
using UserFilterFactory = UserFilter* (*)(const char* arg);

}  // namespace fusebpf::filter
