// Shared pieces of the real-mount filter tests (filters_test.cc, coverage_test.cc): a fixture
// with a temp backing dir and mount point that always unmounts, a child runner with a
// deadline that aborts the FUSE connection on timeout, and small helpers around the CLI.
// Needs FUSEBPF_CLI (the fusebpf binary) defined by the test target.
#pragma once

#include <grp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>

#include "fuse/mount.h"

namespace fusebpf::filter_tests {

namespace fs = std::filesystem;

inline const std::string kCli = FUSEBPF_CLI;

// Runs `fn` in a child (its return value is the exit status) with a 10 s limit (124 when it
// ran out: the connection is aborted and the mount detached).
inline int in_child(const std::string& mnt, const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    alarm(10);
    _exit(fn());
  }
  int status = 0;
  for (int i = 0; i < 1200; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  fusebpf::fuse::abort_fuse_connection(mnt);
  (void)fusebpf::fuse::unmount_fuse(mnt, true);
  waitpid(pid, &status, 0);
  return 124;
}

// Runs `fusebpf ARGS` (30 s limit) and returns its stdout and stderr.
inline std::string run_cli(const std::string& args, int* rc = nullptr) {
  std::string cmd = "timeout 30 " + kCli + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return out;
}

inline int stat_errno(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? 0 : errno;
}

inline std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// How many requests of `op` the daemon has served (from `fusebpf stats --json`).
inline long op_count(const std::string& mnt, const std::string& op) {
  std::string out = run_cli("stats --json " + mnt);
  auto at = out.find("\"" + op + "\"");
  if (at == std::string::npos) return 0;
  auto c = out.find("\"count\":", at);
  return c == std::string::npos ? -1 : std::stol(out.substr(c + 8));
}

// Runs fn with uid and gid `id` (real, effective, saved; no supplementary groups).
inline int as_id(uid_t id, const std::function<int()>& fn) {
  if (setgroups(0, nullptr) != 0 || setresgid(id, id, id) != 0 || setresuid(id, id, id) != 0) {
    return 99;
  }
  return fn();
}

inline std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
  return names;
}

class FilterMount : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fusebpf-test-XXXXXX";
    root_ = mkdtemp(tmpl);
    backing_ = root_ + "/backing";
    mnt_ = root_ + "/mnt";
    fs::create_directories(backing_);
    fs::create_directories(mnt_);
  }
  void TearDown() override {
    if (mounted_) {
      int rc = 0;
      run_cli("umount " + mnt_, &rc);
      if (rc != 0 || fusebpf::fuse::is_fuse_mountpoint(mnt_)) {
        fusebpf::fuse::abort_fuse_connection(mnt_);
        (void)fusebpf::fuse::unmount_fuse(mnt_, true);
      }
    }
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void mount(const std::string& opts) {
    int rc = 0;
    std::string out = run_cli("mount " + backing_ + " " + mnt_ + " " + opts, &rc);
    ASSERT_EQ(rc, 0) << out;
    mounted_ = true;
  }
  void write(const std::string& rel, const std::string& data) {
    std::ofstream(backing_ + "/" + rel) << data;
  }
  std::string root_, backing_, mnt_;
  bool mounted_ = false;
};

// main() of a real-mount test binary: exit 77 (skipped) without /dev/fuse or root, unless
// CI=true, where that is a failure.
inline int run_mount_tests(int argc, char** argv, const char* name) {
  bool ci = getenv("CI") && std::string(getenv("CI")) == "true";
  if (access("/dev/fuse", R_OK | W_OK) != 0 || geteuid() != 0) {
    fprintf(stderr, "%s: needs /dev/fuse and root\n", name);
    return ci ? 1 : 77;
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

}  // namespace fusebpf::filter_tests
