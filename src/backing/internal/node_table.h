// NodeTable: the remembered lower inodes, keyed by (st_dev, st_ino), and the LRU of their
// O_PATH fds.
//
// Invariants:
//  * A node id is (slot index) | (slot generation << 32); index 0 is never used, the root is
//    index 1 generation 0 == id 1 and is never freed. A slot's generation is bumped when it is
//    freed, so an old id can never name a new node (ESTALE instead).
//  * At most one live node per key (hard links share it).
//  * Handle mode: a node keeps a file handle (name_to_handle_at), ~80 bytes in total; its
//    O_PATH fd lives in a bounded LRU and is re-created with open_by_handle_at on a miss.
//    A node with open files (open_count > 0) pins its fd, so an unlinked-but-open file stays
//    reachable. Pinned-fd mode (no handle support): every node pins its fd.
//  * Fds are handed out as shared leases: evicting or freeing never closes an fd in use.
// Thread-safety: every method is thread-safe; one mutex `mu_` guards the nodes, the key map
// and the LRU, and no blocking syscall runs under it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include "backing/backing.h"
#include "backing/internal/resolve.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::backing {

// A shared reference to an O_PATH fd; the fd stays open while any lease exists.
class FdLease {
 public:
  FdLease() = default;
  explicit FdLease(std::shared_ptr<const UniqueFd> fd) : fd_(std::move(fd)) {}
  int get() const { return fd_ ? fd_->get() : -1; }
  const std::shared_ptr<const UniqueFd>& shared() const { return fd_; }

 private:
  std::shared_ptr<const UniqueFd> fd_;
};

// A struct file_handle stored compactly (most lower fs use 8-20 bytes; up to 128 spill to heap).
class CompactHandle {
 public:
  CompactHandle() = default;
  ~CompactHandle() { clear(); }
  CompactHandle(CompactHandle&& o) noexcept { *this = std::move(o); }
  CompactHandle& operator=(CompactHandle&& o) noexcept;
  // Fills from name_to_handle_at(fd, "", AT_EMPTY_PATH); false when the fs has no handles.
  bool assign_from_fd(int fd);
  bool empty() const { return size_ == 0; }
  // Copies into a struct file_handle buffer of at least 8 + 128 bytes.
  void copy_to(void* file_handle_buf) const;

 private:
  void clear();
  const uint8_t* bytes() const { return size_ > kInline ? heap_ : inline_; }
  static constexpr uint8_t kInline = 24;
  int32_t type_ = 0;
  uint8_t size_ = 0;
  union {
    uint8_t inline_[kInline];
    uint8_t* heap_;
  };
};

class NodeTable {
 public:
  // root_fd: O_PATH fd of the backing root (also the mount fd for open_by_handle_at).
  NodeTable(UniqueFd root_fd, NodeKey root_key, bool use_handles, size_t fd_capacity);
  NodeTable(const NodeTable&) = delete;
  NodeTable& operator=(const NodeTable&) = delete;

  int root_fd() const { return root_->get(); }
  const NodeKey& root_key() const { return root_key_; }
  bool handles_enabled() const { return use_handles_; }

  // An fd for `id`; ESTALE for a freed, never-issued or stale-generation id, or when the
  // lower inode is gone (open_by_handle_at ESTALE).
  Result<FdLease> fd(NodeId id);
  // If `key` is remembered, adds one lookup and returns its id.
  std::optional<NodeId> ref_existing(const NodeKey& key);
  // Adds one lookup to the node of `key`, creating it from `fd` (an fd of that inode, any
  // kind) if needed. Replaces the file handle of an existing node whose inode was recycled.
  Result<NodeId> ref_or_insert(const NodeKey& key, UniqueFd fd, bool refresh_handle);
  // Adds `n` lookups to a live id (readdirplus bookkeeping); false when stale.
  bool ref(NodeId id, uint64_t n);
  void forget(NodeId id, uint64_t n);
  // Open-file pinning: pin() keeps `lease` (or the current fd) open until unpin().
  void pin(NodeId id, const FdLease& lease);
  void unpin(NodeId id);
  uint32_t generation_of(NodeId id) const { return static_cast<uint32_t>(id >> 32); }

  size_t size() const;
  size_t cached_fds() const;

 private:
  struct Node {
    NodeKey key;
    uint64_t nlookup = 0;
    uint32_t generation = 0;
    uint32_t open_count = 0;
    std::shared_ptr<const UniqueFd> pinned;
    CompactHandle handle;
  };
  struct LruEntry {
    NodeId id;
    std::shared_ptr<const UniqueFd> fd;
  };

  Node* live(NodeId id);  // REQUIRES mu_
  NodeId id_of(uint32_t index) const {
    return index | (static_cast<NodeId>(nodes_[index].generation) << 32);
  }
  void free_slot(uint32_t index);                                 // REQUIRES mu_
  void cache_put(NodeId id, std::shared_ptr<const UniqueFd> fd);  // REQUIRES mu_
  void cache_erase(NodeId id);                                    // REQUIRES mu_
  uint32_t alloc_slot();                                          // REQUIRES mu_
  Result<FdLease> reopen_by_handle(NodeId id);

  const std::shared_ptr<const UniqueFd> root_;
  const NodeKey root_key_;
  const bool use_handles_;
  const size_t fd_capacity_;

  mutable std::mutex mu_;       // Lock order: after DirState::mu, before HandleTable/LockTable.
  std::deque<Node> nodes_;      // GUARDED_BY(mu_); index 0 unused, 1 = root
  std::vector<uint32_t> free_;  // GUARDED_BY(mu_)
  std::unordered_map<NodeKey, uint32_t, NodeKeyHash> by_key_;  // GUARDED_BY(mu_)
  std::list<LruEntry> lru_;  // GUARDED_BY(mu_); front = most recent
  std::unordered_map<NodeId, std::list<LruEntry>::iterator> lru_index_;  // GUARDED_BY(mu_)
};

}  // namespace fusebpf::backing
