// posix_selftest: every scenario runs twice on two fresh native directories and must record the
// same thing both times (scenarios are deterministic, so any difference through a mount is the
// mount's). Spot checks pin down a few values per scenario, so a scenario that silently stopped
// exercising what it claims (e.g. every call failing with ENOENT) is caught too.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "posix/isolate.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/fusebpf-posix-XXXXXX";
    path = ::mkdtemp(tmpl);
    ::chmod(path.c_str(), 0755);  // searchable by the other-user scenarios
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path path;
};

Recorder run_once(const Scenario& s) {
  TempDir dir;
  IsolatedRun run =
      run_isolated([&](Recorder& r) { s.run(dir.path, r); }, std::chrono::seconds(120));
  EXPECT_EQ(run.status, IsolatedRun::Status::kOk) << run.detail;
  return run.recording;
}

// Values a correct native run must record (key -> value), per scenario.
const std::map<std::string, std::map<std::string, std::string>>& spot_checks();

class ScenarioTest : public testing::TestWithParam<const Scenario*> {};

TEST_P(ScenarioTest, IsDeterministic) {
  if (::geteuid() != 0) GTEST_SKIP() << "scenarios need root (chown, mknod, setresuid)";
  const Scenario& s = *GetParam();
  Recorder first = run_once(s);
  Recorder second = run_once(s);
  EXPECT_FALSE(first.empty());
  std::string diff = diff_recordings(first, second, "first", "second");
  EXPECT_EQ(diff, "") << "scenario " << s.name << " is not deterministic:\n" << diff;
  std::map<std::string, std::string> got;
  for (const auto& e : first.entries()) got[e.key] = e.value;
  EXPECT_EQ(got.count("child"), 0u) << "a child process of the scenario died";
  auto checks = spot_checks().find(s.name);
  ASSERT_NE(checks, spot_checks().end()) << "add spot checks for " << s.name;
  for (const auto& [key, value] : checks->second) {
    auto it = got.find(key);
    ASSERT_NE(it, got.end()) << s.name << ": no entry " << key << "\n" << first.render();
    if (value != "*") {
      EXPECT_EQ(it->second, value) << s.name << ": " << key;
    }
  }
}

std::vector<const Scenario*> scenario_list() {
  std::vector<const Scenario*> out;
  for (const Scenario& s : all_scenarios()) out.push_back(&s);
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, ScenarioTest, testing::ValuesIn(scenario_list()),
                         [](const testing::TestParamInfo<const Scenario*>& info) {
                           return info.param->name;
                         });

TEST(Registry, HasUniqueNamesAndEnoughScenarios) {
  std::map<std::string, int> names;
  for (const Scenario& s : all_scenarios()) ++names[s.name];
  for (const auto& [name, count] : names) EXPECT_EQ(count, 1) << name;
  EXPECT_GE(all_scenarios().size(), 35u);
  EXPECT_NE(find_scenario("rename_exchange"), nullptr);
  EXPECT_EQ(find_scenario("no_such_scenario"), nullptr);
}

const std::map<std::string, std::map<std::string, std::string>>& spot_checks() {
  // "*" only requires the entry to exist (its value depends on the lower file system).
  static const std::map<std::string, std::map<std::string, std::string>> checks = {
      {"lookup_getattr",
       {{"stat.through_file", "ENOTDIR"},
        {"link_same_ino", "yes"},
        {"stat.file", "file mode=0644 nlink=1 uid=0 gid=0 size=5"}}},
      {"create_excl",
       {{"excl.again", "EEXIST"},
        {"creat.mode_umask.stat", "file mode=0755 nlink=1 uid=0 gid=0 size=0"}}},
      {"open_trunc", {{"size_after", "0"}, {"mtime_changed", "yes"}}},
      {"open_append", {{"content", "start;a0;bb0;a1;bb1;a2;bb2;a3;bb3;a4;bb4;PE"}}},
      {"open_direct", {{"open.direct", "*"}}},
      {"open_errors", {{"dir.wronly", "EISDIR"}, {"symlink.o_nofollow", "ELOOP"}}},
      {"rw_patterns", {{"content_matches", "yes"}, {"readv_matches", "yes"}}},
      {"sparse_file", {{"hole_reads_zero", "yes"}, {"size", "67108867"}}},
      {"large_file", {{"matches", "yes"}, {"pread.matches", "yes"}}},
      {"durability", {{"fsync", "ok"}, {"content", "size=4 hash=855b556730a34a05"}}},
      {"mkdir_rmdir", {{"rmdir.not_empty", "ENOTEMPTY"}, {"parent.nlink_delta", "1"}}},
      {"unlink_errors", {{"unlink.dir", "EISDIR"}, {"unlink.missing", "ENOENT"}}},
      {"rename_plain", {{"same_ino", "yes"}, {"rename.dir_into_itself", "EINVAL"}}},
      {"rename_over_existing", {{"rename.dir_over_nonempty", "ENOTEMPTY"}, {"b.content", "AAAA"}}},
      {"rename_noreplace", {{"noreplace.existing", "EEXIST"}, {"b.content", "B"}}},
      {"rename_exchange", {{"f_is_old_d", "yes"}, {"d_is_old_f", "yes"}}},
      {"rename_cross_dir", {{"moved_dotdot_is_b", "yes"}, {"b.listing", "f2,sub"}}},
      {"rename_hardlinks", {{"rename.same_inode", "ok"}, {"listing", "a,b"}}},
      {"link_counts", {{"f", "file mode=0644 nlink=3 uid=0 gid=0 size=4"}, {"same_ino", "yes"}}},
      {"symlink_readlink",
       {{"stat.dangling", "ENOENT"},
        {"stat.loop_a", "ELOOP"},
        {"readlink.truncated.value", "targ"}}},
      {"mknod_special",
       {{"stat.null", "chardev mode=0644 nlink=1 uid=0 gid=0 size=0 rdev=1:3"},
        {"fifo.data", "ping"}}},
      {"readdir_large", {{"count", "5000"}, {"unique", "yes"}}},
      {"readdir_modify", {{"stable_seen_once", "300"}, {"entries_seen_twice", "0"}}},
      {"telldir_seekdir", {{"seekdir_resumes_same", "yes"}, {"total", "202"}}},
      {"source_tree", {{"walk.entries", "367"}, {"failures", "0"}}},
      {"dirfd_ops", {{"unlinkat.dir_without_flag", "EISDIR"}, {"readlinkat", "1"}}},
      {"chmod_chown",
       {{"chown.clears_suid.stat", "file mode=0755 nlink=1 uid=0 gid=0 size=1"},
        {"other.chmod.not_owner", "EPERM"}}},
      {"truncate_paths", {{"grown_part_zero", "yes"}, {"ftruncate.rdonly", "EINVAL"}}},
      {"utimens", {{"explicit.mtime", "1600000000.987654321"}, {"omit.mtime_kept", "yes"}}},
      {"time_updates",
       {{"write", "mtime changed ctime changed"}, {"chmod", "mtime same ctime changed"}}},
      {"statfs_sanity", {{"namemax", "255"}, {"bfree_le_blocks", "yes"}}},
      {"statx_fields", {{"statx.f.basic_mask", "yes"}, {"statx.missing", "ENOENT"}}},
      {"access_checks", {{"other.uid1000.m0644.W", "EACCES"}, {"root.m0644.X", "EACCES"}}},
      {"posix_acl", {{"other.read_via_acl", "ok"}, {"get.access", "44"}}},
      {"xattr_user", {{"create.a_again", "EEXIST"}, {"get.missing", "ENODATA"}, {"probe.a", "6"}}},
      {"fallocate_modes", {{"keep_size.size", "20480"}, {"default_extend.size", "32768"}}},
      {"seek_data_hole", {{"data.8k", "1048576"}, {"hole.0", "4096"}}},
      {"copy_file_range", {{"copy.whole.matches", "yes"}, {"copy.same_file_overlap", "EINVAL"}}},
      {"mmap_shared", {{"read_sees_mmap_write", "yes"}, {"mapping_sees_write", "HELLO"}}},
      {"tmpfile_linkat", {{"fstat.linked", "file mode=0600 nlink=1 uid=0 gid=0 size=7"}}},
      {"unlink_open_file",
       {{"read_after_unlink", "size=20000 hash=fcf877ba483ca1c7"}, {"stat.path", "ENOENT"}}},
      {"posix_locks",
       {{"child.setlk.conflict", "EAGAIN"},
        {"child.getlk.write_whole.pid_is_owner", "yes"},
        {"child_after_close.setlk.whole_file", "ok"}}},
      {"ofd_locks", {{"ofd.setlk.b_conflict", "EAGAIN"}, {"ofd.setlk.b_after_close", "ok"}}},
      {"flock_conflict", {{"b.ex_nb", "EAGAIN"}, {"b.ex_nb_after_unlock", "ok"}}},
      {"other_user",
       {{"user.open.private_file", "EACCES"},
        {"owner.mine", "file mode=0600 nlink=1 uid=1000 gid=1000 size=4"}}},
  };
  return checks;
}

}  // namespace
}  // namespace fusebpf::posix
