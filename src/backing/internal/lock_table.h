// LockTable: POSIX record locks per FUSE lock owner.
//
// Each (node, owner) pair gets its own open file description of the inode (re-opened through
// /proc/self/fd), and locks are taken on it with OFD locks (F_OFD_SETLK). OFD locks of two
// descriptions conflict like the POSIX locks of two processes, and the locks of one
// description merge and split like one process's, so owners behave exactly like processes.
// Dropping the pair (flush = close() of the owner) releases all its locks on the inode.
// Thread-safety: thread-safe; `mu_` is a leaf and is never held during a blocking wait.
#pragma once

#include <fcntl.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "backing/backing.h"
#include "backing/internal/handle_table.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::backing {

class LockTable {
 public:
  explicit LockTable(int proc_dir) : proc_dir_(proc_dir) {}
  Result<LockRange> getlk(const OpenFile& file, uint64_t owner, const LockRange& lock);
  Result<void> setlk(const OpenFile& file, uint64_t owner, const LockRange& lock, bool wait,
                     const std::atomic<bool>* cancel);
  // Releases every lock `owner` holds on `node` (close() semantics).
  void drop(NodeId node, uint64_t owner);
  // The last reference to `file` is gone (RELEASE): drops the locks of every owner that locked
  // through it. This is what ends OFD locks, whose owner is the open file itself and for which
  // the kernel sends no unlock at close.
  void release_file(const OpenFile& file);

 private:
  using Key = std::pair<NodeId, uint64_t>;
  Result<std::shared_ptr<const UniqueFd>> description(const OpenFile& file, uint64_t owner,
                                                      bool create);
  const int proc_dir_;
  std::mutex mu_;                                              // leaf lock
  std::map<Key, std::shared_ptr<const UniqueFd>> owners_;      // GUARDED_BY(mu_)
  std::map<const OpenFile*, std::set<uint64_t>> file_owners_;  // GUARDED_BY(mu_)
  std::map<Key, uint32_t> owner_pids_;  // GUARDED_BY(mu_): pid of each owner's last lock
  // pid of the owner (other than `owner`) whose locks conflict with `fl` on `node`, or 0.
  uint32_t conflicting_pid(NodeId node, uint64_t owner, const struct flock& fl);
};

// Polls `attempt` (which returns EAGAIN/EACCES/EWOULDBLOCK while blocked) with a backoff of
// 0.2..20 ms until it succeeds, fails otherwise, or *cancel turns true (EINTR).
Result<void> wait_until(const std::atomic<bool>* cancel, Result<void> (*attempt)(void*), void* ctx);

}  // namespace fusebpf::backing
