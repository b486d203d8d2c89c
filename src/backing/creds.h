// Per-thread credentials and umask for backing operations.
//
// CredentialScope switches the fsuid, fsgid and supplementary groups of the CURRENT THREAD ONLY
// (raw SYS_setfsuid/SYS_setfsgid/SYS_setgroups; the glibc wrappers broadcast to every thread) to
// those of the requesting process, and restores the daemon's on destruction. Used for
// `--creds=caller`; with `--creds=daemon` simply never construct one.
//
// Threads: call prepare_worker_thread() once at the start of every worker thread. It unshares
// the fs struct (CLONE_FS) so umask() becomes per thread, which lets create/mkdir/mknod/tmpfile
// apply the request's umask exactly like the kernel would (ignored under a default POSIX ACL).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

#include "base/result.h"

namespace fusebpf::backing {

// Who asked: the uid/gid/pid fields of the FUSE in_header.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// Call once per worker thread, before any backing operation on it. Idempotent.
// Fails only if unshare(CLONE_FS) fails; the thread then falls back to masking modes by hand
// (which does not honour default ACLs) and leaves the process umask alone.
Result<void> prepare_worker_thread();
// True when prepare_worker_thread() succeeded on this thread.
bool worker_thread_prepared();

// Supplementary groups of `pid` from /proc/<pid>/status, cached for about one second.
// Returns an empty list when the process is gone (the caller's primary gid still applies).
std::vector<gid_t> caller_groups(pid_t pid);

// RAII: run the enclosed backing calls as `caller`. Not copyable or movable; nest-safe (the
// inner scope restores the outer one's identity). Only the constructing thread is affected.
// When the daemon is not root (no CAP_SETUID/CAP_SETGID) the switch fails silently for the
// kernel, so `active()` reports whether it took effect.
class CredentialScope {
 public:
  explicit CredentialScope(const Caller& caller);
  ~CredentialScope();
  CredentialScope(const CredentialScope&) = delete;
  CredentialScope& operator=(const CredentialScope&) = delete;

  bool active() const { return active_; }

 private:
  uid_t prev_uid_;
  gid_t prev_gid_;
  std::vector<gid_t> prev_groups_;
  const CredentialScope* outer_;
  bool active_ = false;
};

// RAII used inside the backing layer: temporarily restore the daemon's fsuid (and with it the
// fs capabilities such as CAP_DAC_READ_SEARCH needed by open_by_handle_at) while a
// CredentialScope is active on this thread. No-op otherwise.
class DaemonFsIdScope {
 public:
  DaemonFsIdScope();
  ~DaemonFsIdScope();
  DaemonFsIdScope(const DaemonFsIdScope&) = delete;
  DaemonFsIdScope& operator=(const DaemonFsIdScope&) = delete;

 private:
  bool switched_ = false;
  uid_t saved_uid_ = 0;
};

}  // namespace fusebpf::backing

namespace fusebpf::backing {

// Used by the creation calls: on a prepared thread sets this thread's umask to `umask` and
// returns `mode` unchanged (the lower kernel then masks it, or applies a default ACL);
// otherwise returns mode & ~umask.
mode_t apply_request_umask(mode_t mode, mode_t umask);

}  // namespace fusebpf::backing
