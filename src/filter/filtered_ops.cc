// StackedFs operations through the filter chain: each op copies its inputs into the structs
// and fuse_buffers the filters see, runs FilterChain::Run::pre, does the backing op with
// whatever the prefilter left in them, runs Run::post and replies with what the
// postfilters left in the outputs. Exceptions (node ids, file handles) are listed in
// src/filter/README.md with their reasons.
#include "filter/internal/filtered_ops.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "base/log.h"
#include "filter/chain.h"
#include "filter/internal/common.h"

namespace fusebpf::filter {
namespace {

using Run = FilterChain::Run;
using Step = Run::Step;
constexpr int32_t kNameFlags = kBufVariableSize | kBufMustAllocate;

Errno error_of(const Result<void>& r) { return r ? Errno::kOk : r.error(); }
template <typename T>
Errno error_of(const Result<T>& r) {
  return r ? Errno::kOk : r.error();
}

// Whether names and attributes answered under `prog` must not be cached by the kernel
// (src/filter/README.md "Caching rule"): the filters decide per caller, or they decide by
// maps and the kernel cannot be told when those change.
bool uncached(const StackedFs& fs, const FilterChain& chain, const BpfOps* prog) {
  const UserFilter* user = chain.user();
  if (user == nullptr && (prog == nullptr || !prog->filters_names())) return false;
  if (!fs.filtered_names_cacheable() || chain.never_cache()) return true;
  return (user != nullptr && user->decisions_depend_on_caller()) ||
         (prog != nullptr && prog->per_caller());
}

bool data_filtered(const FilterChain& chain, const BpfOps* prog) {
  return (chain.user() != nullptr && chain.user()->wants_data()) ||
         (prog != nullptr && prog->filters_data());
}

// The generic shape: prefilter, backing (unless USER), postfilter. `backing` returns the
// backing op's Errno. Returns the op's result; kUserOp runs the C++ postfilter as the op,
// except for ops that create nodes (allow_user = false), where node ids must come from the
// backing fs: there USER means "backing op, then the C++ postfilter".
template <typename Backing>
Errno flow(Run& run, std::initializer_list<void*> pre, std::initializer_list<void*> post,
           Backing backing, bool allow_user = true) {
  Step step = run.pre(pre);
  if (step == Step::kFail) return run.error();
  if (step == Step::kUserOp && allow_user) {
    return run.user_op(post) == Step::kFail ? run.error() : Errno::kOk;
  }
  return run.post(backing(), post);
}

void zero_timeouts(abi::fuse_entry_out& out) {
  out.entry_valid = out.attr_valid = 0;
  out.entry_valid_nsec = out.attr_valid_nsec = 0;
}

// The association a lookup postfilter's entries ask for (src/filter/README.md "Association").
struct EntryActions {
  Errno error = Errno::kOk;
  std::optional<const BpfOps*> program;  // set (or nullptr: remove) the child's program
  std::optional<std::string_view> redirect;
  bool remove_backing = false;
};

EntryActions parse_entries(const FilterChain& chain, const FuseBuffer& buf) {
  EntryActions a;
  auto bytes = buffer_view(buf);
  for (size_t i = 0; i < kMaxEntries && (i + 1) * sizeof(fuse_bpf_entry_out) <= bytes.size(); ++i) {
    fuse_bpf_entry_out e;
    std::memcpy(&e, bytes.data() + i * sizeof e, sizeof e);
    if (e.entry_type == 0) break;
    bool backing = e.entry_type == kEntryBacking || e.entry_type == kEntryRemoveBacking;
    bool bpf = e.entry_type == kEntryBpf || e.entry_type == kEntryRemoveBpf;
    if (e.unused != 0 || (!backing && !bpf) || (backing && (a.redirect || a.remove_backing)) ||
        (bpf && a.program)) {
      a.error = Errno::kInval;  // malformed, or two actions of one kind
      return a;
    }
    if (e.entry_type == kEntryBpf) {
      a.program = chain.ops_by_name(std::string_view(e.name, strnlen(e.name, 16)));
      if (*a.program == nullptr) a.error = Errno::kInval;
    } else if (e.entry_type == kEntryRemoveBpf) {
      a.program = nullptr;
    } else if (e.entry_type == kEntryRemoveBacking) {
      a.remove_backing = true;
    } else {
      // A path at [fd, fd + unused2) of the buffer, cut at its first NUL. Raw fds: refused.
      if (e.fd < kEntryPathOffset || e.unused2 == 0 || e.fd > bytes.size() ||
          e.unused2 > bytes.size() - e.fd) {
        a.error = e.unused2 == 0 ? Errno::kNotSup : Errno::kInval;
        return a;
      }
      std::string_view p(reinterpret_cast<const char*>(bytes.data() + e.fd), e.unused2);
      a.redirect = p.substr(0, p.find('\0'));
    }
  }
  return a;
}

}  // namespace

// ---- names --------------------------------------------------------------------------------

void FilteredOps::lookup(StackedFs& fs, const Req<O::kLookup>& req, Slot reply) {
  FilterChain& chain = *fs.chain_;
  Run run(chain, req.decoded(), FilterOp::k_lookup);
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kNameFlags);
  abi::fuse_entry_out out{};
  fuse_bpf_entry_out entries[kMaxEntries]{};
  HostBuffer ent(entries, 0, sizeof entries, kEntriesMaxSize, kBufVariableSize);
  backing::Entry entry;
  Errno backing_err = Errno::kOk;
  Errno err = flow(
      run, {&name.buf}, {&name.buf, &out, &ent.buf},
      [&] {
        StackedFs::CallerCreds creds(fs, req.decoded());
        auto e = fs.backing_.lookup(req.nodeid(), name.text());
        if (!e) return backing_err = e.error();
        entry = *e;
        fs.fill_entry(out, entry);
        if (uncached(fs, chain, run.program())) zero_timeouts(out);
        return Errno::kOk;
      },
      false);
  // Association: inherit the parent's program unless the postfilter's entries say otherwise.
  // A redirect also answers a name the backing dir does not have (not a filter's failure).
  EntryActions act;
  if (err == Errno::kOk || (!run.failed_by_filter() && err == backing_err)) {
    act = parse_entries(chain, ent.buf);
    if (err != Errno::kOk && !act.redirect) act.error = err;
  }
  if (act.error == Errno::kOk && act.remove_backing) act.error = Errno::kNoEnt;
  if (act.error == Errno::kOk && act.redirect) {
    StackedFs::CallerCreds creds(fs, req.decoded());
    auto target =
        chain.redirect_root() < 0
            ? Result<backing::Entry>(fail(Errno::kNotSup))
            : fs.backing_.lookup_at(chain.redirect_root(), *act.redirect, kRedirectResolve);
    if (entry.node != 0) fs.backing_.forget(entry.node, 1);
    entry = target ? *target : backing::Entry{};
    act.error = target ? Errno::kOk : target.error();
    if (target) {
      fs.fill_entry(out, entry);  // the child is the target now
      if (uncached(fs, chain, run.program())) zero_timeouts(out);
    }
  }
  if (err == Errno::kOk || act.redirect) err = act.error;
  if (err != Errno::kOk) {
    if (entry.node != 0) fs.backing_.forget(entry.node, 1);
    return reply.error(err);
  }
  const BpfOps* child_prog = act.program ? *act.program : run.program();
  if (chain.program_of(entry.node) != child_prog) chain.set_program(entry.node, child_prog);
  out.nodeid = entry.node;  // node ids belong to the backing table
  out.generation = entry.generation;
  filter_entry_attr(fs, req.decoded(), entry.node, out);
  reply.send(out);
}

void FilteredOps::filter_entry_attr(StackedFs& fs, const fuse::DecodedRequest& d, uint64_t node,
                                    abi::fuse_entry_out& out) {
  FilterChain& chain = *fs.chain_;
  const BpfOps* prog = chain.program_of(node);
  if (chain.user() == nullptr && (prog == nullptr || (!prog->has(FilterOp::k_getattr, false) &&
                                                      !prog->has(FilterOp::k_getattr, true)))) {
    return;
  }
  Run run(chain, d, FilterOp::k_getattr, node);
  fuse_getattr_in in{};
  abi::fuse_attr_out attr{};
  attr.attr = out.attr;
  attr.attr_valid = out.attr_valid;
  attr.attr_valid_nsec = out.attr_valid_nsec;
  if (run.pre({&in}) != Step::kBacking || run.post(Errno::kOk, {&in, &attr}) != Errno::kOk) {
    out.attr_valid = out.attr_valid_nsec = 0;
    return;
  }
  out.attr = attr.attr;
  out.attr_valid = attr.attr_valid;
  out.attr_valid_nsec = attr.attr_valid_nsec;
}

bool FilteredOps::plus_entry_passes(StackedFs& fs, const fuse::DecodedRequest& d,
                                    std::string_view name, abi::fuse_entry_out& out) {
  FilterChain& chain = *fs.chain_;
  Run run(chain, d, FilterOp::k_lookup);
  HostBuffer nbuf;
  HostBuffer::name(nbuf, name, NAME_MAX + 1, kNameFlags);
  if (run.pre({&nbuf.buf}) != Step::kBacking || nbuf.text() != name) return false;
  fuse_bpf_entry_out entries[kMaxEntries]{};
  HostBuffer ent(entries, 0, sizeof entries, kEntriesMaxSize, kBufVariableSize);
  if (run.post(Errno::kOk, {&nbuf.buf, &out, &ent.buf}) != Errno::kOk) return false;
  EntryActions act = parse_entries(chain, ent.buf);
  return act.error == Errno::kOk && !act.program && !act.redirect && !act.remove_backing;
}

void FilteredOps::getattr(StackedFs& fs, const Req<O::kGetattr>& req, Slot reply) {
  FilterChain& chain = *fs.chain_;
  Run run(chain, req.decoded(), FilterOp::k_getattr);
  fuse_getattr_in in = req.in();
  abi::fuse_attr_out out{};
  Errno err = flow(run, {&in}, {&in, &out}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    auto st = (in.getattr_flags & abi::kGetattrFh) ? fs.backing_.getattr_handle(in.fh)
                                                   : fs.backing_.getattr(req.nodeid());
    if (!st) return st.error();
    if (!uncached(fs, chain, run.program())) {
      split_ns(fs.cache_.attr_timeout_ns, out.attr_valid, out.attr_valid_nsec);
    }
    to_fuse_attr(*st, out.attr);
    return Errno::kOk;
  });
  err == Errno::kOk ? reply.send(out) : reply.error(err);
}

void FilteredOps::statx(StackedFs& fs, const Req<O::kStatx>& req, Slot reply) {
  // Attributes are filtered through GETATTR only: ENOSYS makes the kernel use GETATTR from
  // now on (it remembers that STATX is unsupported).
  reply.error(Errno::kNoSys);
}

void FilteredOps::setattr(StackedFs& fs, const Req<O::kSetattr>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_setattr);
  fuse_setattr_in in = req.in();
  abi::fuse_attr_out out{};
  Errno err = flow(run, {&in}, {&in, &out}, [&] {
    backing::SetAttr attr = to_set_attr(in);
    Result<struct stat> st = fail(Errno::kIo);
    {
      StackedFs::CallerCreds creds(fs, req.decoded());
      st = fs.backing_.setattr(req.nodeid(), attr);
    }
    if (st && (in.valid & abi::kFattrKillSuidgid) && !(in.valid & abi::kFattrMode)) {
      fs.kill_suid_sgid(req.nodeid(), std::nullopt);
      st = fs.backing_.getattr(req.nodeid());
    }
    if (!st) return st.error();
    to_fuse_attr(*st, out.attr);
    return Errno::kOk;
  });
  err == Errno::kOk ? reply.send(out) : reply.error(err);
}

void FilteredOps::readlink(StackedFs& fs, const Req<O::kReadlink>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_get_link);
  HostBuffer empty(const_cast<char*>(""), 0, 0, 0, kBufImmutable);
  std::string target;
  HostBuffer tbuf;
  Errno err = flow(run, {&empty.buf}, {&tbuf.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    auto t = fs.backing_.readlink(req.nodeid());
    if (!t) return t.error();
    target = std::move(*t);
    HostBuffer::name(tbuf, target, PATH_MAX, kNameFlags);
    return Errno::kOk;
  });
  if (err != Errno::kOk) return reply.error(err);
  reply.send(string_bytes(tbuf.text()));
}

namespace {
// A new node inherits the program of its parent; its entry's timeouts follow the caching rule.
void adopt_entry(StackedFs& fs, FilterChain& chain, const Run& run, const backing::Entry& entry,
                 abi::fuse_entry_out& out) {
  if (uncached(fs, chain, run.program())) zero_timeouts(out);
  if (chain.program_of(entry.node) != run.program()) chain.set_program(entry.node, run.program());
}
}  // namespace

// A postfilter that fails the op after the backing fs created the node drops its lookup.
#define FUSEBPF_ENTRY_REPLY()                               \
  if (err != Errno::kOk) {                                  \
    if (entry.node != 0) fs.backing_.forget(entry.node, 1); \
    return reply.error(err);                                \
  }                                                         \
  abi::fuse_entry_out out{};                                \
  fs.fill_entry(out, entry);                                \
  adopt_entry(fs, *fs.chain_, run, entry, out);             \
  filter_entry_attr(fs, req.decoded(), entry.node, out);    \
  reply.send(out)

void FilteredOps::symlink(StackedFs& fs, const Req<O::kSymlink>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_symlink);
  HostBuffer name, path;
  HostBuffer::name(name, req.name(0), NAME_MAX + 1, kBufImmutable);
  HostBuffer::name(path, req.name(1), PATH_MAX, kNameFlags);
  backing::Entry entry;
  Errno err = flow(
      run, {&name.buf, &path.buf}, {&name.buf, &path.buf},
      [&] {
        StackedFs::CallerCreds creds(fs, req.decoded());
        auto e = fs.backing_.symlink(req.nodeid(), name.text(), path.text());
        if (e) entry = *e;
        return error_of(e);
      },
      false);
  FUSEBPF_ENTRY_REPLY();
}

void FilteredOps::mknod(StackedFs& fs, const Req<O::kMknod>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_mknod);
  fuse_mknod_in in = req.in();
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kBufImmutable);
  backing::Entry entry;
  Errno err = flow(
      run, {&in, &name.buf}, {&in, &name.buf},
      [&] {
        StackedFs::CallerCreds creds(fs, req.decoded());
        auto e = fs.backing_.mknod(req.nodeid(), name.text(), in.mode, static_cast<dev_t>(in.rdev),
                                   fs.request_umask(in.umask));
        if (e) entry = *e;
        return error_of(e);
      },
      false);
  FUSEBPF_ENTRY_REPLY();
}

void FilteredOps::mkdir(StackedFs& fs, const Req<O::kMkdir>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_mkdir);
  fuse_mkdir_in in = req.in();
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kBufImmutable);
  backing::Entry entry;
  Errno err = flow(
      run, {&in, &name.buf}, {&in, &name.buf},
      [&] {
        StackedFs::CallerCreds creds(fs, req.decoded());
        auto e = fs.backing_.mkdir(req.nodeid(), name.text(), in.mode, fs.request_umask(in.umask));
        if (e) entry = *e;
        return error_of(e);
      },
      false);
  FUSEBPF_ENTRY_REPLY();
}

void FilteredOps::link(StackedFs& fs, const Req<O::kLink>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_link);
  fuse_link_in in = req.in();
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kNameFlags);
  backing::Entry entry;
  Errno err = flow(
      run, {&in, &name.buf}, {&in, &name.buf},
      [&] {
        StackedFs::CallerCreds creds(fs, req.decoded());
        auto e = fs.backing_.link(in.oldnodeid, req.nodeid(), name.text());
        if (e) entry = *e;
        return error_of(e);
      },
      false);
  FUSEBPF_ENTRY_REPLY();
}

void FilteredOps::unlink(StackedFs& fs, const Req<O::kUnlink>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_unlink);
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kBufImmutable);
  Errno err = flow(run, {&name.buf}, {&name.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(fs.backing_.unlink(req.nodeid(), name.text()));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::rmdir(StackedFs& fs, const Req<O::kRmdir>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_rmdir);
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kBufImmutable);
  Errno err = flow(run, {&name.buf}, {&name.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(fs.backing_.rmdir(req.nodeid(), name.text()));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::rename(StackedFs& fs, const Req<O::kRename>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_rename);
  fuse_rename_in in = req.in();
  HostBuffer from, to;
  HostBuffer::name(from, req.name(0), NAME_MAX + 1, kBufImmutable);
  HostBuffer::name(to, req.name(1), NAME_MAX + 1, kBufImmutable);
  Errno err = flow(run, {&in, &from.buf, &to.buf}, {&in, &from.buf, &to.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(fs.backing_.rename(req.nodeid(), from.text(), in.newdir, to.text(), 0));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::rename2(StackedFs& fs, const Req<O::kRename2>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_rename2);
  fuse_rename2_in in = req.in();
  HostBuffer from, to;
  HostBuffer::name(from, req.name(0), NAME_MAX + 1, kBufImmutable);
  HostBuffer::name(to, req.name(1), NAME_MAX + 1, kBufImmutable);
  Errno err = flow(run, {&in, &from.buf, &to.buf}, {&in, &from.buf, &to.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(fs.backing_.rename(req.nodeid(), from.text(), in.newdir, to.text(), in.flags));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

// ---- files --------------------------------------------------------------------------------

void FilteredOps::reply_open(StackedFs& fs, Slot& reply, abi::fuse_open_out& out, uint64_t nodeid,
                             int flags, bool is_dir, bool data_filtered) {
  // Handles and backing ids belong to the daemon: the postfilter's edits of fh/backing_id are
  // not used, its open_flags are (except the passthrough bit, which we decide).
  out.open_flags &= ~abi::kFopenPassthrough;
  out.backing_id = 0;
  if (is_dir) return reply.send(out);
  if (data_filtered) {
    // Data must reach the filters on every read and write: no passthrough, no page cache.
    out.open_flags |= abi::kFopenDirectIo;
    out.open_flags &= ~abi::kFopenKeepCache;
  } else if (fs.passthrough_.load()) {
    fs.apply_passthrough(out, nodeid, out.fh, flags);
  }
  reply.send(out);
}

void FilteredOps::open(StackedFs& fs, const Req<O::kOpen>& req, Slot reply) {
  FilterChain& chain = *fs.chain_;
  Run run(chain, req.decoded(), FilterOp::k_open);
  fuse_open_in in = req.in();
  abi::fuse_open_out out{};
  backing::HandleId handle = 0;
  Errno err = flow(
      run, {&in}, {&in, &out},
      [&] {
        Result<backing::HandleId> h = fail(Errno::kIo);
        {
          StackedFs::CallerCreds creds(fs, req.decoded());
          h = fs.backing_.open(req.nodeid(), static_cast<int>(in.flags));
        }
        if (!h) return h.error();
        handle = *h;
        if (in.open_flags & abi::kOpenKillSuidgid) fs.kill_suid_sgid(req.nodeid(), handle);
        out.fh = handle;
        if (fs.cache_.keep_cache) out.open_flags |= abi::kFopenKeepCache;
        return Errno::kOk;
      },
      false);
  if (err != Errno::kOk) {
    if (handle != 0) fs.backing_.release(handle);
    return reply.error(err);
  }
  out.fh = handle;
  reply_open(fs, reply, out, req.nodeid(), static_cast<int>(in.flags), false,
             data_filtered(chain, run.program()));
}

void FilteredOps::create(StackedFs& fs, const Req<O::kCreate>& req, Slot reply) {
  FilterChain& chain = *fs.chain_;
  Run run(chain, req.decoded(), FilterOp::k_create_open);
  fuse_create_in in = req.in();
  HostBuffer name;
  HostBuffer::name(name, req.name(), NAME_MAX + 1, kBufImmutable);
  struct {
    abi::fuse_entry_out entry;
    abi::fuse_open_out open;
  } out{};
  backing::Backing::Created created;
  Errno err = flow(
      run, {&in, &name.buf}, {&in, &name.buf, &out.entry, &out.open},
      [&] {
        Result<backing::Backing::Created> c = fail(Errno::kIo);
        {
          StackedFs::CallerCreds creds(fs, req.decoded());
          c = fs.backing_.create(req.nodeid(), name.text(), static_cast<int>(in.flags), in.mode,
                                 fs.request_umask(in.umask));
        }
        if (!c) return c.error();
        created = *c;
        fs.fill_entry(out.entry, created.entry);
        if (uncached(fs, chain, run.program())) zero_timeouts(out.entry);
        out.open.fh = created.handle;
        return Errno::kOk;
      },
      false);
  if (err != Errno::kOk) {
    if (created.entry.node != 0) {
      fs.backing_.release(created.handle);
      fs.backing_.forget(created.entry.node, 1);
    }
    return reply.error(err);
  }
  out.entry.nodeid = created.entry.node;
  out.entry.generation = created.entry.generation;
  out.open.fh = created.handle;
  if (chain.program_of(created.entry.node) != run.program()) {
    chain.set_program(created.entry.node, run.program());
  }
  filter_entry_attr(fs, req.decoded(), created.entry.node, out.entry);
  // reply_open sends only the open part; build the pair here.
  abi::fuse_open_out& o = out.open;
  o.open_flags &= ~abi::kFopenPassthrough;
  o.backing_id = 0;
  if (data_filtered(chain, run.program())) {
    o.open_flags = (o.open_flags | abi::kFopenDirectIo) & ~abi::kFopenKeepCache;
  } else if (fs.passthrough_.load()) {
    fs.apply_passthrough(o, created.entry.node, created.handle, static_cast<int>(in.flags));
  }
  reply.send(out);
}

void FilteredOps::tmpfile(StackedFs& fs, const Req<O::kTmpfile>& req, Slot reply) {
  // O_TMPFILE would bypass the create filters (FUSE-BPF has no tmpfile op): unsupported.
  reply.error(Errno::kNotSup);
}

void FilteredOps::read(StackedFs& fs, const Req<O::kRead>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_read_iter);
  fuse_read_in in = req.in();
  fuse_read_iter_out out{};
  thread_local std::vector<std::byte> buffer;
  HostBuffer data;
  Errno err = flow(run, {&in}, {&in, &out, &data.buf}, [&] {
    if (buffer.size() < in.size) buffer.resize(in.size);
    auto n =
        fs.backing_.read(in.fh, std::span(buffer.data(), in.size), static_cast<off_t>(in.offset));
    if (!n) return n.error();
    out.ret = *n;
    data.buf =
        FuseBuffer{buffer.data(), static_cast<uint32_t>(*n), in.size, in.size, kBufVariableSize};
    return Errno::kOk;
  });
  if (err != Errno::kOk) return reply.error(err);
  // The data the postfilter left, cut to the byte count it reports.
  reply.send(data.bytes().first(std::min<uint64_t>(data.buf.size, out.ret)));
}

void FilteredOps::write(StackedFs& fs, const Req<O::kWrite>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_write_iter);
  fuse_write_in in = req.in();
  auto payload = req.payload().first(std::min<size_t>(in.size, req.payload().size()));
  HostBuffer data(const_cast<std::byte*>(payload.data()), static_cast<uint32_t>(payload.size()),
                  static_cast<uint32_t>(payload.size()), 1u << 20,
                  kBufVariableSize | kBufMustAllocate);
  fuse_write_iter_out out{};
  Errno err = flow(run, {&in, &data.buf}, {&in, &out}, [&] {
    auto n = fs.backing_.write(in.fh, data.bytes(), static_cast<off_t>(in.offset),
                               (in.flags & O_APPEND) != 0);
    if (!n) return n.error();
    if (in.write_flags & abi::kWriteKillSuidgid) fs.kill_suid_sgid(req.nodeid(), in.fh);
    // The caller wrote in.size bytes; report those as written when a prefilter reshaped them.
    out.ret = *n == data.buf.size ? req.in().size : *n;
    return Errno::kOk;
  });
  if (err != Errno::kOk) return reply.error(err);
  abi::fuse_write_out w{static_cast<uint32_t>(std::min<uint64_t>(out.ret, UINT32_MAX)), 0};
  reply.send(w);
}

void FilteredOps::flush(StackedFs& fs, const Req<O::kFlush>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_flush);
  fuse_flush_in in = req.in();
  Errno err =
      flow(run, {&in}, {&in}, [&] { return error_of(fs.backing_.flush(in.fh, in.lock_owner)); });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::release(StackedFs& fs, const Req<O::kRelease>& req, Slot reply) {
  // Filters see releases but cannot keep a handle open: the backing release always happens.
  Run run(*fs.chain_, req.decoded(), FilterOp::k_release);
  fuse_release_in in = req.in();
  (void)flow(run, {&in}, {&in}, [&] {
    const auto& orig = req.in();
    if (orig.release_flags & abi::kReleaseFlockUnlock) (void)fs.backing_.flock(orig.fh, LOCK_UN);
    fs.passthrough_release(orig.fh);
    fs.backing_.release(orig.fh);
    return Errno::kOk;
  });
  reply.ok();
}

void FilteredOps::fsync(StackedFs& fs, const Req<O::kFsync>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_fsync);
  fuse_fsync_in in = req.in();
  Errno err = flow(run, {&in}, {&in}, [&] {
    return error_of(fs.backing_.fsync(in.fh, in.fsync_flags & abi::kFsyncFdatasync));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::fallocate(StackedFs& fs, const Req<O::kFallocate>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_file_fallocate);
  fuse_fallocate_in in = req.in();
  Errno err = flow(run, {&in}, {&in}, [&] {
    return error_of(fs.backing_.fallocate(in.fh, static_cast<int>(in.mode),
                                          static_cast<off_t>(in.offset),
                                          static_cast<off_t>(in.length)));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::lseek(StackedFs& fs, const Req<O::kLseek>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_lseek);
  fuse_lseek_in in = req.in();
  fuse_lseek_out out{};
  Errno err = flow(run, {&in}, {&in, &out}, [&] {
    auto off = fs.backing_.lseek(in.fh, static_cast<off_t>(in.offset), static_cast<int>(in.whence));
    if (!off) return off.error();
    out.offset = static_cast<uint64_t>(*off);
    return Errno::kOk;
  });
  err == Errno::kOk ? reply.send(out) : reply.error(err);
}

void FilteredOps::copy_file_range(StackedFs& fs, const Req<O::kCopyFileRange>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_copy_file_range);
  fuse_copy_file_range_in in = req.in();
  fuse_write_out out{};
  Errno err = flow(run, {&in}, {&in, &out}, [&] {
    auto n = fs.backing_.copy_file_range(in.fh_in, static_cast<off_t>(in.off_in), in.fh_out,
                                         static_cast<off_t>(in.off_out), in.len,
                                         static_cast<unsigned>(in.flags));
    if (!n) return n.error();
    out.size = static_cast<uint32_t>(std::min<size_t>(*n, UINT32_MAX));
    return Errno::kOk;
  });
  err == Errno::kOk ? reply.send(out) : reply.error(err);
}

// ---- directories --------------------------------------------------------------------------

void FilteredOps::opendir(StackedFs& fs, const Req<O::kOpendir>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_opendir);
  fuse_open_in in = req.in();
  abi::fuse_open_out out{};
  backing::HandleId handle = 0;
  Errno err = flow(
      run, {&in}, {&in, &out},
      [&] {
        StackedFs::CallerCreds creds(fs, req.decoded());
        auto h = fs.backing_.opendir(req.nodeid(), static_cast<int>(in.flags));
        if (!h) return h.error();
        handle = *h;
        out.fh = handle;
        return Errno::kOk;
      },
      false);
  if (err != Errno::kOk) {
    if (handle != 0) fs.backing_.releasedir(handle);
    return reply.error(err);
  }
  out.fh = handle;
  // Filtered listings are never cached (cache_dir off); the kernel re-reads on each opendir.
  out.open_flags &= ~(abi::kFopenCacheDir | abi::kFopenKeepCache);
  reply_open(fs, reply, out, req.nodeid(), 0, true, false);
}

void FilteredOps::readdir(StackedFs& fs, const Req<O::kReaddir>& req, Slot reply) {
  readdir_common(fs, req.decoded(), req.in(), false, std::move(reply));
}

void FilteredOps::readdirplus(StackedFs& fs, const Req<O::kReaddirplus>& req, Slot reply) {
  readdir_common(fs, req.decoded(), req.in(), true, std::move(reply));
}

namespace {

// One backing chunk collected for the readdir filters: packed fuse_dirents plus, for
// READDIRPLUS, the entry of each name (node 0 when it could not be looked up).
struct DirChunk {
  std::vector<std::byte> dirents;
  size_t used = 0;
  std::unordered_map<std::string, backing::Entry> entries;
  uint64_t last_offset = 0;
  size_t count = 0;

  bool add(const backing::DirEntry& e) {
    size_t need = abi::dirent_size(e.name.size());
    if (used + need > dirents.size()) return false;
    std::memset(dirents.data() + used, 0, need);
    abi::fuse_dirent d{e.ino, e.offset, static_cast<uint32_t>(e.name.size()), e.type};
    std::memcpy(dirents.data() + used, &d, sizeof d);
    std::memcpy(dirents.data() + used + sizeof d, e.name.data(), e.name.size());
    used += need;
    last_offset = e.offset;
    ++count;
    return true;
  }
};

// Calls fn(dirent, name) for each well-formed record of a (filter-edited) dirent buffer.
template <typename Fn>
void for_each_dirent(std::span<const std::byte> buf, Fn fn) {
  size_t pos = 0;
  while (pos + sizeof(abi::fuse_dirent) <= buf.size()) {
    abi::fuse_dirent d;
    std::memcpy(&d, buf.data() + pos, sizeof d);
    if (d.namelen == 0 || d.namelen > NAME_MAX) break;
    size_t rec = abi::dirent_size(d.namelen);
    if (pos + sizeof d + d.namelen > buf.size()) break;
    std::string_view name(reinterpret_cast<const char*>(buf.data() + pos + sizeof d), d.namelen);
    if (!fn(d, name)) break;
    pos += rec;
  }
}

}  // namespace

void FilteredOps::readdir_common(StackedFs& fs, const fuse::DecodedRequest& dreq,
                                 const abi::fuse_read_in& in0, bool plus, Slot reply) {
  FilterChain& chain = *fs.chain_;
  Run run(chain, dreq, FilterOp::k_readdir);
  fuse_read_in in = in0;
  Step step = run.pre({&in});
  if (step == Step::kFail) return reply.error(run.error());
  auto out_buf = scratch(in0.size);
  size_t out_used = 0;
  uint64_t offset = in.offset;
  std::optional<StackedFs::CallerCreds> creds;
  if (plus) creds.emplace(fs, dreq);
  // A filter may drop a whole chunk: keep reading until something is left or the end.
  for (int round = 0; round < 1024 && out_used == 0; ++round) {
    DirChunk chunk;
    chunk.dirents.resize(in.size);
    size_t plus_used = 0;
    Result<void> done;
    if (plus) {
      done = fs.backing_.readdirplus(in.fh, offset,
                                     [&](const backing::DirEntry& e, const backing::Entry& entry) {
                                       plus_used += abi::direntplus_size(e.name.size());
                                       if (plus_used > in0.size || !chunk.add(e)) return false;
                                       chunk.entries.emplace(std::string(e.name), entry);
                                       return true;
                                     });
    } else {
      done = fs.backing_.readdir(in.fh, offset,
                                 [&](const backing::DirEntry& e) { return chunk.add(e); });
    }
    if (!done && chunk.count == 0) return reply.error(done.error());
    if (chunk.count == 0) break;  // end of directory
    fuse_read_out rout{chunk.last_offset, 0, 0};
    HostBuffer buf(chunk.dirents.data(), static_cast<uint32_t>(chunk.used),
                   static_cast<uint32_t>(chunk.dirents.size()), in.size, kBufVariableSize);
    Errno err = run.post(Errno::kOk, {&in, &rout, &buf.buf});
    if (err != Errno::kOk) {
      for (auto& [n, e] : chunk.entries)
        if (e.node) fs.backing_.forget(e.node, 1);
      return reply.error(err);
    }
    const bool no_cache = uncached(fs, chain, run.program());
    // Children whose lookup is filtered run the lookup filters here; those the filters do
    // not simply accept (they may fail, rename, redirect or pick a program) are sent with
    // nodeid 0, so the kernel sends a LOOKUP that runs the filters in full.
    const BpfOps* prog = run.program();
    const bool lookup_filtered =
        chain.user() != nullptr || (prog != nullptr && (prog->has(FilterOp::k_lookup, false) ||
                                                        prog->has(FilterOp::k_lookup, true)));
    for_each_dirent(buf.bytes(), [&](const abi::fuse_dirent& d, std::string_view name) {
      size_t need = plus ? abi::direntplus_size(name.size()) : abi::dirent_size(name.size());
      if (out_used + need > out_buf.size()) return false;
      std::memset(out_buf.data() + out_used, 0, need);
      size_t at = out_used;
      if (plus) {
        abi::fuse_direntplus p{};
        auto it = chunk.entries.find(std::string(name));
        if (it != chunk.entries.end() && it->second.node != 0) {
          fs.fill_entry(p.entry_out, it->second);
          if (no_cache) zero_timeouts(p.entry_out);
          if (!lookup_filtered || plus_entry_passes(fs, dreq, name, p.entry_out)) {
            if (chain.program_of(it->second.node) != run.program())
              chain.set_program(it->second.node, run.program());
            filter_entry_attr(fs, dreq, it->second.node, p.entry_out);
            chunk.entries.erase(it);  // its lookup count now belongs to the kernel
          } else {
            p.entry_out = {};
          }
        }
        p.dirent = d;
        std::memcpy(out_buf.data() + at, &p, sizeof p);
        at += sizeof p;
      } else {
        std::memcpy(out_buf.data() + at, &d, sizeof d);
        at += sizeof d;
      }
      std::memcpy(out_buf.data() + at, name.data(), name.size());
      out_used += need;
      return true;
    });
    for (auto& [n, e] : chunk.entries)  // not sent (filtered out or no room)
      if (e.node) fs.backing_.forget(e.node, 1);
    offset = rout.again ? rout.offset : chunk.last_offset;
    if (out_used == 0 && !rout.again && chunk.count == 0) break;
  }
  reply.send(out_buf.first(out_used));
}

void FilteredOps::releasedir(StackedFs& fs, const Req<O::kReleasedir>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_releasedir);
  fuse_release_in in = req.in();
  (void)flow(run, {&in}, {&in}, [&] {
    fs.backing_.releasedir(req.in().fh);
    return Errno::kOk;
  });
  reply.ok();
}

void FilteredOps::fsyncdir(StackedFs& fs, const Req<O::kFsyncdir>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_dir_fsync);
  fuse_fsync_in in = req.in();
  Errno err = flow(run, {&in}, {&in}, [&] {
    return error_of(fs.backing_.fsyncdir(in.fh, in.fsync_flags & abi::kFsyncFdatasync));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

// ---- misc ---------------------------------------------------------------------------------

void FilteredOps::statfs(StackedFs& fs, const Req<O::kStatfs>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_statfs);
  fuse_statfs_out out{};
  Errno err = flow(run, {}, {&out}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    auto st = fs.backing_.statfs(req.nodeid() == 0 ? backing::kRootNode : req.nodeid());
    if (!st) return st.error();
    to_kstatfs(*st, out.st);
    return Errno::kOk;
  });
  err == Errno::kOk ? reply.send(out) : reply.error(err);
}

void FilteredOps::setxattr(StackedFs& fs, const Req<O::kSetxattr>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_setxattr);
  fuse_setxattr_in in = req.in();
  HostBuffer name;
  HostBuffer::name(name, req.name(), XATTR_NAME_MAX + 1, kNameFlags);
  auto payload = req.payload().first(std::min<size_t>(in.size, req.payload().size()));
  HostBuffer value(const_cast<std::byte*>(payload.data()), static_cast<uint32_t>(payload.size()),
                   static_cast<uint32_t>(payload.size()), XATTR_SIZE_MAX,
                   kBufVariableSize | kBufMustAllocate);
  Errno err = flow(run, {&in, &name.buf, &value.buf}, {&in, &name.buf, &value.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(
        fs.backing_.setxattr(req.nodeid(), name.text(), value.bytes(), static_cast<int>(in.flags)));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::getxattr(StackedFs& fs, const Req<O::kGetxattr>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_getxattr);
  fuse_getxattr_in in = req.in();
  HostBuffer name;
  HostBuffer::name(name, req.name(), XATTR_NAME_MAX + 1, kNameFlags);
  HostBuffer value;
  fuse_getxattr_out out{};
  Errno err = flow(run, {&in, &name.buf}, {&in, &name.buf, &value.buf, &out}, [&] {
    auto buf = scratch(in.size);
    StackedFs::CallerCreds creds(fs, req.decoded());
    auto n = fs.backing_.getxattr(req.nodeid(), name.text(), buf);
    if (!n) return n.error();
    out.size = static_cast<uint32_t>(*n);
    if (in.size > 0) {
      value.buf =
          FuseBuffer{buf.data(), static_cast<uint32_t>(*n), in.size, in.size, kBufVariableSize};
    }
    return Errno::kOk;
  });
  if (err != Errno::kOk) return reply.error(err);
  if (in.size == 0) return reply.send(out);
  reply.send(value.bytes());
}

void FilteredOps::listxattr(StackedFs& fs, const Req<O::kListxattr>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_listxattr);
  fuse_getxattr_in in = req.in();
  HostBuffer value;
  fuse_getxattr_out out{};
  Errno err = flow(run, {&in}, {&in, &value.buf, &out}, [&] {
    auto buf = scratch(in.size);
    StackedFs::CallerCreds creds(fs, req.decoded());
    auto n = fs.backing_.listxattr(
        req.nodeid(), std::span<char>(reinterpret_cast<char*>(buf.data()), buf.size()));
    if (!n) return n.error();
    out.size = static_cast<uint32_t>(*n);
    if (in.size > 0) {
      value.buf =
          FuseBuffer{buf.data(), static_cast<uint32_t>(*n), in.size, in.size, kBufVariableSize};
    }
    return Errno::kOk;
  });
  if (err != Errno::kOk) return reply.error(err);
  if (in.size == 0) return reply.send(out);
  reply.send(value.bytes());
}

void FilteredOps::removexattr(StackedFs& fs, const Req<O::kRemovexattr>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_removexattr);
  HostBuffer name;
  HostBuffer::name(name, req.name(), XATTR_NAME_MAX + 1, kNameFlags);
  Errno err = flow(run, {&name.buf}, {&name.buf}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(fs.backing_.removexattr(req.nodeid(), name.text()));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

void FilteredOps::access(StackedFs& fs, const Req<O::kAccess>& req, Slot reply) {
  Run run(*fs.chain_, req.decoded(), FilterOp::k_access);
  fuse_access_in in = req.in();
  Errno err = flow(run, {&in}, {&in}, [&] {
    StackedFs::CallerCreds creds(fs, req.decoded());
    return error_of(fs.backing_.access(req.nodeid(), static_cast<int>(in.mask)));
  });
  err == Errno::kOk ? reply.ok() : reply.error(err);
}

}  // namespace fusebpf::filter
