// Per-thread credentials and umask; see creds.h.
//
// Why raw syscalls: glibc's setfsuid/setgroups wrappers are fine, but setgroups() (and setuid
// family) broadcast the change to every thread of the process through a signal (nptl
// "setxid"), which would let one request's identity leak into other workers.
#include "backing/creds.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/log.h"
#include "base/sys.h"

namespace fusebpf::backing {
namespace {

thread_local bool t_prepared = false;
thread_local const CredentialScope* t_scope = nullptr;
thread_local uid_t t_daemon_uid = 0;
thread_local uid_t t_scope_uid = 0;

uid_t raw_setfsuid(uid_t uid) { return static_cast<uid_t>(::syscall(SYS_setfsuid, uid)); }
gid_t raw_setfsgid(gid_t gid) { return static_cast<gid_t>(::syscall(SYS_setfsgid, gid)); }
long raw_setgroups(const std::vector<gid_t>& groups) {
  return ::syscall(SYS_setgroups, groups.size(), groups.data());
}

std::vector<gid_t> thread_groups() {
  gid_t buf[256];
  long n = ::syscall(SYS_getgroups, 256, buf);
  if (n < 0) return {};
  return std::vector<gid_t>(buf, buf + n);
}

struct CachedGroups {
  std::chrono::steady_clock::time_point at;
  std::vector<gid_t> groups;
};

std::mutex g_groups_mu;                            // leaf lock
std::unordered_map<pid_t, CachedGroups> g_groups;  // GUARDED_BY(g_groups_mu)
constexpr auto kGroupsTtl = std::chrono::seconds(1);

std::vector<gid_t> parse_groups(const std::string& status) {
  std::vector<gid_t> out;
  size_t at = status.find("\nGroups:");
  if (at == std::string::npos) return out;
  const char* p = status.data() + at + 8;
  const char* end = status.data() + status.find('\n', at + 1);
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    gid_t g = 0;
    auto r = std::from_chars(p, end, g);
    if (r.ec != std::errc()) break;
    out.push_back(g);
    p = r.ptr;
  }
  return out;
}

}  // namespace

Result<void> prepare_worker_thread() {
  if (t_prepared) return {};
  if (::unshare(CLONE_FS) < 0) return fail_errno();
  t_prepared = true;
  return {};
}

bool worker_thread_prepared() { return t_prepared; }

mode_t apply_request_umask(mode_t mode, mode_t umask) {
  if (!t_prepared) return mode & ~umask;
  ::umask(umask & 07777);
  return mode;
}

std::vector<gid_t> caller_groups(pid_t pid) {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(g_groups_mu);
    auto it = g_groups.find(pid);
    if (it != g_groups.end() && now - it->second.at < kGroupsTtl) return it->second.groups;
  }
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  auto status = sys::read_file(AT_FDCWD, path.c_str());
  std::vector<gid_t> groups = status ? parse_groups(*status) : std::vector<gid_t>();
  std::lock_guard lock(g_groups_mu);
  if (g_groups.size() > 4096) g_groups.clear();  // bounded; entries are cheap to rebuild
  g_groups[pid] = CachedGroups{now, groups};
  return groups;
}

CredentialScope::CredentialScope(const Caller& caller) : outer_(t_scope) {
  std::vector<gid_t> groups = caller_groups(caller.pid);
  prev_uid_ = raw_setfsuid(static_cast<uid_t>(-1));
  prev_gid_ = raw_setfsgid(static_cast<gid_t>(-1));
  prev_groups_ = thread_groups();
  if (raw_setgroups(groups) < 0) {
    FUSEBPF_LOG(kDebug, "backing: setgroups failed, running as the daemon");
    return;
  }
  raw_setfsgid(caller.gid);
  raw_setfsuid(caller.uid);
  active_ = raw_setfsuid(static_cast<uid_t>(-1)) == caller.uid &&
            raw_setfsgid(static_cast<gid_t>(-1)) == caller.gid;
  if (outer_ == nullptr) t_daemon_uid = prev_uid_;
  t_scope = this;
  t_scope_uid = caller.uid;
}

CredentialScope::~CredentialScope() {
  if (t_scope != this) return;  // the switch never happened
  raw_setfsuid(prev_uid_);
  raw_setfsgid(prev_gid_);
  raw_setgroups(prev_groups_);
  t_scope = outer_;
  if (outer_ != nullptr) t_scope_uid = prev_uid_;
}

DaemonFsIdScope::DaemonFsIdScope() {
  if (t_scope == nullptr || t_scope_uid == t_daemon_uid) return;
  saved_uid_ = t_scope_uid;
  switched_ = true;
  raw_setfsuid(t_daemon_uid);
}

DaemonFsIdScope::~DaemonFsIdScope() {
  if (switched_) raw_setfsuid(saved_uid_);
}

}  // namespace fusebpf::backing
