// FilterChain: hook tables generated from filter_ops.def, the verifier contexts, the
// fuse_buffer kfuncs and the per-op flow (chain.h; src/filter/README.md).
#include "filter/chain.h"

#include <dlfcn.h>
#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <type_traits>
#include <utility>

#include "base/log.h"
#include "base/sys.h"
#include "bpf/helpers/helpers.h"
#include "bpf/isa/isa.h"
#include "filter/internal/android_prog.h"

namespace fusebpf::filter {
namespace {

// ---- argument types -> context fields -------------------------------------------------

template <typename T>
bpf::ContextField arg_field(uint32_t offset, std::string name) {
  using S = std::remove_cvref_t<T>;
  bpf::ContextField f;
  f.offset = offset;
  f.size = 8;
  f.name = std::move(name);
  if constexpr (std::is_same_v<S, FuseBuffer>) {
    f.kind = bpf::FieldKind::kPtrToObject;
    f.object_type = "fuse_buffer";
  } else {
    f.kind = bpf::FieldKind::kPtrToMem;
    f.pointee_size = sizeof(S);
    f.pointee_writable = !std::is_const_v<std::remove_reference_t<T>>;
  }
  return f;
}

template <typename... A>
bpf::ContextDescriptor make_context(std::string name,
                                    Verdict (UserFilter::*)(const FilterMeta&, A...)) {
  bpf::ContextDescriptor d;
  d.name = std::move(name);
  d.size = static_cast<uint32_t>(8 * (1 + sizeof...(A)));
  bpf::ContextField meta;
  meta.offset = 0;
  meta.kind = bpf::FieldKind::kPtrToMem;
  meta.pointee_size = kBpfMetaSize;
  meta.name = "meta";
  d.fields.push_back(meta);
  uint32_t i = 0;
  ((++i, d.fields.push_back(arg_field<A>(8 * i, "arg" + std::to_string(i)))), ...);
  return d;
}

template <typename T>
T cast_arg(void* p) {
  return *static_cast<std::remove_reference_t<T>*>(p);
}

template <typename... A, size_t... I>
Verdict invoke_impl(UserFilter& f, Verdict (UserFilter::*m)(const FilterMeta&, A...),
                    void* const* args, std::index_sequence<I...>) {
  return (f.*m)(*static_cast<const FilterMeta*>(args[0]), cast_arg<A>(args[I + 1])...);
}
template <typename... A>
Verdict invoke(UserFilter& f, Verdict (UserFilter::*m)(const FilterMeta&, A...),
               void* const* args) {
  return invoke_impl(f, m, args, std::index_sequence_for<A...>{});
}

// Bit i set: argument i (after meta) is a `const FuseBuffer&`, an input the hook must not
// write (IMMUTABLE while it runs).
template <typename... A>
constexpr uint32_t const_buffers(Verdict (UserFilter::*)(const FilterMeta&, A...)) {
  uint32_t mask = 0, bit = 1;
  ((mask |= std::is_same_v<A, const FuseBuffer&> ? bit : 0, bit <<= 1), ...);
  return mask;
}

using Invoker = Verdict (*)(UserFilter&, void* const*);
struct HookInfo {
  std::string_view member;
  fuse::Opcode opcode;
  Invoker call[2];
  bpf::ContextDescriptor ctx[2];
  uint32_t post_inputs;  // const_buffers() of the postfilter
};

const std::array<HookInfo, kFilterOpCount>& hooks() {
  static const auto* table = new std::array<HookInfo, kFilterOpCount>{{
#define FILTER_OP(member, Op, pre, post)                                            \
  HookInfo{#member,                                                                 \
           fuse::Opcode::k##Op,                                                     \
           {[](UserFilter& f, void* const* a) {                                     \
              return invoke(f, &UserFilter::member##_prefilter, a);                 \
            },                                                                      \
            [](UserFilter& f, void* const* a) {                                     \
              return invoke(f, &UserFilter::member##_postfilter, a);                \
            }},                                                                     \
           {make_context(#member "_prefilter", &UserFilter::member##_prefilter),    \
            make_context(#member "_postfilter", &UserFilter::member##_postfilter)}, \
           const_buffers(&UserFilter::member##_postfilter)},
#include "filter/filter_ops.def"
#undef FILTER_OP
  }};
  return *table;
}

const HookInfo& info(FilterOp op) { return hooks()[static_cast<size_t>(op)]; }

// ---- kfuncs -------------------------------------------------------------------------------

HostBuffer* host_of(uint64_t p) { return reinterpret_cast<HostBuffer*>(p); }

std::byte* make_writable(HostBuffer& h, uint64_t size, bool copy) {
  return buffer_make_writable(h.buf, size, copy);
}

uint64_t kf_ro_dynptr(uint64_t buf, uint64_t out, uint64_t, uint64_t, uint64_t) {
  const FuseBuffer& b = host_of(buf)->buf;
  bpf::init_dynptr(reinterpret_cast<bpf::Dynptr*>(out), b.data, b.size, true);
  return 0;
}

uint64_t kf_rw_dynptr(uint64_t buf, uint64_t out, uint64_t size, uint64_t copy, uint64_t) {
  auto* d = reinterpret_cast<bpf::Dynptr*>(out);
  std::byte* data = make_writable(*host_of(buf), size, (copy & 0xff) != 0);
  if (data == nullptr) {
    bpf::invalidate_dynptr(d);
    return 0;
  }
  bpf::init_dynptr(d, data, static_cast<uint32_t>(size), false);
  return 0;
}

uint64_t kf_return_len(uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
  return host_of(buf)->buf.size;
}

bpf::Platform build_platform() {
  using A = bpf::ArgKind;
  bpf::Platform p = bpf::Platform::standard();
  bpf::HelperPrototype ro{"bpf_fuse_get_ro_dynptr", {A::kCtxObject, A::kDynptrUninit}};
  ro.ret = bpf::RetKind::kVoid;
  ro.object_type = "fuse_buffer";
  p.add_kfunc(ro, kf_ro_dynptr);
  bpf::HelperPrototype rw{"bpf_fuse_get_rw_dynptr",
                          {A::kCtxObject, A::kDynptrUninit, A::kScalar, A::kScalar}};
  rw.ret = bpf::RetKind::kVoid;
  rw.object_type = "fuse_buffer";
  p.add_kfunc(rw, kf_rw_dynptr);
  bpf::HelperPrototype len{"bpf_fuse_return_len", {A::kCtxObject}};
  len.object_type = "fuse_buffer";
  p.add_kfunc(len, kf_return_len);
  for (const auto& h : hooks()) {
    p.add_context(h.ctx[0]);
    p.add_context(h.ctx[1]);
  }
  p.add_context(hook_context(std::nullopt, false));
  p.add_context(android::context());
  return p;
}

}  // namespace

void HostBuffer::name(HostBuffer& b, std::string_view n, uint32_t max, int32_t flags) {
  // The request's name is NUL-terminated in the read buffer, so size may include it.
  b.buf = FuseBuffer{const_cast<char*>(n.data()), static_cast<uint32_t>(n.size() + 1),
                     static_cast<uint32_t>(n.size() + 1), max, flags};
}

std::string_view HostBuffer::text() const {
  const char* p = static_cast<const char*>(buf.data);
  if (p == nullptr) return {};
  return std::string_view(p, strnlen(p, buf.size));
}

std::string_view filter_op_name(FilterOp op) { return info(op).member; }
fuse::Opcode filter_op_opcode(FilterOp op) { return info(op).opcode; }

const bpf::ContextDescriptor& hook_context(std::optional<FilterOp> op, bool post) {
  if (op) return info(*op).ctx[post];
  static const auto* def = new bpf::ContextDescriptor([] {
    bpf::ContextDescriptor d;
    d.name = "default_filter";
    d.size = 8;
    bpf::ContextField meta;
    meta.kind = bpf::FieldKind::kPtrToMem;
    meta.pointee_size = kBpfMetaSize;
    meta.name = "meta";
    d.fields.push_back(meta);
    return d;
  }());
  return *def;
}

const bpf::Platform& filter_platform() {
  static const auto* p = new bpf::Platform(build_platform());
  return *p;
}

bool BpfOps::filters_data() const {
  return default_ || android_ || hooks_[static_cast<size_t>(FilterOp::k_read_iter) * 2] ||
         hooks_[static_cast<size_t>(FilterOp::k_read_iter) * 2 + 1] ||
         hooks_[static_cast<size_t>(FilterOp::k_write_iter) * 2] ||
         hooks_[static_cast<size_t>(FilterOp::k_write_iter) * 2 + 1];
}

namespace {

// Whether a program calls a helper whose result differs between callers or runs, or changes
// maps itself (see BpfOps::per_caller).
bool calls_per_caller_helper(const bpf::Executable& exe) {
  for (const bpf::Insn& insn : exe.program().insns()) {
    auto op = bpf::isa::classify(insn);
    if (!op || bpf::isa::info(*op).form != bpf::isa::Form::kCall) continue;
    switch (insn.imm) {
      case bpf::kHelperGetCurrentUidGid:
      case bpf::kHelperGetCurrentPidTgid:
      case bpf::kHelperGetCurrentComm:
      case bpf::kHelperGetPrandomU32:
      case bpf::kHelperMapUpdateElem:
      case bpf::kHelperMapDeleteElem:
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

bool BpfOps::filters_names() const {
  for (FilterOp op : {FilterOp::k_lookup, FilterOp::k_getattr, FilterOp::k_readdir}) {
    if (hook(op, false) || hook(op, true)) return true;
  }
  return default_ || android_;
}

const bpf::ContextDescriptor* program_context(const bpf::Object& obj,
                                              const bpf::RawProgram& program) {
  if (android::table_name(program.section)) return &android::context();
  for (const auto& table : obj.struct_ops()) {
    if (table.type_name != "fuse_ops") continue;
    for (const auto& member : table.members) {
      if (member.program != program.name) continue;
      if (member.name == "default_filter") return &hook_context(std::nullopt, false);
      for (size_t i = 0; i < kFilterOpCount; ++i) {
        auto op = static_cast<FilterOp>(i);
        std::string base(filter_op_name(op));
        if (member.name == base + "_prefilter") return &hook_context(op, false);
        if (member.name == base + "_postfilter") return &hook_context(op, true);
      }
    }
  }
  return nullptr;
}

// ---- FilterChain ----------------------------------------------------------------------

FilterChain::FilterChain(FilterConfig config) : config_(std::move(config)) {}

FilterChain::~FilterChain() {
  config_.user.reset();
  if (config_.user_library) dlclose(config_.user_library);
}

namespace {

// "OBJ.o[:OPS][,root=DIR][,nocache]" (possibly already split at ':' by the CLI) -> its parts.
// Returns an error message for an unknown option.
std::string split_filter_spec(FilterConfig& c) {
  std::string spec = c.bpf_object + (c.ops_name.empty() ? "" : ":" + c.ops_name);
  auto at = spec.find(',');
  if (at == std::string::npos) return "";
  std::string options = spec.substr(at + 1);
  spec.resize(at);
  while (!options.empty()) {
    auto end = options.find(',');
    std::string option = options.substr(0, end);
    options = end == std::string::npos ? "" : options.substr(end + 1);
    if (option.rfind("root=", 0) == 0) {
      c.root_dir = option.substr(5);
    } else if (option == "nocache") {
      c.never_cache = true;
    } else {
      return "unknown filter option '" + option + "' (root=DIR, nocache)";
    }
  }
  auto colon = spec.rfind(':');
  bool has_ops = colon != std::string::npos && spec.find('/', colon) == std::string::npos;
  c.bpf_object = has_ops ? spec.substr(0, colon) : spec;
  c.ops_name = has_ops ? spec.substr(colon + 1) : "";
  return "";
}

}  // namespace

Result<std::unique_ptr<FilterChain>, std::string> FilterChain::create(FilterConfig config) {
  if (std::string bad = split_filter_spec(config); !bad.empty()) return fail(bad);
  std::unique_ptr<FilterChain> chain(new FilterChain(std::move(config)));
  if (!chain->config_.root_dir.empty()) {
    auto fd = sys::open_at(AT_FDCWD, chain->config_.root_dir.c_str(), O_PATH | O_DIRECTORY);
    if (!fd) {
      return fail("root=" + chain->config_.root_dir + ": " + std::string(errno_name(fd.error())));
    }
    chain->root_fd_ = std::move(*fd);
  }
  if (!chain->config_.bpf_object.empty()) {
    auto loaded = chain->load();
    if (!loaded) return fail(loaded.error());
  }
  if (chain->config_.user) chain->config_.user->attach(chain->object_ ? chain.get() : nullptr);
  return chain;
}

namespace {

bpf::Map* sized_map(bpf::Object* obj, std::string_view name, size_t key_size,
                    std::optional<size_t> value_size) {
  bpf::Map* m = obj ? obj->map(name) : nullptr;
  if (m == nullptr || m->spec().key_size != key_size) return nullptr;
  if (value_size && m->spec().value_size != *value_size) return nullptr;
  return m;
}

Errno from_map_result(int r) { return r == 0 ? Errno::kOk : static_cast<Errno>(-r); }

}  // namespace

Errno FilterChain::map_lookup(std::string_view map, std::span<const std::byte> key,
                              std::span<std::byte> value) {
  bpf::Map* m = sized_map(object(), map, key.size(), value.size());
  if (m == nullptr) return Errno::kInval;
  const void* v = m->lookup(key.data());
  if (v == nullptr) return Errno::kNoEnt;
  std::memcpy(value.data(), v, value.size());
  return Errno::kOk;
}

Errno FilterChain::map_update(std::string_view map, std::span<const std::byte> key,
                              std::span<const std::byte> value, uint64_t flags) {
  bpf::Map* m = sized_map(object(), map, key.size(), value.size());
  if (m == nullptr) return Errno::kInval;
  Errno e = from_map_result(m->update(key.data(), value.data(), flags));
  if (e == Errno::kOk && invalidate_) invalidate_();
  return e;
}

Errno FilterChain::map_delete(std::string_view map, std::span<const std::byte> key) {
  bpf::Map* m = sized_map(object(), map, key.size(), std::nullopt);
  if (m == nullptr) return Errno::kInval;
  Errno e = from_map_result(m->remove(key.data()));
  if (e == Errno::kOk && invalidate_) invalidate_();
  return e;
}

Result<void, std::string> FilterChain::load() {
  const std::string& path = config_.bpf_object;
  auto obj = bpf::Object::open(path);
  if (!obj) return fail(path + ": " + obj.error());
  object_.emplace(std::move(*obj));
  for (const bpf::StructOps& so : object_->struct_ops()) {
    if (so.type_name != "fuse_ops") continue;
    auto ops = std::make_unique<BpfOps>();
    ops->name = so.string_member("name");
    if (ops->name.empty()) ops->name = so.var_name;
    for (const bpf::StructOpsMember& m : so.members) {
      if (m.program.empty()) continue;
      std::optional<FilterOp> op;
      bool post = false;
      if (m.name != "default_filter") {
        for (size_t i = 0; i < kFilterOpCount && !op; ++i) {
          std::string_view member = hooks()[i].member;
          if (m.name == std::string(member) + "_prefilter") op = static_cast<FilterOp>(i);
          if (m.name == std::string(member) + "_postfilter") {
            op = static_cast<FilterOp>(i);
            post = true;
          }
        }
        if (!op) return fail(path + ": fuse_ops " + ops->name + ": unknown member " + m.name);
      }
      auto exe =
          object_->load(m.program, hook_context(op, post), config_.engine, &filter_platform());
      if (!exe) {
        return fail(path + ": fuse_ops " + ops->name + "." + m.name + " (program " + m.program +
                    ") rejected:\n" + exe.error());
      }
      if (op) {
        ops->hooks_[static_cast<size_t>(*op) * 2 + post] = std::move(*exe);
      } else {
        ops->default_ = std::move(*exe);
      }
    }
    for (FilterOp op : {FilterOp::k_lookup, FilterOp::k_getattr, FilterOp::k_readdir}) {
      for (bool post : {false, true}) {
        const bpf::Executable* exe = ops->hook(op, post);
        if (exe && calls_per_caller_helper(*exe)) ops->per_caller_ = true;
      }
    }
    if (ops->default_ && calls_per_caller_helper(*ops->default_)) ops->per_caller_ = true;
    tables_.push_back(std::move(ops));
  }
  auto android = load_android();
  if (!android) return android;
  for (auto& t : tables_) {  // an Android-form program decides every op, names included
    if (t->android_ && calls_per_caller_helper(*t->android_)) t->per_caller_ = true;
  }
  if (tables_.empty()) {
    return fail(path +
                ": no SEC(\".struct_ops\") struct fuse_ops table or SEC(\"fuse/<name>\") program");
  }
  if (config_.ops_name.empty()) {
    root_ = tables_.front().get();
  } else {
    root_ = ops_by_name(config_.ops_name);
    if (!root_) return fail(path + ": no fuse_ops table named " + config_.ops_name);
  }
  return {};
}

const BpfOps* FilterChain::ops_by_name(std::string_view name) const {
  for (const auto& t : tables_) {
    if (t->name == name) return t.get();
  }
  return nullptr;
}

bool FilterChain::any_filters_data() const {
  return std::any_of(tables_.begin(), tables_.end(),
                     [](const auto& t) { return t->filters_data(); });
}

const BpfOps* FilterChain::program_of(uint64_t nodeid) const {
  if (!has_assoc_.load(std::memory_order_acquire)) return root_;
  std::shared_lock lock(assoc_mutex_);
  auto it = assoc_.find(nodeid);
  return it == assoc_.end() ? root_ : it->second;
}

void FilterChain::set_program(uint64_t nodeid, const BpfOps* ops) {
  std::unique_lock lock(assoc_mutex_);
  if (ops == root_) {
    assoc_.erase(nodeid);
  } else {
    assoc_[nodeid] = ops;
    has_assoc_.store(true, std::memory_order_release);
  }
}

std::vector<FilterOpStats> FilterChain::stats() const {
  std::vector<FilterOpStats> out;
  for (size_t i = 0; i < kFilterOpCount; ++i) {
    const Counters& c = counters_[i];
    FilterOpStats s{hooks()[i].member, c.bpf.load(), c.cxx.load(), c.backing.load(),
                    c.failed.load()};
    if (s.bpf || s.cxx || s.backing || s.failed) out.push_back(s);
  }
  return out;
}

// ---- Run ------------------------------------------------------------------------------

FilterChain::Run::Run(FilterChain& chain, const fuse::DecodedRequest& req, FilterOp op,
                      uint64_t nodeid)
    : chain_(chain), req_(req), op_(op), prog_(chain.program_of(nodeid)) {
  auto caller = req.caller();
  meta_.nodeid = nodeid;
  meta_.uid = caller.uid;
  meta_.gid = caller.gid;
  meta_.pid = caller.pid;
}

bpf::Invocation FilterChain::Run::invocation() const {
  bpf::Invocation inv;
  inv.pid_tgid = (uint64_t{meta_.pid} << 32) | meta_.pid;
  inv.uid_gid = (uint64_t{meta_.gid} << 32) | meta_.uid;
  return inv;
}

Verdict FilterChain::Run::run_bpf(bool post, std::initializer_list<void*> args) {
  if (prog_->android() != nullptr) return run_android(post, args);
  const bpf::Executable* exe = prog_->hook(op_, post);
  if (exe == nullptr) exe = prog_->default_filter();
  if (exe == nullptr) return Verdict::kContinue;
  chain_.counters_[static_cast<size_t>(op_)].bpf.fetch_add(1, std::memory_order_relaxed);
  uint64_t ctx[8] = {reinterpret_cast<uint64_t>(&meta_)};
  size_t n = 1;
  for (void* a : args) ctx[n++] = reinterpret_cast<uint64_t>(a);
  bpf::Invocation inv = invocation();
  auto r = exe->run(ctx, 8 * n, &inv);
  if (!r) {
    FUSEBPF_LOG(kWarn, "{}_{}: program stopped: {}", filter_op_name(op_),
                post ? "postfilter" : "prefilter", bpf::run_error_name(r.error()));
    return Verdict::error(Errno::kIo);
  }
  Verdict v = Verdict::from_bpf(*r);
  if (v == Verdict::kCallDefault && exe != prog_->default_filter() && prog_->default_filter()) {
    r = prog_->default_filter()->run(ctx, 8, &inv);
    v = r ? Verdict::from_bpf(*r) : Verdict::error(Errno::kIo);
  }
  return v == Verdict::kCallDefault ? Verdict::kContinue : v;
}

Verdict FilterChain::Run::run_user(bool post, std::initializer_list<void*> args) {
  UserFilter* user = chain_.user();
  if (user == nullptr) return Verdict::kContinue;
  chain_.counters_[static_cast<size_t>(op_)].cxx.fetch_add(1, std::memory_order_relaxed);
  void* a[8] = {&meta_};
  size_t n = 1;
  for (void* p : args) a[n++] = p;
  return info(op_).call[post](*user, a);
}

bool FilterChain::Run::fail(Verdict v) {
  if (!v.is_error()) return false;
  chain_.counters_[static_cast<size_t>(op_)].failed.fetch_add(1, std::memory_order_relaxed);
  int e = v.errno_value();
  failed_by_filter_ = true;
  error_ = (e > 0 && e < 4096) ? static_cast<Errno>(e) : Errno::kIo;
  return true;
}

FilterChain::Run::Step FilterChain::Run::pre(std::initializer_list<void*> args) {
  meta_.opcode = static_cast<uint32_t>(info(op_).opcode) | kFusePrefilter;
  Verdict v = Verdict::kContinue;
  if (prog_ != nullptr) {
    v = run_bpf(false, args);
    if (v == Verdict::kUserPrefilter) {
      v = run_user(false, args);
      if (v == Verdict::kUserPrefilter) v = Verdict::kContinue;
    }
  } else if (chain_.user() != nullptr) {
    v = run_user(false, args);
  }
  if (fail(v)) return Step::kFail;
  switch (v.value()) {
    case Verdict::kUser:
      if (chain_.user() == nullptr) {
        error_ = Errno::kNoSys;
        return Step::kFail;
      }
      // Ops that create nodes run the backing op instead of user_op(); then the C++
      // postfilter (flow() in filtered_ops.cc).
      post_ = PostMode::kUser;
      return Step::kUserOp;
    case Verdict::kPostfilter:
      post_ = prog_ != nullptr ? PostMode::kBpf : PostMode::kUser;
      break;
    case Verdict::kUserPostfilter:
      post_ = PostMode::kUser;
      break;
    default:
      post_ = PostMode::kNone;
  }
  chain_.counters_[static_cast<size_t>(op_)].backing.fetch_add(1, std::memory_order_relaxed);
  return Step::kBacking;
}

void FilterChain::Run::freeze_inputs(std::initializer_list<void*> args) const {
  uint32_t bit = 1;
  for (void* a : args) {
    if (info(op_).post_inputs & bit) static_cast<FuseBuffer*>(a)->flags |= kBufImmutable;
    bit <<= 1;
  }
}

FilterChain::Run::Step FilterChain::Run::user_op(std::initializer_list<void*> args) {
  freeze_inputs(args);
  meta_.opcode = static_cast<uint32_t>(info(op_).opcode);
  meta_.error_in = 0;
  return fail(run_user(true, args)) ? Step::kFail : Step::kBacking;
}

Errno FilterChain::Run::post(Errno backing_error, std::initializer_list<void*> args) {
  error_ = backing_error;
  if (post_ == PostMode::kNone) return error_;
  freeze_inputs(args);
  meta_.opcode = static_cast<uint32_t>(info(op_).opcode) | kFusePostfilter;
  meta_.error_in = static_cast<uint32_t>(-static_cast<int32_t>(backing_error));
  PostMode mode = post_;
  if (mode == PostMode::kBpf) {
    Verdict v = run_bpf(true, args);
    if (fail(v)) return error_;
    if (v == Verdict::kUserPostfilter) mode = PostMode::kUser;
  }
  if (mode == PostMode::kUser && fail(run_user(true, args))) return error_;
  // A postfilter may turn success into an error, never a backing failure into success.
  return backing_error;
}

}  // namespace fusebpf::filter
