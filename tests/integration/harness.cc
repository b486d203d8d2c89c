// The integration harness; see harness.h.
#include "integration/harness.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/sys.h"

#ifndef FUSEBPF_DEFAULT_BIN
#define FUSEBPF_DEFAULT_BIN "fusebpf"
#endif
#ifndef FUSEBPF_POSIX_RUN
#define FUSEBPF_POSIX_RUN "posix_run"
#endif

namespace fusebpf::it {
namespace {

constexpr auto kMountDeadline = seconds(30);
constexpr auto kFusectl = "/sys/fs/fuse/connections";

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct MountInfoLine {
  MountEntry entry;
  std::string mountpoint;
};

std::vector<MountInfoLine> read_mountinfo() {
  std::vector<MountInfoLine> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, majmin, root, point;
    fields >> id >> parent >> majmin >> root >> point;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    MountInfoLine m;
    tail >> m.entry.fstype;
    if (std::sscanf(majmin.c_str(), "%u:%u", &m.entry.major, &m.entry.minor) != 2) continue;
    m.mountpoint = unescape_mountinfo(point);
    out.push_back(std::move(m));
  }
  return out;
}

bool is_fuse(const std::optional<MountEntry>& e) {
  return e && (e->fstype == "fuse" || e->fstype.rfind("fuse.", 0) == 0 || e->fstype == "fuseblk");
}

std::string read_text(const std::string& path) {
  auto text = sys::read_file(AT_FDCWD, path.c_str());
  return text ? *text : std::string();
}

}  // namespace

void exit_unless_prerequisites() {
  std::vector<std::string> missing;
  if (::geteuid() != 0) missing.push_back("not running as root");
  if (::access("/dev/fuse", R_OK | W_OK) != 0) missing.push_back("no usable /dev/fuse");
  bool have_fusectl = false;
  for (const auto& m : read_mountinfo()) have_fusectl |= m.entry.fstype == "fusectl";
  if (!have_fusectl && ::geteuid() == 0) {
    have_fusectl = ::mount("none", kFusectl, "fusectl", 0, nullptr) == 0;
  }
  if (!have_fusectl) missing.push_back(fmt::format("fusectl is not mounted at {}", kFusectl));
  if (::access(fusebpf_bin().c_str(), X_OK) != 0) {
    missing.push_back(fmt::format("FUSEBPF_BIN {} is not executable", fusebpf_bin()));
  }
  if (missing.empty()) return;
  std::string why = fmt::format("{}", fmt::join(missing, "; "));
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string_view(ci) == "true") {
    std::fprintf(stderr, "FAIL: integration prerequisites missing under CI=true: %s\n",
                 why.c_str());
    std::exit(1);
  }
  std::fprintf(stderr, "SKIP: integration prerequisites missing: %s\n", why.c_str());
  std::exit(77);
}

milliseconds step_timeout() {
  const char* v = std::getenv("FUSEBPF_TEST_STEP_TIMEOUT");
  int secs = v != nullptr ? std::atoi(v) : 0;
  return seconds(secs > 0 ? secs : 60);
}

std::string fusebpf_bin() {
  const char* v = std::getenv("FUSEBPF_BIN");
  return v != nullptr && *v != '\0' ? v : FUSEBPF_DEFAULT_BIN;
}

std::string posix_run_bin() { return FUSEBPF_POSIX_RUN; }

std::optional<MountEntry> find_mount(const fs::path& path) {
  std::optional<MountEntry> found;
  for (const auto& m : read_mountinfo()) {
    if (m.mountpoint == path.string()) found = m.entry;  // the last one is on top
  }
  return found;
}

std::string connection_dir(const MountEntry& entry) {
  return std::to_string((static_cast<unsigned long>(entry.major) << 20) | entry.minor);
}

std::vector<pid_t> pids_with_argument(const std::string& arg) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/proc", ec)) {
    std::string name = d.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (pid == ::getpid()) continue;
    std::string cmdline = read_text(d.path() / "cmdline");
    for (size_t pos = 0; pos < cmdline.size();) {
      size_t end = cmdline.find('\0', pos);
      if (end == std::string::npos) end = cmdline.size();
      if (cmdline.compare(pos, end - pos, arg) == 0) {
        out.push_back(pid);
        break;
      }
      pos = end + 1;
    }
  }
  return out;
}

bool process_alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) return false;
  std::string stat = read_text(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

bool wait_gone(pid_t pid, milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return true;
}

long vm_rss_kib(pid_t pid) {
  std::istringstream in(read_text(fmt::format("/proc/{}/status", pid)));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

long fd_count(pid_t pid) {
  std::error_code ec;
  long n = 0;
  for (auto it = fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return ec ? -1 : n;
}

std::string log_tail_of(const fs::path& file, int lines) {
  std::string text = read_text(file);
  size_t pos = text.size();
  for (int n = 0; n <= lines && pos > 0; ++n) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

std::string_view lower_name(LowerKind kind) { return kind == LowerKind::kTmpfs ? "tmpfs" : "ext4"; }

// ---- Scratch ----

Result<std::unique_ptr<Scratch>, std::string> Scratch::create(LowerKind kind, int ext4_mib) {
  std::unique_ptr<Scratch> s(new Scratch());
  s->kind_ = kind;
  char tmpl[] = "/tmp/fusebpf-it-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return fail(fmt::format("mkdtemp: {}", std::strerror(errno)));
  s->root_ = tmpl;
  ::chmod(tmpl, 0755);  // other-user scenarios must be able to reach the mount
  if (::mkdir(s->lower().c_str(), 0755) != 0 || ::mkdir(s->mnt().c_str(), 0755) != 0) {
    return fail(fmt::format("mkdir in {}: {}", s->root_.string(), std::strerror(errno)));
  }
  if (kind == LowerKind::kTmpfs) {
    if (::mount("fusebpf-it", s->lower().c_str(), "tmpfs", 0, "mode=0755,size=4g") != 0) {
      return fail(fmt::format("mount tmpfs at {}: {}", s->lower().string(), std::strerror(errno)));
    }
    return s;
  }
  fs::path image = s->root_ / "ext4.img";
  {
    UniqueFd fd(::open(image.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    if (!fd || ::ftruncate(fd.get(), static_cast<off_t>(ext4_mib) << 20) != 0) {
      return fail(fmt::format("create {}: {}", image.string(), std::strerror(errno)));
    }
  }
  auto mkfs = posix::run_command(
      {"mkfs.ext4", "-q", "-F", "-N", "200000", "-E", "nodiscard", image.string()}, seconds(120));
  if (mkfs.exit_code != 0) return fail("mkfs.ext4: " + mkfs.describe());
  auto loop = posix::run_command({"losetup", "--find", "--show", image.string()}, seconds(30));
  if (loop.exit_code != 0) return fail("losetup: " + loop.describe());
  s->loop_device_ = loop.out.substr(0, loop.out.find('\n'));
  if (::mount(s->loop_device_.c_str(), s->lower().c_str(), "ext4", 0, "") != 0) {
    return fail(fmt::format("mount {} at {}: {}", s->loop_device_, s->lower().string(),
                            std::strerror(errno)));
  }
  ::chmod(s->lower().c_str(), 0755);
  return s;
}

fs::path Scratch::lower_dir(const std::string& name) const {
  fs::path p = lower() / name;
  ::mkdir(p.c_str(), 0755);
  ::chmod(p.c_str(), 0755);
  return p;
}

Scratch::~Scratch() {
  if (root_.empty()) return;
  // Anything still mounted beneath root (a FUSE mount a test leaked, then `lower`): abort FUSE
  // connections first so that nothing below can block, then detach.
  std::string prefix = root_.string() + "/";
  auto mounts = read_mountinfo();
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    if (it->mountpoint.rfind(prefix, 0) != 0) continue;
    if (is_fuse(it->entry)) {
      (void)sys::write_file(
          AT_FDCWD, fmt::format("{}/{}/abort", kFusectl, connection_dir(it->entry)).c_str(), "1");
      ::umount2(it->mountpoint.c_str(), MNT_DETACH);
    } else if (::umount2(it->mountpoint.c_str(), 0) != 0) {
      ::umount2(it->mountpoint.c_str(), MNT_DETACH);
    }
  }
  if (!loop_device_.empty()) (void)posix::run_command({"losetup", "-d", loop_device_}, seconds(30));
  for (const auto& m : read_mountinfo()) {
    if (m.mountpoint.rfind(prefix, 0) == 0) {
      std::fprintf(stderr, "harness: %s is still mounted; leaving %s\n", m.mountpoint.c_str(),
                   root_.c_str());
      return;
    }
  }
  std::error_code ec;
  fs::remove_all(root_, ec);
}

// ---- Mount ----

Result<std::unique_ptr<Mount>, std::string> Mount::start(const fs::path& backing,
                                                         const fs::path& mnt,
                                                         const std::vector<std::string>& options,
                                                         const fs::path& log) {
  std::unique_ptr<Mount> m(new Mount());
  m->backing_ = backing;
  m->mnt_ = mnt;
  m->options_ = options;
  m->log_ = log;
  if (!log.empty()) {
    m->options_.push_back("--log");
    m->options_.push_back(log.string());
  }
  // FUSEBPF_IT_TRANSPORT selects the transport for tests that do not choose one themselves.
  const char* transport = std::getenv("FUSEBPF_IT_TRANSPORT");
  bool chosen = false;
  for (const auto& o : options) chosen |= o.rfind("--transport", 0) == 0;
  if (transport != nullptr && *transport != '\0' && !chosen) {
    m->options_.push_back(fmt::format("--transport={}", transport));
  }
  std::vector<std::string> argv = {fusebpf_bin(), "mount"};
  argv.insert(argv.end(), m->options_.begin(), m->options_.end());
  argv.push_back(backing.string());
  argv.push_back(mnt.string());
  auto r = posix::run_command(argv, kMountDeadline, [&] { m->abort_connection(); });
  std::string problem;
  if (r.timed_out || r.exit_code != 0) {
    problem = fmt::format("`{}` failed: {}", m->mount_command(), r.describe());
  } else if (!m->mounted()) {
    problem = fmt::format("`{}` exited 0 but there is no FUSE mount at {}", m->mount_command(),
                          mnt.string());
  }
  if (!problem.empty()) {
    m->stopped_ = true;
    std::string forced = m->force_cleanup();
    return fail(problem + (forced.empty() ? "" : "; cleanup: " + forced));
  }
  m->conn_dir_ = connection_dir(*find_mount(mnt));
  std::string error;
  if (auto json = m->stats_json(&error)) m->pid_ = json_int(*json, "pid").value_or(-1);
  if (m->pid_ <= 0) {
    auto pids = pids_with_argument(mnt.string());
    if (pids.size() == 1) m->pid_ = pids[0];
    std::fprintf(stderr,
                 "harness: no pid from `fusebpf stats --json` (%s); found by /proc scan: %d\n",
                 error.c_str(), m->pid_);
  }
  return m;
}

Mount::~Mount() {
  std::string forced = stop();
  if (!forced.empty())
    std::fprintf(stderr, "harness: unmount of %s was forced: %s\n", mnt_.c_str(), forced.c_str());
}

bool Mount::mounted() const { return is_fuse(find_mount(mnt_)); }

std::string Mount::mount_command() const {
  std::string cmd = fusebpf_bin() + " mount";
  for (const auto& o : options_) cmd += " " + o;
  return cmd + " " + backing_.string() + " " + mnt_.string();
}

void Mount::abort_connection() {
  std::string dir = conn_dir_;
  if (dir.empty()) {
    auto e = find_mount(mnt_);
    if (!is_fuse(e)) return;
    dir = connection_dir(*e);
  }
  std::string path = fmt::format("{}/{}/abort", kFusectl, dir);
  if (!sys::write_file(AT_FDCWD, path.c_str(), "1")) {
    std::fprintf(stderr, "harness: cannot abort via %s: %s\n", path.c_str(), std::strerror(errno));
  }
}

void Mount::abort_at(const fs::path& mnt) {
  Mount m;
  m.mnt_ = mnt;
  m.stopped_ = true;
  (void)m.force_cleanup();
}

posix::IsolatedRun Mount::access(const std::function<void(posix::Recorder&)>& fn,
                                 milliseconds timeout) {
  return posix::run_isolated(fn, timeout, [this] { abort_connection(); });
}

posix::CommandResult Mount::command(const std::vector<std::string>& argv, milliseconds timeout) {
  return posix::run_command(argv, timeout, [this] { abort_connection(); });
}

std::optional<std::string> Mount::stats_json(std::string* error) {
  auto r = command({fusebpf_bin(), "stats", mnt_.string(), "--json"}, seconds(15));
  if (r.exit_code != 0 || !nlohmann::json::accept(r.out)) {
    if (error != nullptr) *error = r.describe();
    return std::nullopt;
  }
  return r.out;
}

std::string Mount::force_cleanup() {
  std::string what;
  if (mounted()) {
    abort_connection();
    what += "aborted the connection; ";
    if (::umount2(mnt_.c_str(), MNT_DETACH) == 0) {
      what += "lazily unmounted; ";
    } else {
      what += fmt::format("umount2(MNT_DETACH): {}; ", std::strerror(errno));
    }
  }
  std::vector<pid_t> pids = pids_with_argument(mnt_.string());
  if (process_alive(pid_) && std::find(pids.begin(), pids.end(), pid_) == pids.end()) {
    pids.push_back(pid_);
  }
  for (pid_t p : pids) {
    if (!process_alive(p)) continue;
    ::kill(p, SIGKILL);
    what += fmt::format("SIGKILLed daemon {}{}; ", p,
                        wait_gone(p, seconds(5)) ? "" : " (still alive!)");
  }
  return what;
}

std::string Mount::stop() {
  if (stopped_) return "";
  stopped_ = true;
  if (!mounted() && !process_alive(pid_)) return "";  // already unmounted (SIGTERM, a test)
  auto r = command({fusebpf_bin(), "umount", mnt_.string()}, kMountDeadline);
  bool clean =
      !r.timed_out && r.exit_code == 0 && !mounted() && (pid_ <= 0 || wait_gone(pid_, seconds(10)));
  if (clean) return "";
  return fmt::format("`fusebpf umount` gave {}; {}", r.describe(), force_cleanup());
}

// ---- JSON ----

namespace {

const nlohmann::json* walk(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* node = &root;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &(*node)[part];
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return node;
}

}  // namespace

std::optional<long long> json_int(const std::string& text, const std::string& path) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  const nlohmann::json* v = walk(j, path);
  if (v == nullptr) {
    if (path.rfind("ops.", 0) == 0 && j.contains("ops")) return 0;  // never seen: zero
    return std::nullopt;
  }
  if (!v->is_number()) return std::nullopt;
  return v->get<long long>();
}

std::optional<bool> json_bool(const std::string& text, const std::string& key) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  const nlohmann::json* v = j.is_discarded() ? nullptr : walk(j, key);
  if (v == nullptr || !v->is_boolean()) return std::nullopt;
  return v->get<bool>();
}

std::optional<std::string> json_string(const std::string& text, const std::string& key) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  const nlohmann::json* v = j.is_discarded() ? nullptr : walk(j, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

int integration_main(int argc, char** argv,
                     const std::function<bool(std::vector<std::string>&)>& parse_extra) {
  testing::InitGoogleTest(&argc, argv);
  std::vector<std::string> extra(argv + 1, argv + argc);
  if (parse_extra && !parse_extra(extra)) return 2;
  if (!extra.empty()) {
    std::fprintf(stderr, "unknown arguments: %s\n",
                 fmt::format("{}", fmt::join(extra, " ")).c_str());
    return 2;
  }
  exit_unless_prerequisites();
  return RUN_ALL_TESTS();
}

}  // namespace fusebpf::it
