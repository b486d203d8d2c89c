// StackedFs: the stacked passthrough file system. It answers every FUSE operation by doing the
// same operation on the backing tree (src/backing), as the caller when --creds=caller, and hands
// file I/O to the kernel with FUSE passthrough (backing ids) when the kernel allows it.
// The BPF and C++ filter chain (issue 3) wraps these operations; without filters this is a
// plain mirror of the lower file system.
//
// Threading: all hooks are called concurrently from the session's worker threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "backing/backing.h"
#include "fuse/op_handler.h"

namespace fusebpf::filter {

class FilterChain;
class FilteredOps;

enum class CredsMode { kCaller, kDaemon };
enum class CacheMode { kNone, kAuto, kAlways };

// How long the kernel may trust what we tell it.
struct CachePolicy {
  uint64_t entry_timeout_ns = 0;
  uint64_t attr_timeout_ns = 0;
  uint64_t negative_timeout_ns = 0;  // 0: ENOENT is not cached
  bool keep_cache = false;           // keep page cache across opens
  bool cache_dir = false;            // cache readdir results
};
CachePolicy cache_policy(CacheMode mode);

struct StackedFsOptions {
  CredsMode creds = CredsMode::kCaller;
  CacheMode cache = CacheMode::kAuto;
  bool passthrough = true;  // use kernel passthrough when INIT negotiated it
};

class StackedFs : public fuse::OpHandler {
 public:
  StackedFs(backing::Backing& backing, StackedFsOptions options);
  ~StackedFs() override;

  // True once INIT enabled passthrough and it is not turned off.
  bool passthrough_active() const { return passthrough_.load(); }
  size_t node_count() const { return backing_.node_count(); }
  // Filtered names may be cached: the kernel can be told to drop them when a map changes.
  bool filtered_names_cacheable() const { return can_invalidate_; }

  // Installs the mount's filters; call before the session starts. Without filters (the
  // default) no operation pays anything for them.
  void set_filters(std::unique_ptr<FilterChain> chain);
  FilterChain* filters() const { return chain_.get(); }

  void init(const fuse::ConnectionInfo& connection, fuse::SessionControl& control) override;
  void worker_started() override;

  using O = fuse::Opcode;
  template <O Op>
  using Req = fuse::Request<Op>;
  using Slot = fuse::ReplySlot;

  void lookup(const Req<O::kLookup>& req, Slot reply) override;
  void forget(const Req<O::kForget>& req) override;
  void batch_forget(const Req<O::kBatchForget>& req) override;
  void getattr(const Req<O::kGetattr>& req, Slot reply) override;
  void setattr(const Req<O::kSetattr>& req, Slot reply) override;
  void statx(const Req<O::kStatx>& req, Slot reply) override;
  void readlink(const Req<O::kReadlink>& req, Slot reply) override;
  void symlink(const Req<O::kSymlink>& req, Slot reply) override;
  void mknod(const Req<O::kMknod>& req, Slot reply) override;
  void mkdir(const Req<O::kMkdir>& req, Slot reply) override;
  void unlink(const Req<O::kUnlink>& req, Slot reply) override;
  void rmdir(const Req<O::kRmdir>& req, Slot reply) override;
  void rename(const Req<O::kRename>& req, Slot reply) override;
  void rename2(const Req<O::kRename2>& req, Slot reply) override;
  void link(const Req<O::kLink>& req, Slot reply) override;
  void open(const Req<O::kOpen>& req, Slot reply) override;
  void create(const Req<O::kCreate>& req, Slot reply) override;
  void tmpfile(const Req<O::kTmpfile>& req, Slot reply) override;
  void read(const Req<O::kRead>& req, Slot reply) override;
  void write(const Req<O::kWrite>& req, Slot reply) override;
  void flush(const Req<O::kFlush>& req, Slot reply) override;
  void release(const Req<O::kRelease>& req, Slot reply) override;
  void fsync(const Req<O::kFsync>& req, Slot reply) override;
  void opendir(const Req<O::kOpendir>& req, Slot reply) override;
  void readdir(const Req<O::kReaddir>& req, Slot reply) override;
  void readdirplus(const Req<O::kReaddirplus>& req, Slot reply) override;
  void releasedir(const Req<O::kReleasedir>& req, Slot reply) override;
  void fsyncdir(const Req<O::kFsyncdir>& req, Slot reply) override;
  void statfs(const Req<O::kStatfs>& req, Slot reply) override;
  void setxattr(const Req<O::kSetxattr>& req, Slot reply) override;
  void getxattr(const Req<O::kGetxattr>& req, Slot reply) override;
  void listxattr(const Req<O::kListxattr>& req, Slot reply) override;
  void removexattr(const Req<O::kRemovexattr>& req, Slot reply) override;
  void access(const Req<O::kAccess>& req, Slot reply) override;
  void fallocate(const Req<O::kFallocate>& req, Slot reply) override;
  void lseek(const Req<O::kLseek>& req, Slot reply) override;
  void copy_file_range(const Req<O::kCopyFileRange>& req, Slot reply) override;
  void getlk(const Req<O::kGetlk>& req, Slot reply) override;
  void setlk(const Req<O::kSetlk>& req, Slot reply) override;
  void setlkw(const Req<O::kSetlkw>& req, Slot reply) override;
  void ioctl(const Req<O::kIoctl>& req, Slot reply) override;
  void syncfs(const Req<O::kSyncfs>& req, Slot reply) override;

 private:
  friend class FilteredOps;  // filtered_ops.cc: the same operations through the filter chain
  class CallerCreds;
  void reply_entry(Slot& reply, const backing::Entry& entry) const;
  void reply_attr(Slot& reply, const struct stat& st) const;
  void reply_open(Slot& reply, uint64_t nodeid, backing::HandleId handle, int flags, bool is_dir);
  void reply_created(Slot& reply, const backing::Backing::Created& created, int flags);
  void fill_entry(abi::fuse_entry_out& out, const backing::Entry& entry) const;
  mode_t request_umask(uint32_t umask) const;
  // The node's xattr names as `caller_uid` may see them (NUL-separated).
  Result<std::string> visible_xattr_names(backing::NodeId node, uint32_t caller_uid);
  void kill_suid_sgid(backing::NodeId node, std::optional<backing::HandleId> handle);
  void set_lock(const fuse::DecodedRequest& req, const abi::fuse_lk_in& in, bool wait, Slot reply);
  Result<void> apply_lock(const abi::fuse_lk_in& in, bool wait, const std::atomic<bool>* cancelled);
  template <typename Fn>
  void readdir_common(uint64_t fh, uint64_t offset, uint32_t size, bool plus, Slot reply, Fn);

  // Passthrough: one backing id per inode, shared by its concurrent opens.
  int32_t passthrough_acquire(uint64_t nodeid, backing::HandleId handle, int flags);
  void passthrough_release(backing::HandleId handle);
  // Makes an open reply use passthrough (or, when the backing id cannot be shared, direct I/O
  // through the daemon).
  void apply_passthrough(abi::fuse_open_out& out, uint64_t nodeid, backing::HandleId handle,
                         int flags);

  backing::Backing& backing_;
  StackedFsOptions options_;
  std::unique_ptr<FilterChain> chain_;  // null: no filters (the plain fast path)
  CachePolicy cache_;
  fuse::SessionControl* control_ = nullptr;
  std::atomic<bool> passthrough_{false};
  bool dont_mask_ = false;
  // The kernel takes FUSE_NOTIFY_INC_EPOCH: filtered names may be cached and are dropped
  // at once when a map changes (src/filter/README.md "Caching rule").
  bool can_invalidate_ = false;

  struct BackingFile {
    int32_t backing_id = -1;
    uint32_t opens = 0;
    bool writable = false;
  };
  // Lock order: passthrough_mutex_ is a leaf; the ioctls run under it so that an id is never
  // closed while another open is about to share it.
  std::mutex passthrough_mutex_;
  std::unordered_map<uint64_t, BackingFile> backing_files_;      // nodeid -> backing file
  std::unordered_map<backing::HandleId, uint64_t> handle_node_;  // handles using passthrough
};

}  // namespace fusebpf::filter
