// StackedFs: every FUSE operation mapped onto the backing tree; see stacked_fs.h.
// Cache consistency of each --cache mode: docs/ARCHITECTURE.md "Caching".
#include "filter/stacked_fs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <thread>
#include <vector>

#include "backing/creds.h"
#include "base/log.h"
#include "base/sys.h"
#include "filter/chain.h"
#include "filter/internal/common.h"
#include "filter/internal/filtered_ops.h"

namespace fusebpf::filter {

CachePolicy cache_policy(CacheMode mode) {
  switch (mode) {
    case CacheMode::kNone:
      return CachePolicy{};
    case CacheMode::kAuto:
      return CachePolicy{kSecond, kSecond, 0, false, false};
    case CacheMode::kAlways:
      return CachePolicy{86400 * kSecond, 86400 * kSecond, 86400 * kSecond, true, true};
  }
  return CachePolicy{};
}

StackedFs::StackedFs(backing::Backing& backing, StackedFsOptions options)
    : backing_(backing), options_(options), cache_(cache_policy(options.cache)) {}

StackedFs::~StackedFs() = default;

void StackedFs::init(const fuse::ConnectionInfo& connection, fuse::SessionControl& control) {
  control_ = &control;
  passthrough_.store(options_.passthrough && connection.passthrough);
  dont_mask_ = (connection.flags & abi::init::kDontMask) != 0;
  if (chain_) {
    auto probe = control.notify_inc_epoch();  // nothing is cached yet: harmless
    can_invalidate_ = probe.has_value();
    if (can_invalidate_) {
      chain_->set_invalidate_hook([this] {
        auto r = control_->notify_inc_epoch();
        if (!r) FUSEBPF_LOG(kWarn, "cache invalidation failed: {}", errno_name(r.error()));
      });
    } else {
      FUSEBPF_LOG(kInfo, "kernel lacks FUSE_NOTIFY_INC_EPOCH ({}): filtered names not cached",
                  errno_name(probe.error()));
    }
  }
}

void StackedFs::set_filters(std::unique_ptr<FilterChain> chain) { chain_ = std::move(chain); }

void StackedFs::worker_started() {
  auto prepared = backing::prepare_worker_thread();
  if (!prepared) {
    FUSEBPF_LOG(kWarn, "worker thread: per-thread umask unavailable ({})",
                errno_name(prepared.error()));
  }
}

mode_t StackedFs::request_umask(uint32_t umask) const {
  // Without FUSE_DONT_MASK the kernel has already applied the umask to the mode.
  return dont_mask_ ? static_cast<mode_t>(umask) : 0;
}

void StackedFs::fill_entry(abi::fuse_entry_out& out, const backing::Entry& entry) const {
  out.nodeid = entry.node;
  out.generation = entry.generation;
  split_ns(cache_.entry_timeout_ns, out.entry_valid, out.entry_valid_nsec);
  split_ns(cache_.attr_timeout_ns, out.attr_valid, out.attr_valid_nsec);
  to_fuse_attr(entry.attr, out.attr);
}

void StackedFs::reply_entry(Slot& reply, const backing::Entry& entry) const {
  abi::fuse_entry_out out{};
  fill_entry(out, entry);
  reply.send(out);
}

void StackedFs::reply_attr(Slot& reply, const struct stat& st) const {
  abi::fuse_attr_out out{};
  split_ns(cache_.attr_timeout_ns, out.attr_valid, out.attr_valid_nsec);
  to_fuse_attr(st, out.attr);
  reply.send(out);
}

// ---- names --------------------------------------------------------------------------------

void StackedFs::lookup(const Req<O::kLookup>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::lookup(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto entry = backing_.lookup(req.nodeid(), req.name());
  if (!entry) {
    if (entry.error() == Errno::kNoEnt && cache_.negative_timeout_ns != 0) {
      abi::fuse_entry_out out{};  // nodeid 0: a cacheable negative entry
      split_ns(cache_.negative_timeout_ns, out.entry_valid, out.entry_valid_nsec);
      return reply.send(out);
    }
    return reply.error(entry.error());
  }
  reply_entry(reply, *entry);
}

void StackedFs::forget(const Req<O::kForget>& req) {
  backing_.forget(req.nodeid(), req.in().nlookup);
}

void StackedFs::batch_forget(const Req<O::kBatchForget>& req) {
  auto payload = req.payload();
  size_t count = std::min<size_t>(req.in().count, payload.size() / sizeof(abi::fuse_forget_one));
  std::vector<backing::Backing::Forget> items(count);
  for (size_t i = 0; i < count; ++i) {
    abi::fuse_forget_one one;
    std::memcpy(&one, payload.data() + i * sizeof one, sizeof one);
    items[i] = {one.nodeid, one.nlookup};
  }
  backing_.batch_forget(items);
}

void StackedFs::getattr(const Req<O::kGetattr>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::getattr(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto st = (req.in().getattr_flags & abi::kGetattrFh) ? backing_.getattr_handle(req.in().fh)
                                                       : backing_.getattr(req.nodeid());
  if (!st) return reply.error(st.error());
  reply_attr(reply, *st);
}

void StackedFs::setattr(const Req<O::kSetattr>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::setattr(*this, req, std::move(reply));
  const auto& in = req.in();
  backing::SetAttr attr = to_set_attr(in);
  Result<struct stat> st = fail(Errno::kIo);
  {
    CallerCreds creds(*this, req.decoded());
    st = backing_.setattr(req.nodeid(), attr);
  }
  if (st && (in.valid & abi::kFattrKillSuidgid) && !(in.valid & abi::kFattrMode)) {
    kill_suid_sgid(req.nodeid(), std::nullopt);
    st = backing_.getattr(req.nodeid());
  }
  if (!st) return reply.error(st.error());
  reply_attr(reply, *st);
}

void StackedFs::statx(const Req<O::kStatx>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::statx(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  const auto& in = req.in();
  auto sx = (in.getattr_flags & abi::kGetattrFh)
                ? backing_.statx_handle(in.fh, in.sx_mask, in.sx_flags)
                : backing_.statx(req.nodeid(), in.sx_mask, in.sx_flags);
  if (!sx) return reply.error(sx.error());
  abi::fuse_statx_out out{};
  split_ns(cache_.attr_timeout_ns, out.attr_valid, out.attr_valid_nsec);
  auto& s = out.stat;
  s.mask = sx->stx_mask;
  s.blksize = sx->stx_blksize;
  s.attributes = sx->stx_attributes;
  s.nlink = sx->stx_nlink;
  s.uid = sx->stx_uid;
  s.gid = sx->stx_gid;
  s.mode = sx->stx_mode;
  s.ino = sx->stx_ino;
  s.size = sx->stx_size;
  s.blocks = sx->stx_blocks;
  s.attributes_mask = sx->stx_attributes_mask;
  s.atime = to_sx_time(sx->stx_atime);
  s.btime = to_sx_time(sx->stx_btime);
  s.ctime = to_sx_time(sx->stx_ctime);
  s.mtime = to_sx_time(sx->stx_mtime);
  s.rdev_major = sx->stx_rdev_major;
  s.rdev_minor = sx->stx_rdev_minor;
  s.dev_major = sx->stx_dev_major;
  s.dev_minor = sx->stx_dev_minor;
  reply.send(out);
}

void StackedFs::readlink(const Req<O::kReadlink>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::readlink(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto target = backing_.readlink(req.nodeid());
  if (!target) return reply.error(target.error());
  reply.send(string_bytes(*target));
}

void StackedFs::symlink(const Req<O::kSymlink>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::symlink(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto entry = backing_.symlink(req.nodeid(), req.name(0), req.name(1));
  if (!entry) return reply.error(entry.error());
  reply_entry(reply, *entry);
}

void StackedFs::mknod(const Req<O::kMknod>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::mknod(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  const auto& in = req.in();
  auto entry = backing_.mknod(req.nodeid(), req.name(), in.mode, static_cast<dev_t>(in.rdev),
                              request_umask(in.umask));
  if (!entry) return reply.error(entry.error());
  reply_entry(reply, *entry);
}

void StackedFs::mkdir(const Req<O::kMkdir>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::mkdir(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  const auto& in = req.in();
  auto entry = backing_.mkdir(req.nodeid(), req.name(), in.mode, request_umask(in.umask));
  if (!entry) return reply.error(entry.error());
  reply_entry(reply, *entry);
}

void StackedFs::unlink(const Req<O::kUnlink>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::unlink(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto done = backing_.unlink(req.nodeid(), req.name());
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::rmdir(const Req<O::kRmdir>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::rmdir(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto done = backing_.rmdir(req.nodeid(), req.name());
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::rename(const Req<O::kRename>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::rename(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto done = backing_.rename(req.nodeid(), req.name(0), req.in().newdir, req.name(1), 0);
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::rename2(const Req<O::kRename2>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::rename2(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto done =
      backing_.rename(req.nodeid(), req.name(0), req.in().newdir, req.name(1), req.in().flags);
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::link(const Req<O::kLink>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::link(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto entry = backing_.link(req.in().oldnodeid, req.nodeid(), req.name());
  if (!entry) return reply.error(entry.error());
  reply_entry(reply, *entry);
}

// ---- files --------------------------------------------------------------------------------

void StackedFs::kill_suid_sgid(backing::NodeId node, std::optional<backing::HandleId> handle) {
  // The kernel asks us to drop set-id bits (FUSE_HANDLE_KILLPRIV_V2) after a write, truncate
  // or chown by someone without CAP_FSETID. Done with the daemon's credentials.
  auto st = handle ? backing_.getattr_handle(*handle) : backing_.getattr(node);
  if (!st) return;
  mode_t mode = st->st_mode & 07777;
  mode_t cleared = mode & ~S_ISUID;
  if (mode & S_IXGRP) cleared &= ~S_ISGID;
  if (cleared == mode) return;
  backing::SetAttr attr;
  attr.valid = backing::kSetMode | (handle ? backing::kSetHandle : 0);
  attr.mode = cleared;
  attr.handle = handle.value_or(0);
  (void)backing_.setattr(node, attr);
}

int32_t StackedFs::passthrough_acquire(uint64_t nodeid, backing::HandleId handle, int flags) {
  bool wants_write = (flags & O_ACCMODE) != O_RDONLY;
  std::lock_guard lock(passthrough_mutex_);
  auto it = backing_files_.find(nodeid);
  if (it != backing_files_.end()) {
    if (wants_write && !it->second.writable) return -1;  // cannot share a read-only file
    ++it->second.opens;
    handle_node_[handle] = nodeid;
    return it->second.backing_id;
  }
  // Register a read-write file when we can, so that later opens of either mode can share it
  // (the kernel allows one backing file per inode). The caller's own open already passed the
  // permission checks; the daemon's reopen only serves as the kernel's I/O target.
  bool writable = true;
  // No status flags: the kernel applies the FUSE file's own O_APPEND/O_DIRECT/O_SYNC to each
  // passthrough I/O, and flags on the shared file would leak into every other open.
  auto shared = backing_.reopen(nodeid, O_RDWR);
  int fd = shared ? shared->get() : backing_.file_fd(handle);
  if (!shared) writable = wants_write;
  auto id = control_->open_backing(fd);
  if (!id) {
    FUSEBPF_LOG(kWarn, "FUSE_DEV_IOC_BACKING_OPEN for node {}: {}", nodeid, errno_name(id.error()));
    return -1;
  }
  backing_files_[nodeid] = BackingFile{*id, 1, writable};
  handle_node_[handle] = nodeid;
  return *id;
}

void StackedFs::passthrough_release(backing::HandleId handle) {
  std::lock_guard lock(passthrough_mutex_);
  auto h = handle_node_.find(handle);
  if (h == handle_node_.end()) return;
  auto it = backing_files_.find(h->second);
  handle_node_.erase(h);
  if (it == backing_files_.end() || --it->second.opens != 0) return;
  auto closed = control_->close_backing(it->second.backing_id);
  if (!closed) {
    FUSEBPF_LOG(kWarn, "FUSE_DEV_IOC_BACKING_CLOSE {}: {}", it->second.backing_id,
                errno_name(closed.error()));
  }
  backing_files_.erase(it);
}

void StackedFs::reply_open(Slot& reply, uint64_t nodeid, backing::HandleId handle, int flags,
                           bool is_dir) {
  abi::fuse_open_out out{};
  out.fh = handle;
  if (is_dir) {
    if (cache_.cache_dir) out.open_flags |= abi::kFopenCacheDir | abi::kFopenKeepCache;
  } else {
    if (cache_.keep_cache) out.open_flags |= abi::kFopenKeepCache;
    if (passthrough_.load()) apply_passthrough(out, nodeid, handle, flags);
  }
  reply.send(out);
}

void StackedFs::apply_passthrough(abi::fuse_open_out& out, uint64_t nodeid,
                                  backing::HandleId handle, int flags) {
  int32_t id = passthrough_acquire(nodeid, handle, flags);
  if (id >= 0) {
    // The kernel fails (EIO) a passthrough open that also asks to keep the page cache:
    // passthrough files have none.
    out.open_flags = (out.open_flags & ~abi::kFopenKeepCache) | abi::kFopenPassthrough;
    out.backing_id = id;
  } else {
    // Another open holds a read-only backing file: serve this one through the daemon
    // without the page cache, which the kernel allows next to passthrough opens.
    out.open_flags |= abi::kFopenDirectIo;
  }
}

void StackedFs::open(const Req<O::kOpen>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::open(*this, req, std::move(reply));
  const auto& in = req.in();
  int flags = static_cast<int>(in.flags);
  Result<backing::HandleId> handle = fail(Errno::kIo);
  {
    CallerCreds creds(*this, req.decoded());
    handle = backing_.open(req.nodeid(), flags);
  }
  if (!handle) return reply.error(handle.error());
  if (in.open_flags & abi::kOpenKillSuidgid) kill_suid_sgid(req.nodeid(), *handle);
  reply_open(reply, req.nodeid(), *handle, flags, false);
}

void StackedFs::reply_created(Slot& reply, const backing::Backing::Created& created, int flags) {
  struct {
    abi::fuse_entry_out entry;
    abi::fuse_open_out open;
  } out{};
  fill_entry(out.entry, created.entry);
  out.open.fh = created.handle;
  if (cache_.keep_cache) out.open.open_flags |= abi::kFopenKeepCache;
  if (passthrough_.load()) apply_passthrough(out.open, created.entry.node, created.handle, flags);
  static_assert(sizeof out == sizeof(abi::fuse_entry_out) + sizeof(abi::fuse_open_out));
  reply.send(out);
}

void StackedFs::create(const Req<O::kCreate>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::create(*this, req, std::move(reply));
  const auto& in = req.in();
  int flags = static_cast<int>(in.flags);
  Result<backing::Backing::Created> created = fail(Errno::kIo);
  {
    CallerCreds creds(*this, req.decoded());
    created = backing_.create(req.nodeid(), req.name(), flags, in.mode, request_umask(in.umask));
  }
  if (!created) return reply.error(created.error());
  reply_created(reply, *created, flags);
}

void StackedFs::tmpfile(const Req<O::kTmpfile>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::tmpfile(*this, req, std::move(reply));
  const auto& in = req.in();
  int flags = static_cast<int>(in.flags);
  Result<backing::Backing::Created> created = fail(Errno::kIo);
  {
    CallerCreds creds(*this, req.decoded());
    created = backing_.tmpfile(req.nodeid(), flags, in.mode, request_umask(in.umask));
  }
  if (!created) return reply.error(created.error());
  reply_created(reply, *created, flags);
}

void StackedFs::read(const Req<O::kRead>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::read(*this, req, std::move(reply));
  const auto& in = req.in();
  auto buf = scratch(in.size);
  auto n = backing_.read(in.fh, buf, static_cast<off_t>(in.offset));
  if (!n) return reply.error(n.error());
  reply.send(buf.first(*n));
}

void StackedFs::write(const Req<O::kWrite>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::write(*this, req, std::move(reply));
  const auto& in = req.in();
  auto data = req.payload().first(std::min<size_t>(in.size, req.payload().size()));
  if (in.flags & O_DIRECT) {
    // The payload sits 80 bytes into the request buffer; O_DIRECT needs aligned memory.
    auto aligned = scratch(data.size());
    std::memcpy(aligned.data(), data.data(), data.size());
    data = aligned;
  }
  // write_in.flags carries the file's current flags (FUSE_WRITE_LOCKOWNER era kernels).
  auto n = backing_.write(in.fh, data, static_cast<off_t>(in.offset), (in.flags & O_APPEND) != 0);
  if (!n) return reply.error(n.error());
  if (in.write_flags & abi::kWriteKillSuidgid) kill_suid_sgid(req.nodeid(), in.fh);
  abi::fuse_write_out out{static_cast<uint32_t>(*n), 0};
  reply.send(out);
}

void StackedFs::flush(const Req<O::kFlush>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::flush(*this, req, std::move(reply));
  auto done = backing_.flush(req.in().fh, req.in().lock_owner);
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::release(const Req<O::kRelease>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::release(*this, req, std::move(reply));
  const auto& in = req.in();
  if (in.release_flags & abi::kReleaseFlockUnlock) (void)backing_.flock(in.fh, LOCK_UN);
  passthrough_release(in.fh);
  backing_.release(in.fh);
  reply.ok();
}

void StackedFs::fsync(const Req<O::kFsync>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::fsync(*this, req, std::move(reply));
  auto done = backing_.fsync(req.in().fh, req.in().fsync_flags & abi::kFsyncFdatasync);
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::fallocate(const Req<O::kFallocate>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::fallocate(*this, req, std::move(reply));
  const auto& in = req.in();
  auto done = backing_.fallocate(in.fh, static_cast<int>(in.mode), static_cast<off_t>(in.offset),
                                 static_cast<off_t>(in.length));
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::lseek(const Req<O::kLseek>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::lseek(*this, req, std::move(reply));
  const auto& in = req.in();
  auto off = backing_.lseek(in.fh, static_cast<off_t>(in.offset), static_cast<int>(in.whence));
  if (!off) return reply.error(off.error());
  abi::fuse_lseek_out out{static_cast<uint64_t>(*off)};
  reply.send(out);
}

void StackedFs::copy_file_range(const Req<O::kCopyFileRange>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::copy_file_range(*this, req, std::move(reply));
  const auto& in = req.in();
  auto n = backing_.copy_file_range(in.fh_in, static_cast<off_t>(in.off_in), in.fh_out,
                                    static_cast<off_t>(in.off_out), in.len,
                                    static_cast<unsigned>(in.flags));
  if (!n) return reply.error(n.error());
  abi::fuse_write_out out{static_cast<uint32_t>(std::min<size_t>(*n, UINT32_MAX)), 0};
  reply.send(out);
}

// ---- directories --------------------------------------------------------------------------

void StackedFs::opendir(const Req<O::kOpendir>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::opendir(*this, req, std::move(reply));
  Result<backing::HandleId> handle = fail(Errno::kIo);
  {
    CallerCreds creds(*this, req.decoded());
    handle = backing_.opendir(req.nodeid(), static_cast<int>(req.in().flags));
  }
  if (!handle) return reply.error(handle.error());
  reply_open(reply, req.nodeid(), *handle, 0, true);
}

void StackedFs::readdir(const Req<O::kReaddir>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::readdir(*this, req, std::move(reply));
  const auto& in = req.in();
  auto buf = scratch(in.size);
  size_t used = 0;
  auto done = backing_.readdir(in.fh, in.offset, [&](const backing::DirEntry& e) {
    size_t need = abi::dirent_size(e.name.size());
    if (used + need > buf.size()) return false;
    std::memset(buf.data() + used, 0, need);
    abi::fuse_dirent d{e.ino, e.offset, static_cast<uint32_t>(e.name.size()), e.type};
    std::memcpy(buf.data() + used, &d, sizeof d);
    std::memcpy(buf.data() + used + sizeof d, e.name.data(), e.name.size());
    used += need;
    return true;
  });
  if (!done && used == 0) return reply.error(done.error());
  reply.send(buf.first(used));
}

void StackedFs::readdirplus(const Req<O::kReaddirplus>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::readdirplus(*this, req, std::move(reply));
  const auto& in = req.in();
  auto buf = scratch(in.size);
  size_t used = 0;
  CallerCreds creds(*this, req.decoded());
  auto done = backing_.readdirplus(
      in.fh, in.offset, [&](const backing::DirEntry& e, const backing::Entry& entry) {
        size_t need = abi::direntplus_size(e.name.size());
        if (used + need > buf.size()) return false;
        std::memset(buf.data() + used, 0, need);
        abi::fuse_direntplus d{};
        if (entry.node != 0) fill_entry(d.entry_out, entry);
        d.dirent = abi::fuse_dirent{e.ino, e.offset, static_cast<uint32_t>(e.name.size()), e.type};
        std::memcpy(buf.data() + used, &d, sizeof d);
        std::memcpy(buf.data() + used + sizeof d, e.name.data(), e.name.size());
        used += need;
        return true;
      });
  if (!done && used == 0) return reply.error(done.error());
  reply.send(buf.first(used));
}

void StackedFs::releasedir(const Req<O::kReleasedir>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::releasedir(*this, req, std::move(reply));
  backing_.releasedir(req.in().fh);
  reply.ok();
}

void StackedFs::fsyncdir(const Req<O::kFsyncdir>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::fsyncdir(*this, req, std::move(reply));
  auto done = backing_.fsyncdir(req.in().fh, req.in().fsync_flags & abi::kFsyncFdatasync);
  done ? reply.ok() : reply.error(done.error());
}

// ---- misc ---------------------------------------------------------------------------------

void StackedFs::statfs(const Req<O::kStatfs>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::statfs(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto st = backing_.statfs(req.nodeid() == 0 ? backing::kRootNode : req.nodeid());
  if (!st) return reply.error(st.error());
  abi::fuse_statfs_out out{};
  to_kstatfs(*st, out.st);
  reply.send(out);
}

void StackedFs::setxattr(const Req<O::kSetxattr>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::setxattr(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  const auto& in = req.in();
  auto value = req.payload().first(std::min<size_t>(in.size, req.payload().size()));
  auto done = backing_.setxattr(req.nodeid(), req.name(), value, static_cast<int>(in.flags));
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::getxattr(const Req<O::kGetxattr>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::getxattr(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  uint32_t size = req.in().size;
  auto buf = scratch(size);
  auto n = backing_.getxattr(req.nodeid(), req.name(), buf);
  if (!n) return reply.error(n.error());
  if (size == 0) {
    abi::fuse_getxattr_out out{static_cast<uint32_t>(*n), 0};
    return reply.send(out);
  }
  reply.send(buf.first(*n));
}

void StackedFs::listxattr(const Req<O::kListxattr>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::listxattr(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  uint32_t size = req.in().size;
  auto names = visible_xattr_names(req.nodeid(), req.caller().uid);
  if (!names) return reply.error(names.error());
  if (size == 0) {
    abi::fuse_getxattr_out out{static_cast<uint32_t>(names->size()), 0};
    return reply.send(out);
  }
  if (names->size() > size) return reply.error(Errno::kRange);
  reply.send(sys::bytes(*names));
}

Result<std::string> StackedFs::visible_xattr_names(backing::NodeId node, uint32_t caller_uid) {
  // The list may grow between probing its size and reading it: retry on ERANGE.
  std::string names;
  for (int attempt = 0;; ++attempt) {
    FUSEBPF_TRY(size, backing_.listxattr(node, {}));
    names.resize(size);
    auto n = backing_.listxattr(node, std::span<char>(names.data(), names.size()));
    if (n) {
      names.resize(*n);
      break;
    }
    if (n.error() != Errno::kRange || attempt == 3) return fail(n.error());
  }
  // The daemon keeps CAP_SYS_ADMIN whatever fsuid it runs with, so the lower fs would list
  // trusted.* names to everyone; natively only privileged callers see them.
  if (caller_uid == 0) return names;
  std::string visible;
  for (size_t start = 0; start < names.size();) {
    size_t end = names.find('\0', start);
    if (end == std::string::npos) end = names.size();
    std::string_view name(names.data() + start, end - start);
    if (!name.starts_with("trusted.")) visible.append(name).push_back('\0');
    start = end + 1;
  }
  return visible;
}

void StackedFs::removexattr(const Req<O::kRemovexattr>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::removexattr(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto done = backing_.removexattr(req.nodeid(), req.name());
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::access(const Req<O::kAccess>& req, Slot reply) {
  if (chain_) [[unlikely]]
    return FilteredOps::access(*this, req, std::move(reply));
  CallerCreds creds(*this, req.decoded());
  auto done = backing_.access(req.nodeid(), static_cast<int>(req.in().mask));
  done ? reply.ok() : reply.error(done.error());
}

void StackedFs::getlk(const Req<O::kGetlk>& req, Slot reply) {
  const auto& in = req.in();
  auto lock = backing_.getlk(in.fh, in.owner, to_lock_range(in.lk));
  if (!lock) return reply.error(lock.error());
  abi::fuse_lk_out out{};
  out.lk = abi::fuse_file_lock{lock->start, lock->end, lock->type, lock->pid};
  reply.send(out);
}

Result<void> StackedFs::apply_lock(const abi::fuse_lk_in& in, bool wait,
                                   const std::atomic<bool>* cancelled) {
  if (in.lk_flags & abi::kLkFlock) {
    int op = in.lk.type == F_RDLCK ? LOCK_SH : in.lk.type == F_WRLCK ? LOCK_EX : LOCK_UN;
    if (!wait) op |= LOCK_NB;
    return backing_.flock(in.fh, op, cancelled);
  }
  return backing_.setlk(in.fh, in.owner, to_lock_range(in.lk), wait, cancelled);
}

void StackedFs::set_lock(const fuse::DecodedRequest& req, const abi::fuse_lk_in& in, bool wait,
                         Slot reply) {
  Result<void> done = apply_lock(in, false, nullptr);
  if (done || !wait || done.error() != Errno::kAgain) {
    return done ? reply.ok() : reply.error(done.error());
  }
  // A blocking wait must not occupy a worker: with io_uring the worker is its CPU's only queue
  // thread, and the request that releases the lock may arrive on that very queue. The waiter
  // thread owns the reply and ends with EINTR when the request is interrupted.
  std::thread([this, in, unique = req.unique(), reply = std::move(reply)]() mutable {
    fuse::InterruptibleScope interruptible(*control_, unique);
    Result<void> granted = apply_lock(in, true, interruptible.cancelled());
    granted ? reply.ok() : reply.error(granted.error());
  }).detach();
}

void StackedFs::setlk(const Req<O::kSetlk>& req, Slot reply) {
  set_lock(req.decoded(), req.in(), false, std::move(reply));
}

void StackedFs::setlkw(const Req<O::kSetlkw>& req, Slot reply) {
  set_lock(req.decoded(), req.in(), true, std::move(reply));
}

void StackedFs::ioctl(const Req<O::kIoctl>& req, Slot reply) {
  const auto& in = req.in();
  if (in.flags & abi::kIoctlCompat) return reply.error(Errno::kNoSys);
  auto out_buf = scratch(in.out_size);
  auto input = req.payload().first(std::min<size_t>(in.in_size, req.payload().size()));
  auto n = backing_.ioctl(in.fh, in.cmd, input, out_buf);
  if (!n) return reply.error(n.error());
  abi::fuse_ioctl_out out{};
  reply.send_parts({bytes_of(out), out_buf.first(std::min<size_t>(*n, in.out_size))});
}

void StackedFs::syncfs(const Req<O::kSyncfs>& req, Slot reply) {
  auto root = backing_.reopen(backing::kRootNode, O_RDONLY | O_DIRECTORY);
  if (!root) return reply.error(root.error());
  if (::syncfs(root->get()) < 0) return reply.error(last_errno());
  reply.ok();
}

}  // namespace fusebpf::filter
