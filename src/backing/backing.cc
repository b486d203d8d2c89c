// Backing: construction, lookup/forget and the namespace operations (see backing.h).
//
// Every name goes through Name::make and is resolved with one *at() call relative to a node
// fd, never following a symlink in the last component; mount points below the root are
// refused with EXDEV (README "Mount boundaries").
#include "backing/backing.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <string>

#include "backing/creds.h"
#include "backing/internal/impl.h"
#include "base/log.h"

namespace fusebpf::backing {
namespace {

// True when the directory behind `fd` lies beneath the directory with key `root`: walks ".."
// upwards (only used for LOOKUP "..", which the kernel sends for NFS-export reconnects).
Result<bool> is_beneath(int fd, const NodeKey& root) {
  FUSEBPF_TRY(st, stat_fd(fd));
  UniqueFd cur;
  int at = fd;
  for (int depth = 0; depth < 4096; depth++) {
    if (key_of(st) == root) return true;
    int up = ::openat(at, "..", O_PATH | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY);
    if (up < 0) return fail_errno();
    cur.reset(up);
    at = cur.get();
    FUSEBPF_TRY(up_st, stat_fd(at));
    if (key_of(up_st) == key_of(st)) return false;  // reached "/" without meeting the root
    st = up_st;
  }
  return fail(Errno::kLoop);
}

}  // namespace

Backing::Backing() : impl_(std::make_unique<Impl>()) {}
Backing::~Backing() = default;

Result<std::unique_ptr<Backing>> Backing::create(const std::string& root, const Options& options) {
  // O_RDONLY, not O_PATH: open_by_handle_at rejects an O_PATH mount fd (EBADF).
  FUSEBPF_TRY(root_fd, sys::open_at(AT_FDCWD, root.c_str(), O_RDONLY | O_DIRECTORY));
  FUSEBPF_TRY(proc, sys::open_at(AT_FDCWD, "/proc/self/fd", O_PATH | O_DIRECTORY));
  FUSEBPF_TRY(stx, statx_at(root_fd.get(), "", AT_EMPTY_PATH, kLookupMask));
  std::unique_ptr<Backing> b(new Backing());
  Impl& impl = *b->impl_;
  impl.options = options;
  impl.root_mnt_id = stx.stx_mnt_id;
  bool handles = false;
  if (options.use_file_handles) {
    // Probe both halves: the fs must export handles and we need CAP_DAC_READ_SEARCH.
    CompactHandle probe;
    if (probe.assign_from_fd(root_fd.get())) {
      char buf[sizeof(struct file_handle) + 128];
      probe.copy_to(buf);
      int fd = ::open_by_handle_at(root_fd.get(), reinterpret_cast<struct file_handle*>(buf),
                                   O_PATH | O_CLOEXEC);
      handles = fd >= 0;
      if (fd >= 0) ::close(fd);
    }
    if (!handles) {
      FUSEBPF_LOG(kWarn, "backing: no file-handle support ({}); pinning one fd per node",
                  errno_name(last_errno()));
    }
  }
  impl.nodes = std::make_unique<NodeTable>(std::move(root_fd), key_of(stx), handles,
                                           options.fd_cache_capacity);
  impl.locks = std::make_unique<LockTable>(proc.get());
  impl.proc_dir = std::move(proc);
  return b;
}

bool Backing::pinned_fds_mode() const { return !impl_->nodes->handles_enabled(); }
size_t Backing::node_count() const { return impl_->nodes->size(); }
size_t Backing::cached_fd_count() const { return impl_->nodes->cached_fds(); }

Result<Entry> Backing::Impl::entry_from_fd(UniqueFd fd, bool refresh_handle) {
  FUSEBPF_TRY(stx, statx_at(fd.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, kLookupMask));
  if (stx.stx_mnt_id != root_mnt_id) return fail(Errno::kXDev);
  FUSEBPF_TRY(id, nodes->ref_or_insert(key_of(stx), std::move(fd), refresh_handle));
  return make_entry(id, stx);
}

Result<Entry> Backing::Impl::lookup_child(int dir, const Name& name) {
  FUSEBPF_TRY(stx, statx_at(dir, name.c_str(), AT_SYMLINK_NOFOLLOW, kLookupMask));
  if (stx.stx_mnt_id != root_mnt_id) return fail(Errno::kXDev);
  bool refresh = false;
  if (auto id = nodes->ref_existing(key_of(stx))) {
    // Fast path. The fd check catches a recycled inode number: a remembered node whose
    // handle no longer opens is re-bound to the inode now behind the name.
    auto lease = nodes->fd(*id);
    if (lease) return make_entry(*id, stx);
    nodes->forget(*id, 1);
    if (lease.error() != Errno::kStale) return fail(lease.error());
    refresh = true;
  }
  FUSEBPF_TRY(fd, sys::open_at(dir, name.c_str(), O_PATH | O_NOFOLLOW));
  return entry_from_fd(std::move(fd), refresh);
}

Result<Entry> Backing::lookup(NodeId parent, std::string_view name) {
  FUSEBPF_TRY(n, Name::make(name, /*allow_dots=*/true));
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  if (n.is_dot() || (n.is_dotdot() && parent == kRootNode)) {
    NodeId id = n.is_dot() ? parent : kRootNode;
    FUSEBPF_TRY(stx, statx_at(id == parent ? dir.get() : impl_->nodes->root_fd(), "",
                              AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, kLookupMask));
    if (!impl_->nodes->ref(id, 1)) return fail(Errno::kStale);
    return make_entry(id, stx);
  }
  if (n.is_dotdot()) {
    FUSEBPF_TRY(up, sys::open_at(dir.get(), "..", O_PATH | O_NOFOLLOW | O_DIRECTORY));
    FUSEBPF_TRY(inside, is_beneath(up.get(), impl_->nodes->root_key()));
    if (!inside) return fail(Errno::kNoEnt);  // the directory was moved out of the tree
    return impl_->entry_from_fd(std::move(up), false);
  }
  return impl_->lookup_child(dir.get(), n);
}

Result<Entry> Backing::lookup_at(int dir_fd, std::string_view relative_path,
                                 uint64_t resolve_flags) {
  if (relative_path.empty()) return fail(Errno::kNoEnt);
  if (relative_path.find('\0') != std::string_view::npos) return fail(Errno::kInval);
  if (relative_path.size() >= PATH_MAX) return fail(Errno::kNameTooLong);
  std::string path(relative_path);
  FUSEBPF_TRY(fd, sys::open_at2(dir_fd, path.c_str(), O_PATH, resolve_flags));
  return impl_->entry_from_fd(std::move(fd), false);
}

void Backing::forget(NodeId node, uint64_t n) { impl_->nodes->forget(node, n); }

void Backing::batch_forget(std::span<const Forget> items) {
  for (const Forget& f : items) impl_->nodes->forget(f.node, f.n);
}

Result<struct stat> Backing::getattr(NodeId node) {
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  return stat_fd(fd.get());
}

Result<struct stat> Backing::getattr_handle(HandleId handle) {
  FUSEBPF_TRY(f, impl_->file(handle));
  return sys::fstat_fd(f->fd.get());
}

Result<struct statx> Backing::statx(NodeId node, uint32_t mask, uint32_t sync_flags) {
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  int flags = AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | static_cast<int>(sync_flags);
  return statx_at(fd.get(), "", flags, mask);
}

Result<struct statx> Backing::statx_handle(HandleId handle, uint32_t mask, uint32_t sync_flags) {
  FUSEBPF_TRY(f, impl_->file(handle));
  return statx_at(f->fd.get(), "", AT_EMPTY_PATH | static_cast<int>(sync_flags), mask);
}

Result<std::string> Backing::readlink(NodeId node) {
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  std::string buf(PATH_MAX + 1, '\0');
  ssize_t n = ::readlinkat(fd.get(), "", buf.data(), buf.size());
  if (n < 0) return fail_errno();
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Result<Entry> Backing::mkdir(NodeId parent, std::string_view name, mode_t mode, mode_t umask) {
  FUSEBPF_TRY(n, Name::make(name));
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  if (::mkdirat(dir.get(), n.c_str(), apply_request_umask(mode, umask)) < 0) return fail_errno();
  return impl_->lookup_child(dir.get(), n);
}

Result<Entry> Backing::mknod(NodeId parent, std::string_view name, mode_t mode, dev_t rdev,
                             mode_t umask) {
  FUSEBPF_TRY(n, Name::make(name));
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  if (::mknodat(dir.get(), n.c_str(), apply_request_umask(mode, umask), rdev) < 0)
    return fail_errno();
  return impl_->lookup_child(dir.get(), n);
}

Result<Entry> Backing::symlink(NodeId parent, std::string_view name, std::string_view target) {
  FUSEBPF_TRY(n, Name::make(name));
  if (target.empty()) return fail(Errno::kNoEnt);
  if (target.size() > PATH_MAX - 1) return fail(Errno::kNameTooLong);
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  std::string t(target);
  if (::symlinkat(t.c_str(), dir.get(), n.c_str()) < 0) return fail_errno();
  return impl_->lookup_child(dir.get(), n);
}

Result<Entry> Backing::link(NodeId node, NodeId new_parent, std::string_view new_name) {
  FUSEBPF_TRY(n, Name::make(new_name));
  FUSEBPF_TRY(src, impl_->nodes->fd(node));
  FUSEBPF_TRY(dir, impl_->nodes->fd(new_parent));
  // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the magic link works for the caller.
  if (::linkat(impl_->proc_dir.get(), FdName(src.get()).c_str(), dir.get(), n.c_str(),
               AT_SYMLINK_FOLLOW) < 0)
    return fail_errno();
  return impl_->lookup_child(dir.get(), n);
}

Result<void> Backing::unlink(NodeId parent, std::string_view name) {
  FUSEBPF_TRY(n, Name::make(name));
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  if (::unlinkat(dir.get(), n.c_str(), 0) < 0) return fail_errno();
  return {};
}

Result<void> Backing::rmdir(NodeId parent, std::string_view name) {
  FUSEBPF_TRY(n, Name::make(name));
  FUSEBPF_TRY(dir, impl_->nodes->fd(parent));
  if (::unlinkat(dir.get(), n.c_str(), AT_REMOVEDIR) < 0) return fail_errno();
  return {};
}

Result<void> Backing::rename(NodeId parent, std::string_view name, NodeId new_parent,
                             std::string_view new_name, uint32_t flags) {
  FUSEBPF_TRY(from, Name::make(name));
  FUSEBPF_TRY(to, Name::make(new_name));
  FUSEBPF_TRY(src_dir, impl_->nodes->fd(parent));
  FUSEBPF_TRY(dst_dir, impl_->nodes->fd(new_parent));
  if (::renameat2(src_dir.get(), from.c_str(), dst_dir.get(), to.c_str(), flags) < 0)
    return fail_errno();
  return {};
}

Result<struct statfs> Backing::statfs(NodeId node) {
  FUSEBPF_TRY(fd, impl_->nodes->fd(node));
  struct statfs st {};
  if (::fstatfs(fd.get(), &st) < 0) return fail_errno();
  return st;
}

}  // namespace fusebpf::backing
