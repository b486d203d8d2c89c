// The Android single-program form: loads `fuse/<name>` programs as filter tables and runs
// one for a hook by translating the struct_ops arguments to struct fuse_bpf_args and its
// bitmask return to a Verdict (src/filter/README.md, "Android single-program form").
//
// Memory invariant: every value pointer the program gets points at >= kArgBytes host bytes
// (a zero-padded scratch slot, or the buffer itself when it is read-only and that large), and
// the verifier context grants exactly kArgBytes, so no access can leave host memory. Edits
// are copied back from the slots with each argument's own rules (fuse_buffer writability).
#include "filter/internal/android_prog.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string>
#include <utility>

#include "base/log.h"

namespace fusebpf::filter {
namespace android {
namespace {

// ---- per-op layouts from filter_ops.def -------------------------------------------------

// The parameter names of a stringified filter_ops.def argument list, e.g.
// "(fuse_mkdir_in& in, FuseBuffer& name)" -> {"in", "name"}.
std::array<std::string_view, kMaxInArgs> param_names(std::string_view list) {
  std::array<std::string_view, kMaxInArgs> names{};
  auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  size_t n = 0, end = list.find_last_of(')');
  for (size_t pos = end; pos != std::string_view::npos && pos > 0 && n < kMaxInArgs;) {
    size_t stop = pos;
    while (stop > 0 && !ident(list[stop - 1])) --stop;  // skip ')' / ',' / spaces
    size_t start = stop;
    while (start > 0 && ident(list[start - 1])) --start;
    if (start == stop) break;
    names[n++] = list.substr(start, stop - start);
    pos = list.find_last_of(',', start);
  }
  std::reverse(names.begin(), names.begin() + n);
  return names;
}

template <typename T>
ArgSpec spec_of(std::string_view name) {
  using S = std::remove_cvref_t<T>;
  ArgSpec a;
  a.output = !std::is_const_v<std::remove_reference_t<T>>;
  if constexpr (std::is_same_v<S, FuseBuffer>) {
    if (name == "entries") {
      a.kind = ArgKind::kEntryBpfOut;
      a.size = sizeof(fuse_entry_bpf_out);
    } else {
      bool text = name == "path" || (name.size() >= 4 && name.substr(name.size() - 4) == "name");
      a.kind = text ? ArgKind::kString : ArgKind::kBytes;
    }
  } else {
    a.kind = ArgKind::kStruct;
    a.size = sizeof(S);
    static_assert(sizeof(S) <= kArgBytes, "a FUSE struct larger than an Android arg slot");
  }
  return a;
}

template <typename... A>
uint8_t fill(std::array<ArgSpec, kMaxInArgs>& out, std::string_view list,
             Verdict (UserFilter::*)(const FilterMeta&, A...)) {
  static_assert(sizeof...(A) <= kMaxInArgs);
  [[maybe_unused]] auto names = param_names(list);
  size_t i = 0;
  ((out[i] = spec_of<A>(names[i]), ++i), ...);
  return static_cast<uint8_t>(sizeof...(A));
}

const std::array<OpLayout, kFilterOpCount>& layouts() {
  static const auto* table = new std::array<OpLayout, kFilterOpCount>([] {
    std::array<OpLayout, kFilterOpCount> t{};
    size_t i = 0;
#define FILTER_OP(member, Op, pre_args, post_args)                            \
  t[i].npre = fill(t[i].pre, #pre_args, &UserFilter::member##_prefilter);     \
  t[i].npost = fill(t[i].post, #post_args, &UserFilter::member##_postfilter); \
  ++i;
#include "filter/filter_ops.def"
#undef FILTER_OP
    return t;
  }());
  return *table;
}

// ---- the verifier context -----------------------------------------------------------------

bpf::ContextField scalar(uint32_t offset, uint32_t size, std::string name) {
  bpf::ContextField f;
  f.offset = offset;
  f.size = size;
  f.name = std::move(name);
  return f;
}

void add_arg(bpf::ContextDescriptor& d, uint32_t offset, const std::string& name, bool rw) {
  d.fields.push_back(scalar(offset, 4, name + ".size"));
  bpf::ContextField v = scalar(offset + 8, 8, name + ".value");
  v.kind = bpf::FieldKind::kPtrToMem;
  v.pointee_size = kArgBytes;
  v.pointee_writable = rw;
  d.fields.push_back(v);
  d.fields.push_back(scalar(offset + 16, 8, name + ".end_offset"));
}

}  // namespace

const OpLayout& layout(FilterOp op) { return layouts()[static_cast<size_t>(op)]; }

const bpf::ContextDescriptor& context() {
  static const auto* ctx = new bpf::ContextDescriptor([] {
    bpf::ContextDescriptor d;
    d.name = "fuse_bpf_args";
    d.size = sizeof(fuse_bpf_args);
    d.fields.push_back(scalar(offsetof(fuse_bpf_args, nodeid), 8, "nodeid"));
    d.fields.push_back(scalar(offsetof(fuse_bpf_args, opcode), 4, "opcode"));
    d.fields.push_back(scalar(offsetof(fuse_bpf_args, error_in), 4, "error_in"));
    d.fields.push_back(scalar(offsetof(fuse_bpf_args, in_numargs), 4, "in_numargs"));
    d.fields.push_back(scalar(offsetof(fuse_bpf_args, out_numargs), 4, "out_numargs"));
    d.fields.push_back(scalar(offsetof(fuse_bpf_args, flags), 4, "flags"));
    for (uint32_t i = 0; i < kMaxInArgs; ++i) {
      add_arg(d, offsetof(fuse_bpf_args, in_args) + i * sizeof(fuse_bpf_in_arg),
              "in_args[" + std::to_string(i) + "]", false);
    }
    for (uint32_t i = 0; i < kMaxOutArgs; ++i) {
      add_arg(d, offsetof(fuse_bpf_args, out_args) + i * sizeof(fuse_bpf_arg),
              "out_args[" + std::to_string(i) + "]", true);
    }
    return d;
  }());
  return *ctx;
}

std::optional<std::string_view> table_name(std::string_view section) {
  constexpr std::string_view kPrefix = "fuse/";
  if (section.size() <= kPrefix.size() || section.substr(0, kPrefix.size()) != kPrefix) {
    return std::nullopt;
  }
  return section.substr(kPrefix.size());
}

namespace {

// ---- one invocation -----------------------------------------------------------------------

// The program's view of one hook call: the context plus one scratch slot per argument.
struct Frame {
  fuse_bpf_args args{};
  alignas(8) std::byte slot[kMaxInArgs][kArgBytes]{};

  // Makes slot i show host argument `arg`; returns the pointer the program gets (the
  // buffer itself when it is read-only and at least kArgBytes long).
  void* bind(size_t i, const ArgSpec& spec, void* arg, bool writable, uint32_t* size) {
    if (spec.kind == ArgKind::kStruct) {
      std::memcpy(slot[i], arg, spec.size);
      *size = spec.size;
      return slot[i];
    }
    if (spec.kind == ArgKind::kEntryBpfOut) {
      *size = spec.size;
      return slot[i];
    }
    const FuseBuffer& b = *static_cast<const FuseBuffer*>(arg);
    *size = b.size;
    if (!writable && b.size >= kArgBytes) return b.data;
    if (b.data != nullptr) std::memcpy(slot[i], b.data, std::min(b.size, kArgBytes));
    return slot[i];
  }
  void set_in(size_t i, void* value, uint32_t size) {
    args.in_args[i] = {size, value, static_cast<std::byte*>(value) + size};
  }
  void set_out(size_t i, void* value, uint32_t size) {
    args.out_args[i] = {size, value, static_cast<std::byte*>(value) + size};
  }
};

// Copies an edited name/path/byte buffer back into its fuse_buffer.
Errno commit_buffer(FuseBuffer& b, const std::byte* edited, bool text) {
  const uint32_t shown = std::min(b.size, kArgBytes);
  if (shown == 0 || std::memcmp(b.data, edited, shown) == 0) return Errno::kOk;
  uint32_t size = b.size;
  if (text) {
    size_t len = strnlen(reinterpret_cast<const char*>(edited), kArgBytes);
    if (len == kArgBytes && b.size <= kArgBytes) return Errno::kNameTooLong;
    if (len < kArgBytes) size = static_cast<uint32_t>(len + 1);  // else: a long path's prefix
  }
  std::byte* data = buffer_make_writable(b, size, true);
  if (data == nullptr) return Errno::kPerm;  // IMMUTABLE, or larger than max_size
  std::memcpy(data, edited, std::min(size, kArgBytes));
  return Errno::kOk;
}

// A lookup postfilter's fuse_entry_bpf_out as fusebpf entries (FUSE_ENTRY_REMOVE_*).
Errno commit_entry(FuseBuffer& entries, const fuse_entry_bpf_out& e) {
  if (e.backing_action > kActionReplace || e.bpf_action > kActionReplace) return Errno::kInval;
  // REPLACE carries a raw fd (backing_fd / bpf_fd): a user-space filter cannot own one.
  if (e.backing_action == kActionReplace || e.bpf_action == kActionReplace) return Errno::kNotSup;
  fuse_bpf_entry_out out[kMaxEntries]{};
  size_t n = 0;
  if (e.bpf_action == kActionRemove) out[n++].entry_type = kEntryRemoveBpf;
  if (e.backing_action == kActionRemove) out[n++].entry_type = kEntryRemoveBacking;
  if (n == 0) return Errno::kOk;
  auto w = buffer_writable(entries, sizeof out, false);
  if (w.empty()) return Errno::kIo;
  std::memcpy(w.data(), out, sizeof out);
  return Errno::kOk;
}

Errno commit(const ArgSpec& spec, void* arg, const std::byte* slot) {
  switch (spec.kind) {
    case ArgKind::kStruct:
      std::memcpy(arg, slot, spec.size);
      return Errno::kOk;
    case ArgKind::kEntryBpfOut: {
      fuse_entry_bpf_out e;
      std::memcpy(&e, slot, sizeof e);
      return commit_entry(*static_cast<FuseBuffer*>(arg), e);
    }
    default:
      return commit_buffer(*static_cast<FuseBuffer*>(arg), slot, spec.kind == ArgKind::kString);
  }
}

bool is_buffer(const ArgSpec& a) { return a.kind == ArgKind::kBytes || a.kind == ArgKind::kString; }

// Fills the frame for one stage. Prefilter: in_args = the inputs, out_args[0..npre) alias
// them, higher out slots are zeroed stand-ins for the outputs (not read back). Postfilter:
// in_args = inputs then outputs, out_args = the outputs (same memory).
void build(Frame& f, const OpLayout& l, bool post, void* const* host) {
  uint32_t nout = 0, size = 0;
  const ArgSpec* last_out = nullptr;
  for (size_t i = 0; i < l.npost; ++i) {
    if (!l.post[i].output) continue;
    ++nout;
    last_out = &l.post[i];
  }
  if (last_out != nullptr && is_buffer(*last_out)) f.args.flags |= kFlagOutArgVar;
  f.args.out_numargs = std::min<uint32_t>(std::max<uint32_t>(post ? 0 : l.npre, nout), kMaxOutArgs);
  if (!post) {
    f.args.in_numargs = l.npre;
    for (size_t i = 0; i < l.npre; ++i) {
      void* v = f.bind(i, l.pre[i], host[i], true, &size);
      f.set_in(i, v, size);
      f.set_out(i, v, size);
    }
    // out_args[j] stands for the j-th output (LOOKUP: out_args[1] = fuse_entry_bpf_out).
    for (size_t i = 0, j = 0; i < l.npost && j < f.args.out_numargs; ++i) {
      if (!l.post[i].output) continue;
      if (j >= l.npre) f.set_out(j, f.slot[j], is_buffer(l.post[i]) ? 0 : l.post[i].size);
      ++j;
    }
    return;
  }
  f.args.in_numargs = l.npost;
  for (size_t i = 0, k = 0; i < l.npost; ++i) {
    void* v = f.bind(i, l.post[i], host[i], l.post[i].output, &size);
    f.set_in(i, v, size);
    if (l.post[i].output && k < kMaxOutArgs) f.set_out(k++, v, size);
  }
}

Errno commit_all(const Frame& f, const OpLayout& l, bool post, void* const* host) {
  const auto& specs = post ? l.post : l.pre;
  const size_t n = post ? l.npost : l.npre;
  for (size_t i = 0; i < n; ++i) {
    if (post && !specs[i].output) continue;
    Errno e = commit(specs[i], host[i], f.slot[i]);
    if (e != Errno::kOk) return e;
  }
  return Errno::kOk;
}

}  // namespace
}  // namespace android

Result<void, std::string> FilterChain::load_android() {
  const std::string& path = config_.bpf_object;
  for (const bpf::RawProgram& p : object_->programs()) {
    auto name = android::table_name(p.section);
    if (!name) continue;
    auto exe = object_->load(p.name, android::context(), config_.engine, &filter_platform());
    if (!exe) {
      return fail(path + ": fuse program " + p.name + " (section " + p.section + ") rejected:\n" +
                  exe.error());
    }
    if (ops_by_name(*name) != nullptr) return fail(path + ": two filter tables named " + p.section);
    auto ops = std::make_unique<BpfOps>();
    ops->name = std::string(*name);
    ops->android_ = std::move(*exe);
    tables_.push_back(std::move(ops));
  }
  return {};
}

Verdict FilterChain::Run::run_android(bool post, std::initializer_list<void*> args) {
  chain_.counters_[static_cast<size_t>(op_)].bpf.fetch_add(1, std::memory_order_relaxed);
  const android::OpLayout& l = android::layout(op_);
  void* host[android::kMaxInArgs] = {};
  std::copy(args.begin(), args.end(), host);
  android::Frame f;
  f.args.nodeid = meta_.nodeid;
  f.args.opcode = meta_.opcode;
  f.args.error_in = meta_.error_in;
  android::build(f, l, post, host);
  bpf::Invocation inv = invocation();
  auto r = prog_->android()->run(&f.args, sizeof f.args, &inv);
  if (!r) {
    FUSEBPF_LOG(kWarn, "fuse/{} ({}): program stopped: {}", prog_->name, filter_op_name(op_),
                bpf::run_error_name(r.error()));
    return Verdict::error(Errno::kIo);
  }
  const Verdict v = Verdict::from_bpf(*r);
  if (v.is_error()) return v;
  if (Errno e = android::commit_all(f, l, post, host); e != Errno::kOk) {
    FUSEBPF_LOG(kWarn, "fuse/{} ({}): cannot apply the program's edits or actions: {}", prog_->name,
                filter_op_name(op_), errno_name(e));
    return Verdict::error(e);
  }
  const int32_t bits = v.value();
  if (post) return (bits & android::kUserFilter) ? Verdict::kUserPostfilter : Verdict::kContinue;
  if ((bits & android::kUserFilter) && chain_.user() != nullptr) {
    Verdict u = run_user(false, args);
    if (u.is_error()) return u;
  }
  // No BACKING bit: "the daemon does the op", i.e. the C++ filter when there is one.
  if (!(bits & android::kBacking) && chain_.user() != nullptr) return Verdict::kUser;
  return (bits & android::kPostFilter) ? Verdict::kPostfilter : Verdict::kContinue;
}

}  // namespace fusebpf::filter
