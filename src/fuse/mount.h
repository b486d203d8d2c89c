// Mounting and unmounting FUSE file systems. As root we call mount(2) ourselves; otherwise
// fusermount3 (setuid, from Debian's fuse3) mounts and hands us the /dev/fuse fd.
#pragma once

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::fuse {

struct MountOptions {
  std::string fsname = "fusebpf";    // shown as the source in /proc/mounts
  std::string subtype = "fusebpf";   // type "fuse.fusebpf"
  bool allow_other = true;           // let every user in (root mounts only)
  bool default_permissions = false;  // let the kernel check modes against our attributes
  bool force_fusermount = false;     // use fusermount3 even as root (tests)
};

struct MountResult {
  UniqueFd fd;  // the /dev/fuse connection
  bool via_fusermount = false;
};

// Mounts a FUSE file system at `mountpoint` and returns the connection. Errors carry a message.
Result<MountResult, std::string> mount_fuse(const std::string& mountpoint,
                                            const MountOptions& options);

// Unmounts (lazily when `lazy`). Uses umount2 as root, fusermount3 -u otherwise.
Result<void, std::string> unmount_fuse(const std::string& mountpoint, bool lazy);

// True when `path` is the root of a FUSE mount (per /proc/self/mountinfo).
bool is_fuse_mountpoint(const std::string& path);

// Aborts the FUSE connection of the mount at `path` through fusectl (unblocks every process
// waiting on it); mounts fusectl first when it is not mounted (root). Returns false when the
// connection or fusectl is not available.
bool abort_fuse_connection(const std::string& path);

// Unmounts in its destructor (lazy unmount as the last resort) unless released.
class MountGuard {
 public:
  MountGuard() = default;
  explicit MountGuard(std::string mountpoint) : mountpoint_(std::move(mountpoint)) {}
  MountGuard(MountGuard&& other) noexcept : mountpoint_(std::move(other.mountpoint_)) {
    other.mountpoint_.clear();
  }
  MountGuard& operator=(MountGuard&&) = delete;
  ~MountGuard();
  const std::string& mountpoint() const { return mountpoint_; }
  void release() { mountpoint_.clear(); }

 private:
  std::string mountpoint_;
};

}  // namespace fusebpf::fuse
