// FilterChain: the filters of one mount and the per-operation flow that runs them.
//
//   prefilter (BPF <op>_prefilter, else default_filter, else CONTINUE)
//     -> [C++ prefilter when asked (USER_PREFILTER) or when the node has no BPF program]
//     -> backing op (or, for BPF_FUSE_USER, the C++ postfilter as the whole op)
//     -> [BPF postfilter when asked (POSTFILTER)] -> [C++ postfilter (USER_POSTFILTER)]
//     -> reply
//
// A negative return at any stage fails the op with that errno; the backing op's error
// reaches postfilters as meta.error_in. StackedFs (filtered_ops.cc) builds each op's
// arguments, calls Run::pre / Run::post and uses whatever the filters left in them.
// Program association: every node has the program of the parent it was looked up through
// (the mount's program for the root) unless a lookup postfilter set or removed it with
// fuse_bpf_entry_out entries. Details and the caching rule: src/filter/README.md.
// A table may also be an Android single-program form (SEC("fuse/<name>"), one program over
// struct fuse_bpf_args for every hook), adapted in android_prog.cc.
//
// Threading: everything here is safe to call from all worker threads at once.
#pragma once

#include <linux/openat2.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "bpf/runtime.h"
#include "filter/user_filter.h"
#include "fuse/opcode.h"
#include "fuse/request.h"

namespace fusebpf::filter {

// One hook per op and stage, in filter_ops.def order: kLookupPre etc. are spelled
// hook_pre(FilterOp::k_lookup).
enum class FilterOp : uint8_t {
#define FILTER_OP(member, Op, pre, post) k_##member,
#include "filter/filter_ops.def"
#undef FILTER_OP
  kCount
};
inline constexpr size_t kFilterOpCount = static_cast<size_t>(FilterOp::kCount);
std::string_view filter_op_name(FilterOp op);
fuse::Opcode filter_op_opcode(FilterOp op);

// The verifier context of `<op>_prefilter` (post = false) or `<op>_postfilter`, and of
// default_filter (op = nullopt): the struct_ops u64 argument array.
const bpf::ContextDescriptor& hook_context(std::optional<FilterOp> op, bool post);
// The context a program of `obj` runs with as a filter: its hook's, when a `struct fuse_ops`
// table binds it, or the Android form's for a `fuse/<name>` section; nullptr otherwise.
const bpf::ContextDescriptor* program_context(const bpf::Object& obj,
                                              const bpf::RawProgram& program);
// Platform::standard() plus bpf_fuse_get_ro_dynptr / bpf_fuse_get_rw_dynptr /
// bpf_fuse_return_len and every hook context.
const bpf::Platform& filter_platform();

// A fuse_buffer with the storage the kfuncs may (re)allocate. `buf` must stay the first
// member: the kfuncs get a FuseBuffer* and find the HostBuffer through it.
struct HostBuffer : BufferStorage {  // heap: owned allocation, freed by the destructor
  HostBuffer() = default;
  HostBuffer(void* data, uint32_t size, uint32_t alloc, uint32_t max, int32_t flags)
      : BufferStorage{FuseBuffer{data, size, alloc, max, flags}} {}
  ~HostBuffer() { delete[] heap; }
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  // A name (as received) for a filter: size counts the NUL the request carries.
  static void name(HostBuffer& b, std::string_view n, uint32_t max, int32_t flags);
  std::string_view text() const;  // up to the first NUL / size
  std::span<const std::byte> bytes() const { return buffer_view(buf); }
};
static_assert(std::is_standard_layout_v<HostBuffer> && sizeof(HostBuffer) == sizeof(BufferStorage));

// A loaded `struct fuse_ops` table: one verified executable per member set.
class BpfOps {
 public:
  std::string name;
  bool has(FilterOp op, bool post) const {
    return hook(op, post) != nullptr || default_ || android_;
  }
  const bpf::Executable* hook(FilterOp op, bool post) const {
    const auto& h = hooks_[static_cast<size_t>(op) * 2 + post];
    return h ? &*h : nullptr;
  }
  const bpf::Executable* default_filter() const { return default_ ? &*default_ : nullptr; }
  // An Android-form table (SEC("fuse/<name>")): one program for every hook, no per-op hooks.
  const bpf::Executable* android() const { return android_ ? &*android_ : nullptr; }
  // Reads or writes of file data are filtered: such files are served by the daemon.
  bool filters_data() const;
  // Lookup/getattr/readdir are filtered (or default_filter is set).
  bool filters_names() const;
  // A lookup/getattr/readdir hook (or default_filter) asks who the caller is (uid, gid, pid,
  // comm), draws random numbers or writes maps itself: its answers cannot be shared between
  // callers through the kernel's caches (src/filter/README.md "Caching rule").
  bool per_caller() const { return per_caller_; }

 private:
  friend class FilterChain;
  bool per_caller_ = false;
  std::array<std::optional<bpf::Executable>, kFilterOpCount * 2> hooks_;
  std::optional<bpf::Executable> default_;
  std::optional<bpf::Executable> android_;
};

// How FUSE_ENTRY_BACKING paths resolve below the filter root: ".." and absolute paths stop
// at the root and symlinks are resolved as if the root were "/", so no path (or symlink in
// the store) can name anything outside it; no magic links, no other mounts.
inline constexpr uint64_t kRedirectResolve =
    RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

struct FilterConfig {
  // "" = no BPF filter. The CLI form `OBJ.o[:OPS][,root=DIR]` is accepted here too: create()
  // splits off ",root=DIR" into root_dir (and ":OPS" into ops_name when still attached).
  std::string bpf_object;
  std::string ops_name;  // fuse_ops table attached at the root ("" = the only/first one)
  bpf::Engine engine = bpf::Engine::kJit;
  // Directory that lookup backing redirects (FUSE_ENTRY_BACKING paths) resolve beneath,
  // opened once (O_PATH) by create(). "" = redirects fail with EOPNOTSUPP.
  std::string root_dir;
  // ",nocache": names and attributes under filters are never cached by the kernel, for
  // filters whose decisions change in ways the caching rule cannot see (README).
  bool never_cache = false;
  std::unique_ptr<UserFilter> user;  // may be null
  void* user_library = nullptr;      // dlopen handle kept open while `user` lives
};

// Per-op counts for `fusebpf stats`.
struct FilterOpStats {
  std::string_view name;
  uint64_t bpf = 0;      // ops on which a BPF program ran
  uint64_t cxx = 0;      // ops on which a C++ hook ran
  uint64_t backing = 0;  // ops passed to the backing fs
  uint64_t failed = 0;   // ops failed by a filter's negative return
};

class FilterChain final : public FilterMaps {
 public:
  static Result<std::unique_ptr<FilterChain>, std::string> create(FilterConfig config);
  ~FilterChain();

  // The program of a node (nullptr: none). Nodes never told otherwise have the root's.
  const BpfOps* program_of(uint64_t nodeid) const;
  void set_program(uint64_t nodeid, const BpfOps* ops);
  const BpfOps* ops_by_name(std::string_view name) const;
  const BpfOps* root_ops() const { return root_; }
  // O_PATH fd of FilterConfig::root_dir (-1 when none); redirects resolve beneath it with
  // kRedirectResolve.
  int redirect_root() const { return root_fd_.get(); }
  UserFilter* user() const { return config_.user.get(); }
  bool never_cache() const { return config_.never_cache; }
  bool any_filters_data() const;
  bpf::Object* object() { return object_ ? &*object_ : nullptr; }

  // FilterMaps: host-side map access (C++ filters, `fusebpf map`). Every successful write
  // calls the invalidation hook, since filter decisions may depend on the map.
  Errno map_lookup(std::string_view map, std::span<const std::byte> key,
                   std::span<std::byte> value) override;
  Errno map_update(std::string_view map, std::span<const std::byte> key,
                   std::span<const std::byte> value, uint64_t flags = 0) override;
  Errno map_delete(std::string_view map, std::span<const std::byte> key) override;
  // Called after each host-side map write (StackedFs drops the kernel's filtered caches).
  void set_invalidate_hook(std::function<void()> hook) { invalidate_ = std::move(hook); }
  std::vector<FilterOpStats> stats() const;

  // One filtered operation on one node.
  class Run {
   public:
    Run(FilterChain& chain, const fuse::DecodedRequest& req, FilterOp op, uint64_t nodeid);
    Run(FilterChain& chain, const fuse::DecodedRequest& req, FilterOp op)
        : Run(chain, req, op, req.nodeid()) {}
    enum class Step { kFail, kBacking, kUserOp };
    // Runs the prefilter stage over the op's prefilter arguments (after meta).
    Step pre(std::initializer_list<void*> args);
    // kUserOp: the C++ postfilter as the whole op (outputs zeroed by the caller).
    Step user_op(std::initializer_list<void*> args);
    // Runs the postfilter stage; `backing_error` is the backing op's result (kOk = success).
    // Returns the op's result.
    Errno post(Errno backing_error, std::initializer_list<void*> args);
    Errno error() const { return error_; }
    const BpfOps* program() const { return prog_; }
    bool wants_post() const { return post_ != PostMode::kNone; }
    // A filter (not the backing op) failed the op with a negative return.
    bool failed_by_filter() const { return failed_by_filter_; }

   private:
    enum class PostMode : uint8_t { kNone, kBpf, kUser };
    Verdict run_bpf(bool post, std::initializer_list<void*> args);
    Verdict run_user(bool post, std::initializer_list<void*> args);
    Verdict run_android(bool post, std::initializer_list<void*> args);  // android_prog.cc
    bpf::Invocation invocation() const;
    bool fail(Verdict v);
    // Marks the postfilter's `const FuseBuffer&` inputs IMMUTABLE (src/filter/README.md).
    void freeze_inputs(std::initializer_list<void*> args) const;

    FilterChain& chain_;
    const fuse::DecodedRequest& req_;
    FilterOp op_;
    const BpfOps* prog_;
    FilterMeta meta_;
    PostMode post_ = PostMode::kNone;
    Errno error_ = Errno::kOk;
    bool failed_by_filter_ = false;
  };

 private:
  explicit FilterChain(FilterConfig config);
  Result<void, std::string> load();
  Result<void, std::string> load_android();  // android_prog.cc

  struct Counters {
    std::atomic<uint64_t> bpf{0}, cxx{0}, backing{0}, failed{0};
  };
  FilterConfig config_;
  std::optional<bpf::Object> object_;
  std::vector<std::unique_ptr<BpfOps>> tables_;
  const BpfOps* root_ = nullptr;
  UniqueFd root_fd_;
  std::array<Counters, kFilterOpCount> counters_;
  std::function<void()> invalidate_;

  // Nodes whose program differs from the root's. Lock order: leaf.
  mutable std::shared_mutex assoc_mutex_;
  std::unordered_map<uint64_t, const BpfOps*> assoc_;
  std::atomic<bool> has_assoc_{false};
};

}  // namespace fusebpf::filter
