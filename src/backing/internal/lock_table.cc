// LockTable implementation; see lock_table.h.
#include "backing/internal/lock_table.h"

#include <sys/stat.h>
#include <time.h>

#include "backing/creds.h"
#include "backing/internal/resolve.h"

namespace fusebpf::backing {
namespace {

struct flock to_flock(const LockRange& lock) {
  struct flock fl {};
  fl.l_type = static_cast<short>(lock.type);
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(lock.start);
  // FUSE ranges are inclusive with OFFSET_MAX meaning "to EOF"; flock uses len 0 for that.
  if (lock.end >= static_cast<uint64_t>(INT64_MAX)) {
    fl.l_len = 0;
  } else {
    fl.l_len = static_cast<off_t>(lock.end - lock.start + 1);
  }
  return fl;
}

bool would_block(Errno e) { return e == Errno::kAgain || e == Errno::kAcces; }

}  // namespace

Result<void> wait_until(const std::atomic<bool>* cancel, Result<void> (*attempt)(void*),
                        void* ctx) {
  long delay_ns = 200'000;
  for (;;) {
    Result<void> r = attempt(ctx);
    if (r || !would_block(r.error())) return r;
    if (cancel != nullptr && cancel->load(std::memory_order_acquire)) return fail(Errno::kIntr);
    struct timespec ts {
      0, delay_ns
    };
    ::nanosleep(&ts, nullptr);
    delay_ns = delay_ns * 2 > 20'000'000 ? 20'000'000 : delay_ns * 2;
  }
}

Result<std::shared_ptr<const UniqueFd>> LockTable::description(const OpenFile& file, uint64_t owner,
                                                               bool create) {
  Key key{file.node, owner};
  {
    std::lock_guard lock(mu_);
    auto it = owners_.find(key);
    if (it != owners_.end()) return it->second;
  }
  if (!create) return std::shared_ptr<const UniqueFd>();
  // Only regular files get a private description: re-opening a device or FIFO has side
  // effects. Others lock through the handle's own description (per-handle semantics).
  struct stat st {};
  if (::fstat(file.fd.get(), &st) < 0) return fail_errno();
  if (!S_ISREG(st.st_mode)) return std::shared_ptr<const UniqueFd>();
  int raw;
  {
    DaemonFsIdScope daemon;  // the caller already passed the open() permission check
    raw = ::openat(proc_dir_, FdName(file.fd.get()).c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (raw < 0) {
      int acc = file.flags & O_ACCMODE;
      raw = ::openat(proc_dir_, FdName(file.fd.get()).c_str(), acc | O_CLOEXEC | O_NOCTTY);
    }
  }
  if (raw < 0) return fail_errno();
  auto fd = std::make_shared<const UniqueFd>(raw);
  std::lock_guard lock(mu_);
  auto [it, inserted] = owners_.emplace(key, fd);
  return it->second;
}

Result<LockRange> LockTable::getlk(const OpenFile& file, uint64_t owner, const LockRange& lock) {
  FUSEBPF_TRY(desc, description(file, owner, false));
  struct flock fl = to_flock(lock);
  int fd = desc ? desc->get() : file.fd.get();
  if (::fcntl(fd, F_OFD_GETLK, &fl) < 0) return fail_errno();
  LockRange out;
  out.type = static_cast<uint32_t>(fl.l_type);
  if (fl.l_type == F_UNLCK) return out;
  out.start = static_cast<uint64_t>(fl.l_start);
  out.end = fl.l_len == 0 ? static_cast<uint64_t>(INT64_MAX)
                          : static_cast<uint64_t>(fl.l_start + fl.l_len - 1);
  // OFD locks report no pid; when the holder is another owner of ours, report the pid that
  // owner locked with, as the kernel would for a process.
  // Probe with the conflicting lock's own range, which only its holder can take without
  // conflict.
  struct flock held = fl;
  held.l_type = F_WRLCK;
  held.l_pid = 0;
  out.pid =
      fl.l_pid > 0 ? static_cast<uint32_t>(fl.l_pid) : conflicting_pid(file.node, owner, held);
  return out;
}

uint32_t LockTable::conflicting_pid(NodeId node, uint64_t owner, const struct flock& probe) {
  std::lock_guard guard(mu_);
  for (auto it = owners_.lower_bound(Key{node, 0}); it != owners_.end() && it->first.first == node;
       ++it) {
    if (it->first.second == owner) continue;
    // A description never conflicts with its own locks: if the probe passes from this
    // owner's description, this owner holds the conflicting lock.
    struct flock fl = probe;
    if (::fcntl(it->second->get(), F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK) {
      auto pid = owner_pids_.find(it->first);
      return pid == owner_pids_.end() ? 0 : pid->second;
    }
  }
  return 0;
}

Result<void> LockTable::setlk(const OpenFile& file, uint64_t owner, const LockRange& lock,
                              bool wait, const std::atomic<bool>* cancel) {
  int acc = file.flags & O_ACCMODE;
  if (lock.type == F_WRLCK && acc == O_RDONLY) return fail(Errno::kBadF);
  if (lock.type == F_RDLCK && acc == O_WRONLY) return fail(Errno::kBadF);
  FUSEBPF_TRY(desc, description(file, owner, lock.type != F_UNLCK));
  int fd = desc ? desc->get() : file.fd.get();
  struct Ctx {
    int fd;
    struct flock fl;
  } ctx{fd, to_flock(lock)};
  auto attempt = [](void* p) -> Result<void> {
    auto* c = static_cast<Ctx*>(p);
    if (::fcntl(c->fd, F_OFD_SETLK, &c->fl) < 0) return fail_errno();
    return {};
  };
  if (!desc && lock.type == F_UNLCK) {
    // No private description: either never locked (nothing to do) or a non-regular file.
    struct stat st {};
    if (::fstat(file.fd.get(), &st) == 0 && S_ISREG(st.st_mode)) return {};
  }
  Result<void> done = wait ? wait_until(cancel, attempt, &ctx) : attempt(&ctx);
  if (done && lock.type != F_UNLCK && desc) {
    std::lock_guard guard(mu_);
    owner_pids_[Key{file.node, owner}] = lock.pid;
    file_owners_[&file].insert(owner);
  }
  return done;
}

void LockTable::release_file(const OpenFile& file) {
  std::set<uint64_t> owners;
  {
    std::lock_guard lock(mu_);
    auto it = file_owners_.find(&file);
    if (it == file_owners_.end()) return;
    owners = std::move(it->second);
    file_owners_.erase(it);
  }
  for (uint64_t owner : owners) drop(file.node, owner);
}

void LockTable::drop(NodeId node, uint64_t owner) {
  std::shared_ptr<const UniqueFd> victim;
  {
    std::lock_guard lock(mu_);
    auto it = owners_.find(Key{node, owner});
    if (it == owners_.end()) return;
    victim = std::move(it->second);
    owners_.erase(it);
    owner_pids_.erase(Key{node, owner});
  }
  // Closing the description (outside the lock) releases all of its OFD locks.
}

}  // namespace fusebpf::backing
