// Whole-mount tests of the daemon's life cycle and data path: passthrough proof, concurrency,
// a killed daemon, SIGTERM, bad command lines, and a "new user" session (copy a C project in,
// build it with make, run it, rename, delete). Each test gets a fresh tmpfs and mount; every
// access goes through Mount::access / Mount::command (child process, deadline, abort).
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <thread>

#include "integration/harness.h"
#include "posix/internal/util.h"

namespace fusebpf::it {
namespace {

using posix::IsolatedRun;
using posix::Recorder;

class MountTest : public testing::Test {
 protected:
  void SetUp() override {
    auto s = Scratch::create(LowerKind::kTmpfs);
    ASSERT_TRUE(s) << s.error();
    scratch_ = std::move(*s);
    backing_ = scratch_->lower_dir("backing");
  }
  // Mounts backing_ on the scratch mount point; nullptr (and a test failure) on error.
  std::unique_ptr<Mount> mount(const std::vector<std::string>& options = {}) {
    auto m = Mount::start(backing_, scratch_->mnt(), options, scratch_->root() / "daemon.log");
    if (!m) {
      ADD_FAILURE() << m.error();
      return nullptr;
    }
    return std::move(*m);
  }
  // The fields of a recording as a map, for targeted assertions.
  static std::map<std::string, std::string> fields(const IsolatedRun& run) {
    std::map<std::string, std::string> out;
    for (const auto& e : run.recording.entries()) out[e.key] = e.value;
    return out;
  }

  std::string move_data(const std::vector<std::string>& options, uint64_t seed);

  std::unique_ptr<Scratch> scratch_;
  fs::path backing_;
};

// Reads `path` in 1 MiB chunks and records its summary under key.
void read_back(Recorder& r, const std::string& key, const fs::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string all, buf(1 << 20, '\0');
  ssize_t n;
  while (fd && (n = ::read(fd.get(), buf.data(), buf.size())) > 0) all.append(buf.data(), n);
  r.note(key, posix::summary(all));
}

void passthrough_round_trip(Recorder& r, const fs::path& mnt, const std::string& data) {
  read_back(r, "read.preexisting", mnt / "pre");
  posix::put_file(r, "write.new", mnt / "new", data);
  UniqueFd fd(::open((mnt / "new").c_str(), O_RDONLY | O_CLOEXEC));
  r.sys("fsync", ::fsync(fd.get()));
  // Drop the clean page cache of the file so the read below cannot be served from it.
  posix::returned_errno(r, "fadvise", ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED));
  read_back(r, "read.new", mnt / "new");
}

// Moves 128 MiB through a mount with `options` (a pre-existing 64 MiB file is read; a new one is
// written, fsync'd, evicted from the page cache and read back), checks the data, and returns the
// daemon's stats JSON afterwards ("" after a failure, which is already reported).
std::string MountTest::move_data(const std::vector<std::string>& options, uint64_t seed) {
  std::string data = posix::pattern(64 << 20, seed);
  if (!posix::write_quietly(backing_ / "pre", data)) {
    ADD_FAILURE() << "cannot write " << backing_ / "pre";
    return "";
  }
  auto m = mount(options);
  if (!m) return "";
  auto run = m->access([&](Recorder& r) { passthrough_round_trip(r, m->mountpoint(), data); },
                       seconds(120));
  EXPECT_EQ(run.status, IsolatedRun::Status::kOk) << run.detail;
  auto f = fields(run);
  EXPECT_EQ(f["read.preexisting"], posix::summary(data));
  EXPECT_EQ(f["read.new"], posix::summary(data));
  EXPECT_EQ(posix::slurp(backing_ / "new"), data) << "the data must be on the lower file system";
  std::string error;
  auto json = m->stats_json(&error);
  EXPECT_TRUE(json) << error;
  EXPECT_EQ(m->stop(), "");
  return json.value_or("");
}

TEST_F(MountTest, PassthroughServesDataWithoutTheDaemon) {
  std::string json = move_data({}, 77);
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json_bool(json, "passthrough"), true) << json;
  EXPECT_EQ(json_int(json, "ops.READ.count"), 0) << "128 MiB moved; the daemon saw reads:\n"
                                                 << json;
  EXPECT_EQ(json_int(json, "ops.WRITE.count"), 0) << "the daemon saw writes:\n" << json;
  EXPECT_GT(
      json_int(json, "ops.OPEN.count").value_or(0) + json_int(json, "ops.CREATE.count").value_or(0),
      0)
      << "the files were opened through the daemon:\n"
      << json;
}

TEST_F(MountTest, WithoutPassthroughTheDaemonServesData) {
  std::string json = move_data({"--no-passthrough"}, 78);
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json_bool(json, "passthrough"), false) << json;
  EXPECT_GT(json_int(json, "ops.READ.count").value_or(0), 0) << json;
  EXPECT_GT(json_int(json, "ops.WRITE.count").value_or(0), 0) << json;
}

// One worker: create, write, rename, read back, delete; all in one shared directory.
void worker(Recorder& c, const fs::path& dir, int w) {
  int errors = 0;
  for (int i = 0; i < 60; ++i) {
    fs::path tmp = dir / fmt::format("w{}-{}.tmp", w, i), final = dir / fmt::format("w{}-{}", w, i);
    std::string data = posix::pattern(4096 + i * 37, w * 1000 + i);
    errors += !posix::write_quietly(tmp, data);
    errors += ::rename(tmp.c_str(), final.c_str()) != 0;
    errors += posix::slurp(final) != data;
    if (i % 3 == 0) errors += ::unlink(final.c_str()) != 0;
  }
  fs::path sub = dir / fmt::format("sub{}", w);
  errors += ::mkdir(sub.c_str(), 0755) != 0;
  errors += !posix::write_quietly(sub / "a", "from " + std::to_string(w));
  errors += ::rename((sub / "a").c_str(), (dir / fmt::format("a{}", w)).c_str()) != 0;
  errors += ::rmdir(sub.c_str()) != 0;
  c.num("errors", errors);
}

TEST_F(MountTest, ParallelProcessesSeeAConsistentTree) {
  auto m = mount();
  ASSERT_TRUE(m);
  constexpr int kWorkers = 8;
  fs::path dir = m->mountpoint() / "shared";
  auto run = m->access(
      [&](Recorder& r) {
        r.sys("mkdir", ::mkdir(dir.c_str(), 0755));
        std::vector<posix::ChildProcess> kids;
        for (int w = 0; w < kWorkers; ++w) {
          kids.push_back(posix::start_child([&, w](Recorder& c) { worker(c, dir, w); }));
        }
        for (int w = 0; w < kWorkers; ++w)
          r.merge(fmt::format("w{}", w), posix::join_child(kids[w]));
        int bad = 0;
        for (int w = 0; w < kWorkers; ++w) {
          for (int i = 1; i < 60; ++i) {
            if (i % 3 != 0)
              bad += posix::slurp(dir / fmt::format("w{}-{}", w, i)) !=
                     posix::pattern(4096 + i * 37, w * 1000 + i);
          }
        }
        r.num("bad_contents", bad);
        r.note("listing", posix::listing(dir));
      },
      seconds(180));
  ASSERT_EQ(run.status, IsolatedRun::Status::kOk) << run.detail;
  auto f = fields(run);
  std::set<std::string> expected;
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(f[fmt::format("w{}.errors", w)], "0") << "worker " << w;
    expected.insert(fmt::format("a{}", w));
    for (int i = 0; i < 60; ++i) {
      if (i % 3 != 0) expected.insert(fmt::format("w{}-{}", w, i));
    }
  }
  EXPECT_EQ(f["bad_contents"], "0");
  EXPECT_EQ(f["listing"], fmt::format("{}", fmt::join(expected, ",")));
  // The lower file system agrees with what the mount showed.
  EXPECT_EQ(posix::listing(backing_ / "shared"), f["listing"]);
  EXPECT_EQ(m->stop(), "");
}

TEST_F(MountTest, KilledDaemonGivesEnotconnAndUmountCleansUp) {
  auto m = mount();
  ASSERT_TRUE(m);
  std::string data = posix::pattern(1 << 20, 5);
  fs::path mnt = m->mountpoint();
  auto write = m->access([&](Recorder& r) {
    posix::put_file(r, "write", mnt / "synced", data);
    UniqueFd fd(::open((mnt / "synced").c_str(), O_RDONLY | O_CLOEXEC));
    r.sys("fsync", ::fsync(fd.get()));
  });
  ASSERT_EQ(write.recording.render(), "write = ok\nfsync = ok\n") << write.detail;
  pid_t pid = m->daemon_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(wait_gone(pid, seconds(10)));
  // Requests in flight while the kernel tears the connection down may fail with ECONNABORTED
  // (or ECANCELED); after that, every access must fail with ENOTCONN. Nothing may block.
  auto after = m->access(
      [&](Recorder& r) {
        auto t0 = std::chrono::steady_clock::now();
        std::set<std::string> errors;
        bool settled = false;
        while (!settled && std::chrono::steady_clock::now() - t0 < seconds(5)) {
          int rc[3] = {::access((mnt / "synced").c_str(), F_OK),
                       ::open((mnt / "synced").c_str(), O_RDONLY),
                       ::open((mnt / "new").c_str(), O_WRONLY | O_CREAT, 0644)};
          settled = true;
          for (int v : rc) {
            std::string e = v < 0 ? posix::last_errno_name() : "succeeded";
            settled &= e == "ENOTCONN";
            errors.insert(e);
          }
        }
        r.flag("settled_on_enotconn_within_5s", settled);
        errors.erase("ENOTCONN");
        errors.erase("ECONNABORTED");
        errors.erase("ECANCELED");
        // The kernel checks permissions itself (default_permissions): until the cached
        // attributes expire (--cache=auto: 1 s), access(F_OK) is answered without the daemon.
        errors.erase("succeeded");
        r.note("other_outcomes", fmt::format("{}", fmt::join(errors, ",")));
        r.note("listing", posix::listing(mnt));
      },
      seconds(20));
  EXPECT_EQ(after.status, IsolatedRun::Status::kOk)
      << "accesses hung after the daemon died: " << after.detail;
  EXPECT_EQ(after.recording.render(),
            "settled_on_enotconn_within_5s = yes\nother_outcomes = \nlisting = <ENOTCONN>\n");
  auto umount = posix::run_command({fusebpf_bin(), "umount", mnt.string()}, seconds(30));
  EXPECT_EQ(umount.exit_code, 0) << umount.describe();
  EXPECT_FALSE(m->mounted()) << "`fusebpf umount` must clean up after a dead daemon";
  EXPECT_EQ(posix::slurp(backing_ / "synced"), data) << "fsync'd data must be on the lower fs";
}

TEST_F(MountTest, SigtermUnmountsCleanly) {
  auto m = mount();
  ASSERT_TRUE(m);
  pid_t pid = m->daemon_pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_TRUE(wait_gone(pid, seconds(15))) << "the daemon did not exit on SIGTERM";
  EXPECT_FALSE(m->mounted()) << "SIGTERM must unmount";
}

TEST_F(MountTest, BadCommandLinesFailClearlyAndMountNothing) {
  fs::path root = scratch_->root(), mnt = scratch_->mnt();
  ASSERT_TRUE(posix::write_quietly(root / "file", "x"));
  ::mkdir((backing_ / "inner").c_str(), 0755);
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string mentions;  // the stderr message must contain this
    fs::path target;       // nothing may be mounted here afterwards
  };
  std::vector<Case> cases = {
      {"missing backing", {(root / "nope").string(), mnt.string()}, "nope", mnt},
      {"backing is a file", {(root / "file").string(), mnt.string()}, "file", mnt},
      {"missing mountpoint",
       {backing_.string(), (root / "nomnt").string()},
       "nomnt",
       root / "nomnt"},
      {"mountpoint is a file",
       {backing_.string(), (root / "file").string()},
       "file",
       root / "file"},
      {"mountpoint inside backing",
       {backing_.string(), (backing_ / "inner").string()},
       "inner",
       backing_ / "inner"},
      {"mountpoint is the backing",
       {backing_.string(), backing_.string()},
       backing_.filename(),
       backing_},
      {"bad --creds", {"--creds=bogus", backing_.string(), mnt.string()}, "creds", mnt},
      {"bad --cache", {"--cache=bogus", backing_.string(), mnt.string()}, "cache", mnt},
      {"--threads 0", {"--threads", "0", backing_.string(), mnt.string()}, "threads", mnt},
      {"--threads abc", {"--threads", "abc", backing_.string(), mnt.string()}, "threads", mnt},
      {"unknown option", {"--bogus", backing_.string(), mnt.string()}, "bogus", mnt},
      {"no arguments", {}, "", mnt},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {fusebpf_bin(), "mount"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = posix::run_command(argv, seconds(30), [&] { Mount::abort_at(c.target); });
    std::printf("[%s] exit %d, stderr: %s", c.name.c_str(), r.exit_code, r.err.c_str());
    EXPECT_FALSE(r.timed_out) << c.name;
    EXPECT_NE(r.exit_code, 0) << c.name;
    EXPECT_FALSE(r.err.empty()) << c.name << ": no message on stderr";
    EXPECT_NE(r.err.find(c.mentions), std::string::npos)
        << c.name << ": the message should name " << c.mentions;
    EXPECT_FALSE(find_mount(c.target) && find_mount(c.target)->fstype.rfind("fuse", 0) == 0)
        << c.name << ": left a mount at " << c.target;
    EXPECT_TRUE(pids_with_argument(c.target.string()).empty()) << c.name << ": left a process";
    Mount::abort_at(c.target);  // in case it did mount: never leave one behind
  }
  // umount / stats of something that is not a mount.
  for (const char* cmd : {"umount", "stats"}) {
    auto r = posix::run_command({fusebpf_bin(), cmd, mnt.string()}, seconds(30));
    std::printf("[%s of a plain directory] exit %d, stderr: %s", cmd, r.exit_code, r.err.c_str());
    EXPECT_NE(r.exit_code, 0) << cmd;
    EXPECT_FALSE(r.err.empty()) << cmd;
  }
  // Already mounted: the second mount fails and the first keeps working.
  auto m = mount();
  ASSERT_TRUE(m);
  auto again = posix::run_command({fusebpf_bin(), "mount", backing_.string(), mnt.string()},
                                  seconds(30), [&] { m->abort_connection(); });
  std::printf("[already mounted] exit %d, stderr: %s", again.exit_code, again.err.c_str());
  EXPECT_NE(again.exit_code, 0);
  EXPECT_FALSE(again.err.empty());
  auto probe =
      m->access([&](Recorder& r) { r.sys("stat", ::access(mnt.c_str(), F_OK)); }, seconds(15));
  EXPECT_EQ(probe.recording.render(), "stat = ok\n") << "the first mount must survive";
  EXPECT_EQ(m->stop(), "");
  EXPECT_FALSE(find_mount(mnt)) << "a second mount was stacked on the first";
}

TEST_F(MountTest, NewUserBuildsAProjectOnTheMount) {
  fs::path tmpl = scratch_->root() / "project";
  ASSERT_EQ(::mkdir(tmpl.c_str(), 0755), 0);
  ASSERT_TRUE(posix::write_quietly(tmpl / "util.h", "int answer(void);\n"));
  ASSERT_TRUE(posix::write_quietly(tmpl / "util.c",
                                   "#include \"util.h\"\nint answer(void) { return 42; }\n"));
  ASSERT_TRUE(posix::write_quietly(tmpl / "main.c",
                                   "#include <stdio.h>\n#include \"util.h\"\nint main(void) { "
                                   "printf(\"hello from fusebpf %d\\n\", "
                                   "answer()); return 0; }\n"));
  ASSERT_TRUE(posix::write_quietly(tmpl / "Makefile",
                                   "hello: main.o libutil.a\n\tgcc -o $@ main.o -L. -lutil\n"
                                   "libutil.a: util.o\n\tar rcs $@ $^\n"
                                   "%.o: %.c util.h\n\tgcc -O2 -c -o $@ $<\n"
                                   "clean:\n\trm -f hello *.o *.a\n"));
  auto m = mount();
  ASSERT_TRUE(m);
  // The same session natively and through the mount; `ls -l` must agree (minus dates).
  auto session = [&](const fs::path& base, auto run) {
    std::string p = (base / "proj").string(), q = (base / "proj2").string();
    std::vector<std::string> log;
    auto step = [&](const std::string& cmd) {
      posix::CommandResult r = run(std::vector<std::string>{"sh", "-c", cmd});
      log.push_back(fmt::format("$ {}\n[exit {}] {}{}", cmd, r.exit_code, r.out, r.err));
      return r;
    };
    step(fmt::format("cp -r {} {}", tmpl.string(), p));
    step(fmt::format("make -C {} -s", p));
    step(fmt::format("{}/hello", p));
    step(fmt::format("ls -l {} | awk '{{print $1, $2, $3, $4, $5, $9}}'", p));
    step(fmt::format("flock {}/hello.lock -c 'echo locked'", p));
    step(fmt::format("mv {} {} && {}/hello && make -C {} -s clean && ls {}", p, q, q, q, q));
    step(fmt::format("rm -rf {} && ls -A {}", q, base.string()));
    return log;
  };
  fs::path native = scratch_->lower_dir("native");
  auto native_log = session(native, [&](const std::vector<std::string>& argv) {
    return posix::run_command(argv, seconds(120));
  });
  auto mount_log = session(m->mountpoint(), [&](const std::vector<std::string>& argv) {
    return m->command(argv, seconds(120));
  });
  ASSERT_EQ(native_log.size(), mount_log.size());
  for (size_t i = 0; i < native_log.size(); ++i) {
    std::string expected = native_log[i];
    // Paths differ between the two runs; compare with the base directory replaced.
    auto normalize = [](std::string s, const std::string& from) {
      for (size_t pos; (pos = s.find(from)) != std::string::npos;)
        s.replace(pos, from.size(), "$BASE");
      return s;
    };
    EXPECT_EQ(normalize(mount_log[i], m->mountpoint().string()),
              normalize(expected, native.string()));
  }
  EXPECT_NE(mount_log[2].find("hello from fusebpf 42"), std::string::npos) << mount_log[2];
  EXPECT_EQ(m->stop(), "");
}

}  // namespace
}  // namespace fusebpf::it

int main(int argc, char** argv) { return fusebpf::it::integration_main(argc, argv); }
