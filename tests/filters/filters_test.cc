// Filters on real mounts: each test mounts a temp backing dir with `fusebpf mount --filter`
// (or --user-filter), checks what processes see, and unmounts. Every access to the mount runs
// in a forked child with a timeout; on timeout the connection is aborted and the mount
// detached. Exit 77 (skip) without /dev/fuse or root, unless CI=true.
#include <fcntl.h>

#include <set>
#include <string>

#include "composefs/composefs.h"
#include "fuse/mount.h"
#include "mount_fixture.h"

namespace fusebpf::filter_tests {
namespace {

const std::string kExamples = FUSEBPF_EXAMPLES_DIR;
const std::string kProgs = FUSEBPF_TEST_PROGS_DIR;

TEST_F(FilterMount, HideDirsHidesFromLookupAndReaddirAndFollowsMapUpdates) {
  fs::create_directories(backing_ + "/.hidden");
  fs::create_directories(backing_ + "/secret");
  fs::create_directories(backing_ + "/visible");
  write("file", "hello");
  mount("--filter " + kExamples + "/hide_dirs.bpf.o");
  std::string m = mnt_;
  auto listing = [m] {
    std::string names;
    for (auto& e : fs::directory_iterator(m)) names += e.path().filename().string() + ",";
    return names;
  };
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/.hidden"); }), ENOENT);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       auto l = listing();
                       return l.find(".hidden") == std::string::npos &&
                                      l.find("visible") != std::string::npos &&
                                      l.find("secret") != std::string::npos
                                  ? 0
                                  : 1;
                     }),
            0);
  int rc = 0;
  std::string out = run_cli("map " + m + " set hidden 736563726574 01", &rc);  // "secret"
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/secret"); }), ENOENT);
  EXPECT_EQ(in_child(m, [&] { return listing().find("secret") == std::string::npos ? 0 : 1; }), 0);
  out = run_cli("map " + m + " dump hidden", &rc);
  EXPECT_NE(out.find("736563726574"), std::string::npos) << out;
  run_cli("map " + m + " delete hidden 736563726574", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/secret"); }), 0);
  // Read/write are not filtered: the file keeps kernel passthrough (no READ reaches us).
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/file") == "hello" ? 0 : 1; }), 0);
  out = run_cli("stats --json " + m, &rc);
  EXPECT_NE(out.find("\"filters\""), std::string::npos) << out;
  if (out.find("\"passthrough\": true") != std::string::npos) {
    EXPECT_EQ(out.find("\"READ\""), std::string::npos) << out;
  }
}

TEST_F(FilterMount, SharedDecisionsAreCachedAndAMapWriteDropsThem) {
  fs::create_directories(backing_ + "/visible");
  mount("--filter " + kExamples + "/hide_dirs.bpf.o --cache=auto");
  std::string m = mnt_;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), 0);
  // hide_dirs decides by name and map only: the kernel keeps the entry (one LOOKUP).
  long lookups = op_count(m, "LOOKUP");
  EXPECT_GE(lookups, 1);
  EXPECT_LE(lookups, 2);
  int rc = 0;
  std::string out = run_cli("map " + m + " set hidden 76697369626c65 01", &rc);  // "visible"
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), ENOENT);
  run_cli("map " + m + " delete hidden 76697369626c65", &rc);
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), 0);
  // The same through keys and values typed by their BTF types (char[32] key, u8 value).
  out = run_cli("map " + m + " set --typed hidden visible 1", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), ENOENT);
  out = run_cli("map " + m + " dump --typed hidden", &rc);
  EXPECT_NE(out.find("visible 1\n"), std::string::npos) << out;
  out = run_cli("map " + m + " list", &rc);
  EXPECT_NE(out.find("(string  ) value     1 (unsigned)"), std::string::npos) << out;
  out = run_cli("map " + m + " set --typed hidden other 256", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("value must be an unsigned 1-byte integer"), std::string::npos) << out;
  out = run_cli("map " + m + " delete -t hidden visible", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), 0);
}

TEST_F(FilterMount, NocacheOptionTurnsFilteredCachingOffAndUnknownOptionsAreRefused) {
  fs::create_directories(backing_ + "/visible");
  int rc = 0;
  std::string out = run_cli(
      "mount " + backing_ + " " + mnt_ + " --filter " + kExamples + "/hide_dirs.bpf.o,nocahce",
      &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("unknown filter option 'nocahce'"), std::string::npos) << out;
  EXPECT_FALSE(fusebpf::fuse::is_fuse_mountpoint(mnt_));
  mount("--filter " + kExamples + "/hide_dirs.bpf.o,nocache --cache=always");
  std::string m = mnt_;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/visible"); }), 0);
  EXPECT_GE(op_count(m, "LOOKUP"), 5);  // every path walk asked the filter again
}

TEST_F(FilterMount, PerCallerDecisionsAreNeverShared) {
  fs::create_directories(backing_ + "/staff");
  for (const std::string& d : {root_, backing_, mnt_}) ::chmod(d.c_str(), 0755);
  mount("--filter " + kProgs + "/per_caller.bpf.o --cache=always");
  std::string m = mnt_;
  auto as_nobody = [m] {
    return in_child(m, [m] {
      if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 99;
      return stat_errno(m + "/staff");
    });
  };
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/staff"); }), 0);
    // Right after root's lookup, the entry must not be served to another uid from the cache.
    EXPECT_EQ(as_nobody(), ENOENT);
  }
  EXPECT_GE(op_count(m, "LOOKUP"), 6);
}

TEST_F(FilterMount, CompileAndVerifyToolsReportVerdictsAndLeaveNoHalfObject) {
  int rc = 0;
  std::string obj = root_ + "/hide.bpf.o";
  std::string out = run_cli(
      "compile " + std::string(FUSEBPF_EXAMPLES_SRC) + "/hide_dirs/hide_dirs.bpf.c -o " + obj, &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(fs::is_regular_file(obj));
  EXPECT_NE(out.find("fuse_ops hide_dirs: lookup_prefilter"), std::string::npos) << out;
  EXPECT_NE(out.find("kernel passthrough kept"), std::string::npos) << out;
  EXPECT_NE(out.find("verdict: ok"), std::string::npos) << out;

  std::ofstream(root_ + "/broken.bpf.c") << "#include \"fuse_bpf.h\"\nint x = ;\n";
  out = run_cli("compile " + root_ + "/broken.bpf.c -o " + root_ + "/broken.bpf.o", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_FALSE(fs::exists(root_ + "/broken.bpf.o"));
  for (auto& e : fs::directory_iterator(root_))
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();

  out = run_cli("verify " + kProgs + "/bad_access.bpf.o", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("bad_access.bpf.c:7"), std::string::npos) << out;
  EXPECT_NE(out.find("REJECTED"), std::string::npos) << out;
  out = run_cli("verify " + kProgs + "/per_caller.bpf.o", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("per caller"), std::string::npos) << out;
  out = run_cli("verify " + root_ + "/broken.bpf.c", &rc);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("fusebpf verify: "), std::string::npos) << out;
}

TEST_F(FilterMount, RedactEditsReadDataAndServesTheFileFromTheDaemon) {
  write("doc", "a SECRET and another SECRET.");
  mount("--filter " + kExamples + "/redact.bpf.o");
  std::string m = mnt_;
  EXPECT_EQ(
      in_child(m, [&] { return read_file(m + "/doc") == "a XXXXXX and another XXXXXX." ? 0 : 1; }),
      0);
  EXPECT_EQ(read_file(backing_ + "/doc"), "a SECRET and another SECRET.");
  int rc = 0;
  std::string out = run_cli("stats --json " + m, &rc);
  EXPECT_NE(out.find("\"READ\""), std::string::npos) << out;
}

TEST_F(FilterMount, FlowReturnCodesErrorInAndOutputEdits) {
  fs::create_directories(backing_ + "/dir");
  write("seven", "1234567");
  write("denyme", "x");
  mount("--filter " + kProgs + "/flow.bpf.o --engine interp");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/denyme"); }), EPERM);  // negative return
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/ghost"); }), EACCES);  // error_in seen
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/nothing"); }), ENOENT);
  chmod(root_.c_str(), 0755);
  chmod(backing_.c_str(), 0755);
  write("dir/f", "x");
  EXPECT_EQ(in_child(m,
                     [&] {
                       if (setgid(65534) != 0 || setuid(65534) != 0) return 99;
                       return ::unlink((m + "/dir/f").c_str()) == 0 ? 0 : errno;
                     }),
            EACCES);  // the kernel's permission check (default_permissions) comes first: the
                      // unlink filters never see a request the caller may not make
  EXPECT_EQ(in_child(m, [&] { return ::unlink((m + "/dir/f").c_str()) == 0 ? 0 : errno; }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct stat st;
                       if (::stat((m + "/seven").c_str(), &st) != 0) return 2;
                       return (st.st_mode & 07777) == 0444 ? 0 : 1;  // the postfilter's attr edit
                     }),
            0);
}

TEST_F(FilterMount, CxxUserFilterSeesTheCaller) {
  fs::create_directories(backing_ + "/d");
  chmod(root_.c_str(), 0755);
  chmod(backing_.c_str(), 0755);
  mount("--user-filter " + std::string(FUSEBPF_DENY_UID_SO) + ":65534");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/d"); }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       if (setgid(65534) != 0 || setuid(65534) != 0) return 99;
                       return stat_errno(m + "/d");
                     }),
            EACCES);
}

TEST_F(FilterMount, RejectedProgramIsReportedWithItsSourceLineAndNothingIsMounted) {
  int rc = 0;
  std::string out =
      run_cli("mount " + backing_ + " " + mnt_ + " --filter " + kProgs + "/bad_access.bpf.o", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("bad_access.bpf.c:"), std::string::npos) << out;
  EXPECT_NE(out.find("lookup_pre"), std::string::npos) << out;
  EXPECT_FALSE(fusebpf::fuse::is_fuse_mountpoint(mnt_));
}

TEST_F(FilterMount, TraceAllCountsOpsAndStreamsPrintk) {
  write("f", "data");
  mount("--filter " + kExamples + "/trace_all.bpf.o");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/f"); }), 0);
  int rc = 0;
  // ops[FUSE_LOOKUP = 1] counted at least once.
  std::string out = run_cli("map " + m + " get ops 01000000", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.substr(0, 16), "0000000000000000") << out;
  out = run_cli("map " + m + " set .bss 00000000 01000000", &rc);  // verbose = 1
  ASSERT_EQ(rc, 0) << out;
  pid_t tracer = fork();
  if (tracer == 0) {
    int fd = ::open((root_ + "/trace.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    execl(kCli.c_str(), kCli.c_str(), "trace", m.c_str(), "--seconds", "2", nullptr);
    _exit(127);
  }
  usleep(500000);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/f"); }), 0);
  int status = 0;
  waitpid(tracer, &status, 0);
  EXPECT_NE(read_file(root_ + "/trace.txt").find("op "), std::string::npos);
}

// The Android single-program form (progs/android_flow.bpf.c, SEC("fuse/flow")).
TEST_F(FilterMount, AndroidSingleProgramHidesRenamesEditsAndStopsFiltering) {
  fs::create_directories(backing_ + "/hidden");
  fs::create_directories(backing_ + "/free/hidden");
  write("target", "the target");
  write("seven", "1234567");
  write("swap", "x");
  write("gone", "x");
  mount("--filter " + kProgs + "/android_flow.bpf.o:flow");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/hidden"); }), ENOENT);  // prefilter errno
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/alias") == "the target" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct stat st;
                       if (::stat((m + "/seven").c_str(), &st) != 0) return 2;
                       return (st.st_mode & 07777) == 0444 ? 0 : 1;  // postfilter output edit
                     }),
            0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/ghost"); }), EACCES);  // error_in seen
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/nothing"); }), ENOENT);
  // bpf_action REMOVE: below "free" nothing is filtered, so its "hidden" is visible.
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/free/hidden"); }), 0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/swap"); }), EOPNOTSUPP);  // REPLACE
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/gone"); }), ENOENT);      // backing REMOVE
  EXPECT_TRUE(fs::exists(backing_ + "/gone"));
}

TEST_F(FilterMount, AndroidUserFilterBitReachesTheCxxFilter) {
  fs::create_directories(backing_ + "/user_dir");
  fs::create_directories(backing_ + "/other");
  chmod(root_.c_str(), 0755);
  chmod(backing_.c_str(), 0755);
  mount("--filter " + kProgs + "/android_flow.bpf.o --user-filter " +
        std::string(FUSEBPF_DENY_UID_SO) + ":65534");
  std::string m = mnt_;
  auto as_nobody = [&](const std::string& path) {
    return in_child(m, [path] {
      if (setgid(65534) != 0 || setuid(65534) != 0) return 99;
      return stat_errno(path);
    });
  };
  EXPECT_EQ(as_nobody(m + "/user_dir"), EACCES);  // USER_FILTER: deny_uid's prefilter ran
  EXPECT_EQ(as_nobody(m + "/other"), 0);          // BACKING only: the C++ filter is not asked
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/user_dir"); }), 0);
}

TEST_F(FilterMount, AndroidProgramOutOfBoundsIsRefusedAndNothingIsMounted) {
  int rc = 0;
  std::string out = run_cli(
      "mount " + backing_ + " " + mnt_ + " --filter " + kProgs + "/android_bad_write.bpf.o", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("fuse/bad_write"), std::string::npos) << out;
  EXPECT_NE(out.find("outside the 256 bytes"), std::string::npos) << out;
  EXPECT_FALSE(fusebpf::fuse::is_fuse_mountpoint(mnt_));
}

// Example filters, one ctest each (tests/filters/CMakeLists.txt).
class ExampleMount : public FilterMount {
 protected:
  static std::string hex(const std::string& s) {
    std::string out;
    for (unsigned char c : s) out += fmt_hex(c);
    return out;
  }
  static std::string fmt_hex(unsigned char c) {
    const char* d = "0123456789abcdef";
    return {d[c >> 4], d[c & 15]};
  }
  void map_set(const std::string& map, const std::string& key, const std::string& value) {
    int rc = 0;
    std::string out =
        run_cli("map " + mnt_ + " set " + map + " " + hex(key) + " " + hex(value), &rc);
    ASSERT_EQ(rc, 0) << out;
  }
};

TEST_F(ExampleMount, RedirectServesNamesFromTheStoreAndNeverLeavesIt) {
  std::string store = root_ + "/store";
  fs::create_directories(store + "/ab");
  fs::create_directories(store + "/tree");
  std::ofstream(store + "/ab/cdef01") << "blob contents";
  std::ofstream(store + "/tree/inner") << "inner file";
  std::ofstream(root_ + "/outside") << "outside the store";
  fs::create_symlink("../../outside", store + "/ab/escape");
  write("a.txt", "stub");
  write("plain", "plain file");
  mount("--filter " + kExamples + "/redirect.bpf.o,root=" + store);
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/a.txt") == "stub" ? 0 : 1; }), 0);
  map_set("objects", "a.txt", "ab/cdef01");
  map_set("objects", "virtual", "/ab/cdef01");  // not in the backing dir at all
  map_set("objects", "d", "tree");
  map_set("objects", "up", "../../outside");  // ".." stops at the store root
  map_set("objects", "ln", "ab/escape");      // so does a symlink in the store
  map_set("objects", "gone", "missing");
  // The child is the blob: data, size and the inode all come from it.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/a.txt") == "blob contents" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/virtual") == "blob contents" ? 0 : 1; }), 0);
  struct stat blob {};
  ASSERT_EQ(::stat((store + "/ab/cdef01").c_str(), &blob), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct stat st {};
                       if (::stat((m + "/a.txt").c_str(), &st) != 0) return 2;
                       return st.st_ino == blob.st_ino && st.st_size == 13 ? 0 : 1;
                     }),
            0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/plain") == "plain file" ? 0 : 1; }), 0);
  // A redirected directory: lookups and creations below it go to the store's directory.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/d/inner") == "inner file" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       std::ofstream(m + "/d/new") << "created";
                       return read_file(m + "/d/new") == "created" ? 0 : 1;
                     }),
            0);
  EXPECT_EQ(read_file(store + "/tree/new"), "created");
  EXPECT_FALSE(fs::exists(backing_ + "/d"));
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/up"); }), ENOENT);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/ln"); }), ENOENT);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/gone"); }), ENOENT);
  EXPECT_EQ(read_file(backing_ + "/a.txt"), "stub");
  // Removing the map entry takes effect at once (filtered lookups are not cached).
  int rc = 0;
  run_cli("map " + m + " delete objects " + hex("a.txt"), &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/a.txt") == "stub" ? 0 : 1; }), 0);
  // readdir lists the backing names; readdirplus must not bypass the lookup filter.
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct stat st {};
                       for (auto& e : fs::directory_iterator(m)) (void)e;
                       if (::stat((m + "/d").c_str(), &st) != 0) return 3;
                       return S_ISDIR(st.st_mode) ? 0 : 1;
                     }),
            0);
}

TEST_F(ExampleMount, RedirectWithoutARootIsRefused) {
  write("a.txt", "stub");
  mount("--filter " + kExamples + "/redirect.bpf.o");
  map_set("objects", "a.txt", "ab/cdef01");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/a.txt"); }), EOPNOTSUPP);
  int rc = 0;
  std::string mnt2 = root_ + "/mnt2";
  fs::create_directories(mnt2);
  std::string out = run_cli("mount " + backing_ + " " + mnt2 + " --filter " + kExamples +
                                "/redirect.bpf.o,root=" + root_ + "/no-such-dir",
                            &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("no-such-dir"), std::string::npos) << out;
  if (fusebpf::fuse::is_fuse_mountpoint(mnt2)) {
    ADD_FAILURE() << "mounted despite a missing root";
    fusebpf::fuse::abort_fuse_connection(mnt2);
    (void)fusebpf::fuse::unmount_fuse(mnt2, true);
  }
}

TEST_F(ExampleMount, AppendCharRenamesEveryNameInLookupAndReaddir) {
  fs::create_directories(backing_ + "/dir");
  write("file", "content");
  write("dir/inner", "inner");
  // Names of every length modulo 8, so some records grow by 8 bytes and others do not.
  for (int len = 1; len <= 40; ++len) write(std::string(len, 'n'), "x");
  mount("--filter " + kExamples + "/append_char.bpf.o");
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/file_") == "content" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/dir_/inner_") == "inner" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/file"); }), ENOENT);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/_"); }), ENOENT);
  // readdir: every backing name plus '_', each exactly once, and each one can be opened.
  EXPECT_EQ(in_child(m,
                     [&] {
                       std::set<std::string> want{"file_", "dir_"}, got;
                       for (int len = 1; len <= 40; ++len) want.insert(std::string(len, 'n') + "_");
                       for (auto& e : fs::directory_iterator(m)) {
                         std::string n = e.path().filename().string();
                         if (!got.insert(n).second) return 2;  // duplicate
                         if (stat_errno(m + "/" + n) != 0) return 3;
                       }
                       return got == want ? 0 : 1;
                     }),
            0);
  EXPECT_TRUE(fs::exists(backing_ + "/file"));  // the backing names are unchanged
}

TEST_F(ExampleMount, CaseFoldFindsNamesIgnoringCase) {
  fs::create_directories(backing_ + "/Docs");
  write("Readme.TXT", "readme");
  write("Docs/Guide.md", "guide");
  write("exact", "exact");
  write("EXACT", "EXACT");
  // The module's argument is the backing directory relative to the mount's working directory
  // (the CLI's lib.so:ARG cannot carry a '/').
  fs::path cwd = fs::current_path();
  fs::current_path(root_);
  mount(std::string("--user-filter ") + FUSEBPF_CASE_FOLD_SO + ":backing");
  fs::current_path(cwd);
  std::string m = mnt_;
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/README.txt") == "readme" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/docs/GUIDE.MD") == "guide" ? 0 : 1; }), 0);
  // An exact match wins over a folded one.
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/EXACT") == "EXACT" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/exact") == "exact" ? 0 : 1; }), 0);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/nothere"); }), ENOENT);
  // Writing through a folded name changes the existing file; nothing new is created.
  EXPECT_EQ(in_child(m,
                     [&] {
                       std::ofstream(m + "/DOCS/guide.MD", std::ios::app) << "+";
                       return 0;
                     }),
            0);
  EXPECT_EQ(read_file(backing_ + "/Docs/Guide.md"), "guide+");
  EXPECT_EQ(in_child(m,
                     [&] {
                       std::set<std::string> got;
                       for (auto& e : fs::directory_iterator(m + "/docs"))
                         got.insert(e.path().filename().string());
                       return got == std::set<std::string>{"Guide.md"} ? 0 : 1;
                     }),
            0);
}

TEST_F(ExampleMount, MkdirEexistAnswersEpermWhenOnlyTheLowerFsHasTheName) {
  fs::create_directories(backing_ + "/private");
  fs::create_directories(backing_ + "/dir");
  write("secret_file", "x");
  write("file", "data");
  mount("--filter " + kExamples + "/mkdir_eexist.bpf.o");
  map_set("hidden", "private", "\x01");
  map_set("hidden", "secret_file", "\x01");
  std::string m = mnt_;
  auto mkdir_errno = [](const std::string& p) { return ::mkdir(p.c_str(), 0755) == 0 ? 0 : errno; };
  // Hidden from lookup, so the kernel sends MKDIR and the lower fs says EEXIST.
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/private"); }), ENOENT);
  EXPECT_EQ(in_child(m, [&] { return mkdir_errno(m + "/private"); }), EPERM);
  EXPECT_EQ(in_child(m, [&] { return mkdir_errno(m + "/secret_file"); }), EPERM);
  // Names the kernel can look up get EEXIST from the VFS itself (MKDIR is never sent).
  EXPECT_EQ(in_child(m, [&] { return mkdir_errno(m + "/dir"); }), EEXIST);
  EXPECT_EQ(in_child(m, [&] { return mkdir_errno(m + "/new"); }), 0);
  EXPECT_TRUE(fs::is_directory(backing_ + "/new"));
  // Other mkdir errors and other ops keep the lower fs's answer.
  EXPECT_EQ(in_child(m, [&] { return mkdir_errno(m + "/file/sub"); }), ENOTDIR);
  EXPECT_EQ(in_child(m,
                     [&] {
                       int fd =
                           ::open((m + "/secret_file").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
                       return fd >= 0 ? (::close(fd), 0) : errno;
                     }),
            EEXIST);
  EXPECT_EQ(in_child(m, [&] { return ::rmdir((m + "/new").c_str()) == 0 ? 0 : errno; }), 0);
  EXPECT_EQ(in_child(m, [&] { return read_file(m + "/file") == "data" ? 0 : 1; }), 0);
  EXPECT_EQ(read_file(backing_ + "/secret_file"), "x");
}

TEST_F(ExampleMount, PerUidShowsEachAppOnlyItsOwnDirectory) {
  const uid_t a = 10001, b = 10002;
  for (const char* d : {"/data/app_a", "/data/app_b", "/data/orphan", "/shared"}) {
    fs::create_directories(backing_ + d);
  }
  ASSERT_EQ(chown((backing_ + "/data/app_a").c_str(), a, a), 0);
  ASSERT_EQ(chown((backing_ + "/data/app_b").c_str(), b, b), 0);
  chmod((backing_ + "/data/app_a").c_str(), 0700);
  chmod((backing_ + "/data/app_b").c_str(), 0700);
  chmod((backing_ + "/data").c_str(), 0777);  // so that mkdir is decided by the filter
  chmod(root_.c_str(), 0755);
  chmod(backing_.c_str(), 0755);
  mount("--filter " + kExamples + "/per_uid.bpf.o");
  auto le32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  map_set("app_uid", "app_a", le32(a));
  map_set("app_uid", "app_b", le32(b));
  std::string m = mnt_, data = mnt_ + "/data";
  for (auto [me, them] : {std::pair{a, b}, std::pair{b, a}}) {
    uid_t self = me, other = them;  // lambdas capture variables, not structured bindings
    std::string mine = self == a ? "app_a" : "app_b", theirs = self == a ? "app_b" : "app_a";
    EXPECT_EQ(
        in_child(m, [&] { return as_id(self, [&] { return stat_errno(data + "/" + mine); }); }), 0);
    // Right after the owner looked it up, the other app still cannot see it (the dentry
    // the owner's lookup left in the kernel must not answer for another uid).
    EXPECT_EQ(
        in_child(m, [&] { return as_id(other, [&] { return stat_errno(data + "/" + mine); }); }),
        ENOENT);
    EXPECT_EQ(
        in_child(m, [&] { return as_id(self, [&] { return stat_errno(data + "/orphan"); }); }),
        ENOENT);
    EXPECT_EQ(in_child(m,
                       [&] {
                         return as_id(self, [&] {
                           return names_in(data) == std::set<std::string>{mine} ? 0 : 1;
                         });
                       }),
              0);
    EXPECT_EQ(in_child(m,
                       [&] {
                         return as_id(self, [&] {
                           std::ofstream(data + "/" + mine + "/f") << "mine";
                           return read_file(data + "/" + mine + "/f") == "mine" &&
                                          stat_errno(m + "/shared") == 0
                                      ? 0
                                      : 1;
                         });
                       }),
              0);
    // mkdir cannot tell another app's existing directory from a free name.
    for (const std::string& n : {theirs, std::string("app_new")}) {
      EXPECT_EQ(in_child(m,
                         [&] {
                           return as_id(self, [&] {
                             return ::mkdir((data + "/" + n).c_str(), 0700) == 0 ? 0 : errno;
                           });
                         }),
                EPERM);
    }
  }
  EXPECT_EQ(
      in_child(m,
               [&] {
                 return names_in(data) == std::set<std::string>{"app_a", "app_b", "orphan"} ? 0 : 1;
               }),
      0);
  EXPECT_EQ(read_file(backing_ + "/data/app_b/f"), "mine");
  EXPECT_FALSE(fs::exists(backing_ + "/data/app_new"));
}

TEST_F(ExampleMount, ComposefsServesBlobsFetchesMissingOnesAndStaysInItsStore) {
  namespace cfs = fusebpf::examples::composefs;
  std::string store = root_ + "/store", remote = root_ + "/remote";
  auto put_blob = [](const std::string& dir, const std::string& digest, const std::string& data) {
    std::string path = dir + "/" + cfs::blob_path(digest);
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << data;
  };
  std::string hello = "hello world\n", readme = "read me", tool(300000, '\0');
  for (size_t i = 0; i < tool.size(); ++i) tool[i] = static_cast<char>(i * 7 + i / 251);
  std::string tool_digest = cfs::sha256_hex(tool), escape = cfs::sha256_hex("escape");
  std::string corrupt = cfs::sha256_hex("the real contents"), lost = cfs::sha256_hex("lost");
  put_blob(store, cfs::sha256_hex(hello), hello);
  put_blob(store, cfs::sha256_hex(readme), readme);
  put_blob(remote, tool_digest, tool);                 // only in the remote: fetched lazily
  put_blob(remote, corrupt, "not the real contents");  // fails verification
  fs::create_directories(store + "/" + cfs::blob_path(escape).substr(0, 10));
  fs::create_symlink("../../../outside", store + "/" + cfs::blob_path(escape));
  std::ofstream(root_ + "/outside") << "outside the store";
  std::ofstream manifest(root_ + "/manifest");
  for (auto [path, digest] : std::initializer_list<std::pair<std::string, std::string>>{
           {"hello.txt", cfs::sha256_hex(hello)},
           {"./docs/readme", cfs::sha256_hex(readme)},
           {"same", cfs::sha256_hex(hello)},
           {"bin/tool", tool_digest},
           {"corrupt", corrupt},
           {"lost", lost},
           {"escape", escape}}) {
    manifest << digest << "  " << path << "\n";
    fs::create_directories(fs::path(backing_ + "/" + path).parent_path());
    write(path, "");  // the tree holds empty placeholders
  }
  manifest.close();
  write("plain", "not in the image");
  std::ofstream(root_ + "/cfs.conf")
      << "store=store\nremote=" << remote << "\nmanifest=manifest  # relative to the cwd\n";
  fs::path cwd = fs::current_path();
  fs::current_path(root_);  // CONF and relative paths in it are found from here
  mount("--filter " + kExamples + "/composefs.bpf.o,root=" + store + " --user-filter " +
        FUSEBPF_COMPOSEFS_FETCH_SO + ":cfs.conf");
  fs::current_path(cwd);
  std::string m = mnt_;
  auto reads = [&](const std::string& rel, const std::string& want) {
    return in_child(m, [&] { return read_file(m + "/" + rel) == want ? 0 : 1; });
  };
  EXPECT_EQ(reads("hello.txt", hello), 0);
  EXPECT_EQ(reads("same", hello), 0);
  EXPECT_EQ(reads("docs/readme", readme), 0);
  EXPECT_EQ(reads("plain", "not in the image"), 0);
  EXPECT_EQ(in_child(m,
                     [&] {
                       struct stat st {};
                       if (::stat((m + "/docs/readme").c_str(), &st) != 0) return 2;
                       return st.st_size == static_cast<off_t>(readme.size()) ? 0 : 1;
                     }),
            0);
  // Lazy pulling: the blob appears in the store, complete and verified, on first access.
  std::string fetched_path = store + "/" + cfs::blob_path(tool_digest);
  EXPECT_FALSE(fs::exists(fetched_path));
  EXPECT_EQ(reads("bin/tool", tool), 0);
  EXPECT_EQ(read_file(fetched_path), tool);
  int rc = 0;
  EXPECT_EQ(run_cli("map " + m + " get fetched " + hex(tool_digest), &rc).substr(0, 2), "02");
  EXPECT_EQ(run_cli("map " + m + " get fetched " + hex(cfs::sha256_hex(hello)), &rc).substr(0, 2),
            "01");
  // A blob that fails verification or is nowhere: EIO, and nothing lands in the store.
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/corrupt"); }), EIO);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/lost"); }), EIO);
  EXPECT_EQ(names_in(store + "/" + cfs::blob_path(corrupt).substr(0, 10)).size(), 0u);
  EXPECT_EQ(names_in(fs::path(fetched_path).parent_path()).size(), 1u);  // no temp files
  // Nothing outside the store is reachable: not through a symlink in the store, and not
  // through a map value that is not a digest (set behind the loader's back).
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/escape"); }), ENOENT);
  uint64_t evil_key = cfs::path_key("evil");
  std::string evil(64, '\0');
  evil.replace(0, 22, "../../../../etc/passwd");
  write("evil", "");
  map_set("paths", std::string(reinterpret_cast<const char*>(&evil_key), 8), evil);
  EXPECT_EQ(in_child(m, [&] { return stat_errno(m + "/evil"); }), EIO);
  // Read-only image; the blob is unchanged.
  EXPECT_EQ(in_child(m,
                     [&] {
                       int fd = ::open((m + "/hello.txt").c_str(), O_WRONLY);
                       return fd >= 0 ? (::close(fd), 0) : errno;
                     }),
            EROFS);
  EXPECT_EQ(read_file(store + "/" + cfs::blob_path(cfs::sha256_hex(hello))), hello);
  // Blob data go through kernel passthrough: no READ reaches the daemon.
  std::string out = run_cli("stats --json " + m, &rc);
  if (out.find("\"passthrough\": true") != std::string::npos) {
    EXPECT_EQ(out.find("\"READ\""), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace fusebpf::filter_tests

int main(int argc, char** argv) {
  return fusebpf::filter_tests::run_mount_tests(argc, argv, "filters_test");
}
