// Backing::Impl: the state shared by the backing_*.cc translation units.
#pragma once

#include <memory>

#include "backing/backing.h"
#include "backing/internal/handle_table.h"
#include "backing/internal/lock_table.h"
#include "backing/internal/node_table.h"
#include "backing/internal/resolve.h"
#include "base/sys.h"

namespace fusebpf::backing {

inline constexpr unsigned int kLookupMask = STATX_BASIC_STATS | STATX_MNT_ID;

struct Backing::Impl {
  Options options;
  UniqueFd proc_dir;  // O_PATH of /proc/self/fd: the only way data fds are re-opened
  uint64_t root_mnt_id = 0;
  std::unique_ptr<NodeTable> nodes;
  HandleTable handles;
  std::unique_ptr<LockTable> locks;

  Result<std::shared_ptr<OpenFile>> file(HandleId id) const {
    auto f = handles.get(id);
    if (!f) return fail(Errno::kBadF);
    return f;
  }
  // Looks up `name` (a normal component) in the directory `dir`.
  Result<Entry> lookup_child(int dir, const Name& name);
  // Remembers the inode behind `fd` (any fd kind) and returns its entry (one lookup added).
  Result<Entry> entry_from_fd(UniqueFd fd, bool refresh_handle);
  // Opens the object behind `fd` anew via /proc/self/fd/<fd> (permission checked as the
  // current fs creds). Never pass O_CREAT.
  Result<UniqueFd> reopen_fd(int fd, int flags) const;
  // Registers an open fd as a handle, pinning the node's O_PATH fd while it is open.
  HandleId add_handle(UniqueFd fd, NodeId node, int flags, bool dir);
};

inline Entry make_entry(NodeId id, const struct statx& stx) {
  Entry e;
  e.node = id;
  e.generation = id >> 32;
  stat_from_statx(stx, &e.attr);
  return e;
}

}  // namespace fusebpf::backing
