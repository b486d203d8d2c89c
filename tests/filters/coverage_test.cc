// Issue 3 "Done when" on real mounts: every return code, every fuse_buffer rule, program
// association (inheritance, FUSE_ENTRY_BPF by name, FUSE_ENTRY_REMOVE_BPF), the C++ filter's
// pre and post hooks with the caller, and kernel passthrough kept for files whose program
// does not filter read/write. Programs: progs/{codes,buffers,assoc}.bpf.c; the C++ filter
// coverage_filter.cc logs every hook it runs to a file the test reads. Every access to the
// mount runs in a child with a deadline (mount_fixture.h).
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <string>
#include <vector>

#include "mount_fixture.h"

namespace fusebpf::filter_tests {
namespace {

const std::string kProgs = FUSEBPF_TEST_PROGS_DIR;
const std::string kCoverageSo = FUSEBPF_COVERAGE_FILTER_SO;

// Mounts with codes.bpf.o (table `table`) and the logging C++ filter.
class CodesMount : public FilterMount {
 protected:
  void mount_codes(const std::string& table) {
    log_ = root_ + "/hooks.log";
    mount("--filter " + kProgs + "/codes.bpf.o:" + table + " --user-filter " + kCoverageSo + ":" +
          log_);
  }
  // The log lines of `hook` for the name `name`.
  std::vector<std::string> hook_lines(const std::string& hook, const std::string& name) {
    std::vector<std::string> lines;
    std::ifstream f(log_);
    std::string prefix = hook + " name=" + name + " ", line;
    while (std::getline(f, line))
      if (line.starts_with(prefix)) lines.push_back(line);
    return lines;
  }
  std::string log_;
};

int errno_of(int rc) { return rc == 0 ? 0 : errno; }

TEST_F(CodesMount, UserOnStatfsAndUnlinkIsTheCxxPostfilterInsteadOfTheBackingOp) {
  write("user_keep", "still here");
  mount_codes("codes");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct statvfs v {};
                       if (::statvfs(m.c_str(), &v) != 0) return 2;
                       return v.f_blocks == 12345 && v.f_files == 777 && v.f_namemax == 200 ? 0 : 1;
                     }),
            0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::unlink((m + "/user_keep").c_str())); }), 0);
  EXPECT_EQ(read_file(backing_ + "/user_keep"), "still here");  // no backing unlink
  // The whole op: the plain opcode (STATFS 0x11, UNLINK 0xa), no stage bit, error_in 0.
  auto statfs = hook_lines("statfs_post", "");
  ASSERT_FALSE(statfs.empty());
  EXPECT_NE(statfs[0].find("op=0x11 err=0 "), std::string::npos) << statfs[0];
  auto unlink = hook_lines("unlink_post", "user_keep");
  ASSERT_EQ(unlink.size(), 1u);
  EXPECT_NE(unlink[0].find("op=0xa err=0 "), std::string::npos) << unlink[0];
}

TEST_F(CodesMount, UserOnLookupRunsTheBackingOpThenTheCxxPostfilter) {
  write("user_ok", "x");
  write("user_fail", "x");
  mount_codes("codes");
  std::string m = mnt_;
  struct stat want {};
  ASSERT_EQ(::stat((backing_ + "/user_ok").c_str(), &want), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct stat st {};
                       if (::stat((m + "/user_ok").c_str(), &st) != 0) return errno;
                       return st.st_ino == want.st_ino ? 0 : 1;  // the backing node
                     }),
            0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/user_fail"); }), ENOLINK);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/user_none"); }), ENOENT);
  auto ok = hook_lines("lookup_post", "user_ok");
  ASSERT_FALSE(ok.empty());
  EXPECT_NE(ok[0].find("op=0x20001 err=0 "), std::string::npos) << ok[0];
  auto none = hook_lines("lookup_post", "user_none");
  ASSERT_FALSE(none.empty());
  EXPECT_NE(none[0].find("err=-2 "), std::string::npos) << none[0];  // the backing ENOENT
}

TEST_F(CodesMount, UserPrefilterLetsTheCxxPrefilterPickTheNextStep) {
  for (const char* n : {"upre_deny", "upre_post", "upre_post_fail", "upre_again", "renamed"})
    write(n, n);
  mount_codes("codes");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/upre_deny"); }), EACCES);
  EXPECT_FALSE(hook_lines("lookup_pre", "upre_deny").empty());
  // USER_POSTFILTER from the C++ prefilter: the C++ postfilter runs (and may fail the op).
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/upre_post"); }), 0);
  EXPECT_FALSE(hook_lines("lookup_post", "upre_post").empty());
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/upre_post_fail"); }), ENOLINK);
  // USER_PREFILTER again means CONTINUE: the backing op, no postfilter at all.
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/upre_again"); }), 0);
  EXPECT_FALSE(hook_lines("lookup_pre", "upre_again").empty());
  EXPECT_TRUE(hook_lines("lookup_post", "upre_again").empty());
  // The C++ prefilter's name edit is what the backing lookup gets.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/upre_ren") == "renamed" ? 0 : 1; }), 0);
  EXPECT_FALSE(fs::exists(backing_ + "/upre_ren"));
}

TEST_F(CodesMount, ContinuePostfilterAndUserPostfilterReachOnlyTheirHooks) {
  for (const char* n : {"plain", "post_x", "upst_x", "deny_x"}) write(n, n);
  mount_codes("codes");
  std::string m = mnt_;
  // CONTINUE: backing op only (the BPF postfilter would fail it with EPROTO).
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/plain") == "plain" ? 0 : 1; }), 0);
  EXPECT_TRUE(hook_lines("lookup_post", "plain").empty());
  // POSTFILTER: the BPF postfilter, which hands on to the C++ one with USER_POSTFILTER.
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/post_x"); }), 0);
  EXPECT_FALSE(hook_lines("lookup_post", "post_x").empty());
  // USER_POSTFILTER from the prefilter: straight to C++ (the BPF postfilter says EPROTO).
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/upst_x"); }), 0);
  EXPECT_FALSE(hook_lines("lookup_post", "upst_x").empty());
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/deny_x"); }), EPERM);
  // The C++ prefilter runs only when the program asks for it.
  EXPECT_TRUE(hook_lines("lookup_pre", "plain").empty());
  EXPECT_TRUE(hook_lines("lookup_pre", "upst_x").empty());
}

TEST_F(CodesMount, CallDefaultAndHooklessOpsRunDefaultFilter) {
  write("dflt_x", "x");
  write("file", "data");
  mount_codes("codes");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/dflt_x"); }), ENOTTY);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::mkdir((m + "/d").c_str(), 0755)); }), EROFS);
  EXPECT_FALSE(fs::exists(backing_ + "/d"));
  // Other ops without hooks (getattr, open, read, release) get CONTINUE from default_filter.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/file") == "data" ? 0 : 1; }), 0);
}

TEST_F(CodesMount, CallDefaultWithoutDefaultFilterContinues) {
  write("dflt_x", "x");
  mount_codes("nodefault");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/dflt_x"); }), 0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::mkdir((m + "/d").c_str(), 0755)); }), 0);
  EXPECT_TRUE(fs::is_directory(backing_ + "/d"));
}

TEST_F(CodesMount, CxxPreAndPostHooksSeeTheCallersUidGidAndPid) {
  chmod(root_.c_str(), 0755);
  chmod(backing_.c_str(), 0777);
  mount_codes("codes");
  std::string m = mnt_;
  // The child looks up a name carrying its own pid (the pid the daemon must report).
  auto as = [&](uid_t id) {
    return in_child(m, [&, id] {
      return as_id(id, [&] {
        std::string name = "upre_post_" + std::to_string(getpid());
        std::ofstream(m + "/" + name) << "x";  // lookup (ENOENT), create, lookup again
        return stat_errno(m + "/" + name);
      });
    });
  };
  for (uid_t id : {0u, 65534u}) {
    ASSERT_EQ(as(id), 0) << id;
    bool pre = false, post = false;
    std::ifstream f(log_);
    for (std::string line; std::getline(f, line);) {
      auto at = line.find("name=upre_post_");
      if (at == std::string::npos) continue;
      std::string pid = line.substr(at + 15, line.find(' ', at) - at - 15);
      if (line.find(" uid=" + std::to_string(id) + " gid=" + std::to_string(id) + " pid=" + pid) ==
          std::string::npos) {
        continue;
      }
      // LOOKUP (1) | FUSE_PREFILTER / FUSE_POSTFILTER
      pre |= line.starts_with("lookup_pre ") && line.find(" op=0x10001 ") != std::string::npos;
      post |= line.starts_with("lookup_post ") && line.find(" op=0x20001 ") != std::string::npos;
    }
    EXPECT_TRUE(pre && post) << id << "\n" << read_file(log_);
  }
}

// ---- fuse_buffer rules (progs/buffers.bpf.c) ----------------------------------------------

class BufferMount : public FilterMount {};

TEST_F(BufferMount, ImmutableNamesAndPostfilterInputsCannotBeWritten) {
  fs::create_directories(backing_ + "/gone_dir");
  write("old", "o");
  write("old2", "o2");
  write("victim", "v");
  mount("--filter " + kProgs + "/buffers.bpf.o");
  std::string m = mnt_;
  auto p = [&](const char* n) { return m + "/" + n; };
  EXPECT_EQ(in_child(m, [&] { return errno_of(::mkdir(p("newdir").c_str(), 0755)); }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       int fd = ::open(p("created").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
                       return fd < 0 ? errno : (::close(fd), 0);
                     }),
            0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::mkfifo(p("fifo").c_str(), 0644)); }), 0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::symlink("target/path", p("link").c_str())); }), 0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::rename(p("old").c_str(), p("new").c_str())); }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       return errno_of(::renameat2(AT_FDCWD, p("old2").c_str(), AT_FDCWD,
                                                   p("new2").c_str(), RENAME_NOREPLACE));
                     }),
            0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::unlink(p("victim").c_str())); }), 0);
  EXPECT_EQ(in_child(m, [&] { return errno_of(::rmdir(p("gone_dir").c_str())); }), 0);
  EXPECT_TRUE(fs::is_directory(backing_ + "/newdir"));
  EXPECT_TRUE(fs::is_regular_file(backing_ + "/created"));
  EXPECT_TRUE(fs::is_fifo(backing_ + "/fifo"));
  EXPECT_EQ(fs::read_symlink(backing_ + "/link"), "target/path");
  EXPECT_EQ(read_file(backing_ + "/new"), "o");
  EXPECT_EQ(read_file(backing_ + "/new2"), "o2");
  EXPECT_FALSE(fs::exists(backing_ + "/victim"));
  EXPECT_FALSE(fs::exists(backing_ + "/gone_dir"));
}

TEST_F(BufferMount, VariableNamesShrinkGrowToMaxSizeAndAreCopiedBeforeTheFirstWrite) {
  for (const char* n : {"shr", "grown_target", "Cow_abc", "keep_it"}) write(n, n);
  mount("--filter " + kProgs + "/buffers.bpf.o");
  std::string m = mnt_;
  // Each name is rewritten by the lookup prefilter; the file read is the edited name's.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/shrink_me_please") == "shr" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/grow") == "grown_target" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/cow_abc") == "Cow_abc" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/keep") == "keep_it" ? 0 : 1; }), 0);
  // The hooks' own checks (max_size, return_len, kept contents) answer with an errno.
  for (const char* n : {"shrink_me_please", "grow", "cow_abc", "keep"})
    EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/" + n); }), 0) << n;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/absent"); }), ENOENT);
}

TEST_F(BufferMount, DataBuffersAreCopiedBeforeTheFirstWriteAndGrowOnlyToTheCallersSize) {
  write("file", "hello");
  mount("--filter " + kProgs + "/assoc.bpf.o:reads");  // the "reads" table at the root
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/file") == "hello!" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       int fd = ::open((m + "/new").c_str(), O_CREAT | O_WRONLY, 0644);
                       if (fd < 0) return errno;
                       ssize_t n = ::write(fd, "hello world", 11);
                       int err = n == 11 ? 0 : n < 0 ? errno : 1;
                       ::close(fd);
                       return err;
                     }),
            0);
  EXPECT_EQ(read_file(backing_ + "/new"), "Hello world");
}

// ---- association and passthrough (progs/assoc.bpf.c) --------------------------------------

class AssocMount : public FilterMount {};

TEST_F(AssocMount, ChildrenInheritTheProgramEntriesSetOrRemoveIt) {
  for (const char* d : {"sub/deeper", "free/sub", "other/sub", "reads"})
    fs::create_directories(backing_ + "/" + d);
  for (const char* f :
       {"hidden", "secret", "sub/hidden", "sub/deeper/hidden", "free/hidden", "free/sub/hidden",
        "other/hidden", "other/secret", "other/sub/secret", "other/sub/hidden"}) {
    write(f, "x");
  }
  mount("--filter " + kProgs + "/assoc.bpf.o:assoc");
  std::string m = mnt_;
  std::vector<std::pair<std::string, int>> want = {
      {"hidden", ENOENT},           {"secret", 0},                  // the root's program
      {"sub/hidden", ENOENT},       {"sub/deeper/hidden", ENOENT},  // inherited
      {"free/hidden", 0},           {"free/sub/hidden", 0},         // REMOVE_BPF
      {"other/hidden", 0},          {"other/secret", EACCES},       // BPF "second"
      {"other/sub/secret", EACCES}, {"other/sub/hidden", 0},        // ...inherited from it
  };
  for (auto& [path, err] : want)
    EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/" + path); }), err) << path;
}

TEST_F(AssocMount, PassthroughStaysOnUnlessTheProgramFiltersReads) {
  fs::create_directories(backing_ + "/reads");
  write("plain", "hello");
  write("reads/file", "hello");
  mount("--filter " + kProgs + "/assoc.bpf.o:assoc");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/plain") == "hello" ? 0 : 1; }), 0);
  std::string out = run_cli("stats --json " + m);
  EXPECT_NE(out.find("\"passthrough\": true"), std::string::npos) << out;
  EXPECT_EQ(op_count(m, "READ"), 0) << out;
  // Below "reads" the program has read_iter hooks: the daemon serves (and edits) the data.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/reads/file") == "hello!" ? 0 : 1; }), 0);
  EXPECT_GT(op_count(m, "READ"), 0);
  EXPECT_EQ(read_file(backing_ + "/reads/file"), "hello");
}

}  // namespace
}  // namespace fusebpf::filter_tests

int main(int argc, char** argv) {
  return fusebpf::filter_tests::run_mount_tests(argc, argv, "filters_coverage");
}
