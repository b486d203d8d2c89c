// HandleTable: open files and directories by FUSE fh.
//
// Invariants: handle ids come from a 64-bit counter starting at 1 and are never reused; an
// OpenFile is shared (shared_ptr) so release() racing with read() never closes an fd in use.
// Thread-safety: all methods are thread-safe (one leaf mutex, never held during syscalls).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "backing/backing.h"
#include "base/unique_fd.h"

namespace fusebpf::backing {

// Read position of one open directory. Lock order: `mu` is taken before NodeTable::mu_.
struct DirState {
  std::mutex mu;
  std::unique_ptr<std::byte[]> buf;  // getdents64 buffer, allocated on first readdir
  size_t pos = 0;                    // next unread byte in buf
  size_t len = 0;                    // valid bytes in buf
  uint64_t next_offset = 0;          // cookie of the next unconsumed entry (0 = start)
};

struct OpenFile {
  UniqueFd fd;
  NodeId node = 0;
  int flags = 0;
  std::unique_ptr<DirState> dir;  // set for opendir handles
};

class HandleTable {
 public:
  HandleId add(std::shared_ptr<OpenFile> file) {
    HandleId id = next_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(mu_);
    files_.emplace(id, std::move(file));
    return id;
  }
  std::shared_ptr<OpenFile> get(HandleId id) const {
    std::lock_guard lock(mu_);
    auto it = files_.find(id);
    return it == files_.end() ? nullptr : it->second;
  }
  std::shared_ptr<OpenFile> remove(HandleId id) {
    std::lock_guard lock(mu_);
    auto it = files_.find(id);
    if (it == files_.end()) return nullptr;
    auto file = std::move(it->second);
    files_.erase(it);
    return file;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return files_.size();
  }

 private:
  std::atomic<HandleId> next_{1};
  mutable std::mutex mu_;                                          // leaf lock
  std::unordered_map<HandleId, std::shared_ptr<OpenFile>> files_;  // GUARDED_BY(mu_)
};

}  // namespace fusebpf::backing
