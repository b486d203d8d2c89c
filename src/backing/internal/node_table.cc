// NodeTable implementation; see node_table.h for the invariants.
#include "backing/internal/node_table.h"

#include <fcntl.h>

#include <cstring>

#include "backing/creds.h"
#include "base/log.h"

namespace fusebpf::backing {
namespace {

constexpr size_t kMaxHandleBytes = 128;  // MAX_HANDLE_SZ

struct HandleBuf {
  struct file_handle fh;
  unsigned char bytes[kMaxHandleBytes];
};

}  // namespace

CompactHandle& CompactHandle::operator=(CompactHandle&& o) noexcept {
  if (this == &o) return *this;
  clear();
  type_ = o.type_;
  size_ = o.size_;
  if (size_ > kInline) {
    heap_ = o.heap_;
  } else {
    std::memcpy(inline_, o.inline_, size_);
  }
  o.size_ = 0;
  return *this;
}

void CompactHandle::clear() {
  if (size_ > kInline) delete[] heap_;
  size_ = 0;
}

bool CompactHandle::assign_from_fd(int fd) {
  HandleBuf buf;
  buf.fh.handle_bytes = kMaxHandleBytes;
  int mount_id = 0;
  if (::name_to_handle_at(fd, "", &buf.fh, &mount_id, AT_EMPTY_PATH) < 0) return false;
  clear();
  type_ = buf.fh.handle_type;
  size_ = static_cast<uint8_t>(buf.fh.handle_bytes);
  uint8_t* dst = inline_;
  if (size_ > kInline) dst = heap_ = new uint8_t[size_];
  std::memcpy(dst, buf.fh.f_handle, size_);
  return size_ != 0;
}

void CompactHandle::copy_to(void* out) const {
  auto* fh = static_cast<struct file_handle*>(out);
  fh->handle_bytes = size_;
  fh->handle_type = type_;
  std::memcpy(fh->f_handle, bytes(), size_);
}

NodeTable::NodeTable(UniqueFd root_fd, NodeKey root_key, bool use_handles, size_t fd_capacity)
    : root_(std::make_shared<const UniqueFd>(std::move(root_fd))),
      root_key_(root_key),
      use_handles_(use_handles),
      fd_capacity_(fd_capacity == 0 ? 1 : fd_capacity) {
  nodes_.resize(2);
  Node& root = nodes_[1];
  root.key = root_key;
  root.nlookup = 1;
  root.pinned = root_;
  by_key_.emplace(root_key, 1);
}

NodeTable::Node* NodeTable::live(NodeId id) {
  uint64_t index = id & 0xffffffffu;
  if (index == 0 || index >= nodes_.size()) return nullptr;
  Node& n = nodes_[index];
  if (n.nlookup == 0 || n.generation != generation_of(id)) return nullptr;
  return &n;
}

Result<FdLease> NodeTable::fd(NodeId id) {
  {
    std::lock_guard lock(mu_);
    Node* n = live(id);
    if (n == nullptr) return fail(Errno::kStale);
    if (n->pinned) return FdLease(n->pinned);
    auto it = lru_index_.find(id);
    if (it != lru_index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return FdLease(it->second->fd);
    }
  }
  return reopen_by_handle(id);
}

Result<FdLease> NodeTable::reopen_by_handle(NodeId id) {
  HandleBuf buf;
  {
    std::lock_guard lock(mu_);
    Node* n = live(id);
    if (n == nullptr) return fail(Errno::kStale);
    if (n->handle.empty()) return fail(Errno::kStale);
    n->handle.copy_to(&buf.fh);
  }
  int raw;
  {
    DaemonFsIdScope daemon;  // open_by_handle_at needs CAP_DAC_READ_SEARCH
    raw = ::open_by_handle_at(root_->get(), &buf.fh, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  }
  if (raw < 0) {
    Errno e = last_errno();
    // A vanished inode is ESTALE; anything else (EMFILE, ENOMEM) is passed on.
    return fail(e == Errno::kNoEnt ? Errno::kStale : e);
  }
  auto fd = std::make_shared<const UniqueFd>(raw);
  std::lock_guard lock(mu_);
  if (live(id) == nullptr) return fail(Errno::kStale);
  auto it = lru_index_.find(id);
  if (it != lru_index_.end()) return FdLease(it->second->fd);  // raced: keep the first
  cache_put(id, fd);
  return FdLease(std::move(fd));
}

void NodeTable::cache_put(NodeId id, std::shared_ptr<const UniqueFd> fd) {
  lru_.push_front(LruEntry{id, std::move(fd)});
  lru_index_[id] = lru_.begin();
  while (lru_.size() > fd_capacity_) {
    lru_index_.erase(lru_.back().id);
    lru_.pop_back();  // the fd closes now unless a lease still holds it
  }
}

void NodeTable::cache_erase(NodeId id) {
  auto it = lru_index_.find(id);
  if (it == lru_index_.end()) return;
  lru_.erase(it->second);
  lru_index_.erase(it);
}

std::optional<NodeId> NodeTable::ref_existing(const NodeKey& key) {
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return std::nullopt;
  nodes_[it->second].nlookup++;
  return id_of(it->second);
}

uint32_t NodeTable::alloc_slot() {
  if (!free_.empty()) {
    uint32_t index = free_.back();
    free_.pop_back();
    return index;
  }
  nodes_.emplace_back();
  return static_cast<uint32_t>(nodes_.size() - 1);
}

Result<NodeId> NodeTable::ref_or_insert(const NodeKey& key, UniqueFd fd, bool refresh_handle) {
  CompactHandle handle;
  bool have_handle = use_handles_ && handle.assign_from_fd(fd.get());
  auto shared = std::make_shared<const UniqueFd>(std::move(fd));
  std::lock_guard lock(mu_);
  auto it = by_key_.find(key);
  if (it != by_key_.end()) {
    Node& n = nodes_[it->second];
    n.nlookup++;
    NodeId id = id_of(it->second);
    if (refresh_handle && have_handle) {
      n.handle = std::move(handle);
      cache_erase(id);
      if (!n.pinned) cache_put(id, std::move(shared));
    }
    return id;
  }
  if (nodes_.size() > 0xfffffff0u && free_.empty()) return fail(Errno::kNoSpc);
  uint32_t index = alloc_slot();
  Node& n = nodes_[index];
  n.key = key;
  n.nlookup = 1;
  n.open_count = 0;
  n.handle = std::move(handle);
  by_key_.emplace(key, index);
  NodeId id = id_of(index);
  if (have_handle) {
    cache_put(id, std::move(shared));
  } else {
    n.pinned = std::move(shared);  // no handle: the node must keep its fd
  }
  return id;
}

bool NodeTable::ref(NodeId id, uint64_t n) {
  std::lock_guard lock(mu_);
  Node* node = live(id);
  if (node == nullptr) return false;
  node->nlookup += n;
  return true;
}

void NodeTable::free_slot(uint32_t index) {
  Node& n = nodes_[index];
  NodeId id = id_of(index);
  by_key_.erase(n.key);
  cache_erase(id);
  n.pinned.reset();
  n.handle = CompactHandle();
  n.key = {};
  n.nlookup = 0;
  n.open_count = 0;
  n.generation++;
  free_.push_back(index);
}

void NodeTable::forget(NodeId id, uint64_t count) {
  std::lock_guard lock(mu_);
  Node* n = live(id);
  if (n == nullptr) {
    FUSEBPF_LOG(kDebug, "backing: forget of unknown node {:#x}", id);
    return;
  }
  uint32_t index = static_cast<uint32_t>(id);
  if (index == 1) return;  // the root lives as long as the table
  n->nlookup = count >= n->nlookup ? 0 : n->nlookup - count;
  if (n->nlookup == 0) free_slot(index);
}

void NodeTable::pin(NodeId id, const FdLease& lease) {
  std::lock_guard lock(mu_);
  Node* n = live(id);
  if (n == nullptr) return;
  n->open_count++;
  if (!n->pinned) n->pinned = lease.shared();
}

void NodeTable::unpin(NodeId id) {
  std::lock_guard lock(mu_);
  Node* n = live(id);
  if (n == nullptr || n->open_count == 0) return;
  if (--n->open_count == 0 && !n->handle.empty() && static_cast<uint32_t>(id) != 1) {
    n->pinned.reset();
  }
}

size_t NodeTable::size() const {
  std::lock_guard lock(mu_);
  return by_key_.size();
}

size_t NodeTable::cached_fds() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace fusebpf::backing
