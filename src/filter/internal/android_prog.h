// The Android single-program filter form (include/fusebpf/android_fuse.h): the host layout
// of struct fuse_bpf_args, its verifier context and the per-op argument layouts.
// FilterChain::load_android() loads `fuse/<name>` programs as tables; Run::run_android()
// (android_prog.cc) runs one for a hook. Semantics: src/filter/README.md, "Android
// single-program form".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "bpf/program.h"
#include "filter/chain.h"

namespace fusebpf::filter::android {

// Bytes every value pointer is backed with and the verifier grants (FUSE_BPF_ARG_BYTES):
// a name of NAME_MAX bytes plus its NUL fits.
inline constexpr uint32_t kArgBytes = 256;
inline constexpr size_t kMaxInArgs = 5;
inline constexpr size_t kMaxOutArgs = 3;

// Return bits and lookup actions.
inline constexpr int32_t kUserFilter = 1;
inline constexpr int32_t kBacking = 2;
inline constexpr int32_t kPostFilter = 4;
inline constexpr uint64_t kActionKeep = 0;
inline constexpr uint64_t kActionRemove = 1;
inline constexpr uint64_t kActionReplace = 2;
inline constexpr uint32_t kFlagOutArgVar = 1u << 6;  // FUSE_BPF_OUT_ARGVAR

struct fuse_bpf_in_arg {
  uint32_t size;
  const void* value;
  const void* end_offset;
};
struct fuse_bpf_arg {
  uint32_t size;
  void* value;
  void* end_offset;
};
struct fuse_bpf_args {
  uint64_t nodeid;
  uint32_t opcode;
  uint32_t error_in;
  uint32_t in_numargs;
  uint32_t out_numargs;
  uint32_t flags;
  fuse_bpf_in_arg in_args[kMaxInArgs];
  fuse_bpf_arg out_args[kMaxOutArgs];
};
static_assert(sizeof(fuse_bpf_in_arg) == 24 && offsetof(fuse_bpf_in_arg, value) == 8);
static_assert(offsetof(fuse_bpf_args, in_args) == 32 && offsetof(fuse_bpf_args, out_args) == 152 &&
              sizeof(fuse_bpf_args) == 224);

struct fuse_entry_bpf_out {
  uint64_t backing_action;
  uint64_t backing_fd;
  uint64_t bpf_action;
  uint64_t bpf_fd;
};
static_assert(sizeof(fuse_entry_bpf_out) == 32);

// How one struct_ops argument (filter_ops.def) appears as an Android arg.
enum class ArgKind : uint8_t {
  kStruct,      // a fuse_*_in / fuse_*_out struct of `size` bytes
  kBytes,       // a fuse_buffer of raw bytes (data, xattr values, dirents)
  kString,      // a fuse_buffer holding a NUL-terminated name or path
  kEntryBpfOut  // lookup's `entries`, shown as a struct fuse_entry_bpf_out
};
struct ArgSpec {
  ArgKind kind = ArgKind::kStruct;
  uint32_t size = 0;    // kStruct: sizeof the struct
  bool output = false;  // a non-const postfilter argument
};
struct OpLayout {
  std::array<ArgSpec, kMaxInArgs> pre{}, post{};
  uint8_t npre = 0, npost = 0;
};
// The layout of `op`, derived from filter_ops.def (argument types and names).
const OpLayout& layout(FilterOp op);

// The verifier context of a `fuse/<name>` program: scalar fields read-only, in_args[i].value
// kArgBytes read-only, out_args[i].value kArgBytes read-write, end_offset a scalar.
const bpf::ContextDescriptor& context();

// "fuse/<name>" -> "<name>"; nullopt for other sections.
std::optional<std::string_view> table_name(std::string_view section);

}  // namespace fusebpf::filter::android
