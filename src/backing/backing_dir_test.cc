// Backing directories (readdir/readdirplus with resume, 100k entries) and scale: more nodes
// than the fd cache, and the resident memory per remembered node.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "backing/backing.h"
#include "backing/test_util.h"

namespace fusebpf::backing {
namespace {

using testing::err_of;
using testing::TempDir;

void make_files(const TempDir& dir, const std::string& sub, int count) {
  dir.mkdir(sub);
  UniqueFd d(::openat(dir.fd(), sub.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  for (int i = 0; i < count; i++) {
    std::string name = "f" + std::to_string(i);
    int fd = ::openat(d.get(), name.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
}

TEST(BackingDir, ReaddirListsEverythingAndResumes) {
  TempDir dir;
  make_files(dir, "d", 50);
  auto b = testing::make_backing(dir.path());
  auto d = b->lookup(kRootNode, "d");
  ASSERT_TRUE(d.has_value());
  auto h = b->opendir(d->node, O_RDONLY);
  ASSERT_TRUE(h.has_value());
  // Pages of 7 entries, each resumed from the last offset handed out.
  std::vector<std::string> names;
  uint64_t offset = 0;
  for (;;) {
    int taken = 0;
    ASSERT_TRUE(b->readdir(*h, offset, [&](const DirEntry& e) {
      if (taken == 7) return false;
      names.emplace_back(e.name);
      offset = e.offset;
      taken++;
      return true;
    }));
    if (taken == 0) break;
  }
  EXPECT_EQ(names.size(), 52u);  // 50 files + "." + ".."
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 52u);
  // Restart from 0 and from a remembered middle offset: the same sequence again.
  std::vector<std::string> again;
  ASSERT_TRUE(b->readdir(*h, 0, [&](const DirEntry& e) {
    again.emplace_back(e.name);
    return true;
  }));
  EXPECT_EQ(again, names);
  b->releasedir(*h);
  EXPECT_EQ(err_of(b->readdir(*h, 0, [](const DirEntry&) { return true; })), EBADF);
  auto f = b->lookup(d->node, "f1");
  auto fh = b->open(f->node, O_RDONLY);
  EXPECT_EQ(err_of(b->readdir(*fh, 0, [](const DirEntry&) { return true; })), ENOTDIR);
  EXPECT_EQ(err_of(b->opendir(f->node, O_RDONLY)), ENOTDIR);
  EXPECT_TRUE(b->fsyncdir(*b->opendir(d->node, O_RDONLY), false).has_value());
}

TEST(BackingDir, ReaddirplusLooksUpAndUndoesRefusedEntries) {
  TempDir dir;
  make_files(dir, "d", 10);
  auto b = testing::make_backing(dir.path());
  auto d = b->lookup(kRootNode, "d");
  auto h = b->opendir(d->node, O_RDONLY);
  ASSERT_TRUE(h.has_value());
  size_t nodes_before = b->node_count();
  int seen = 0;
  std::vector<NodeId> ids;
  ASSERT_TRUE(b->readdirplus(*h, 0, [&](const DirEntry& e, const Entry& entry) {
    if (seen++ == 6) return false;  // refuse one: its lookup must be dropped again
    if (e.name == "." || e.name == "..") {
      EXPECT_EQ(entry.node, 0u);
    } else {
      EXPECT_NE(entry.node, 0u);
      EXPECT_EQ(entry.attr.st_ino, e.ino);
      ids.push_back(entry.node);
    }
    return true;
  }));
  EXPECT_EQ(b->node_count(), nodes_before + ids.size());
  for (NodeId id : ids) b->forget(id, 1);
  EXPECT_EQ(b->node_count(), nodes_before);
}

// One tmpfs tree with 200k files shared by the large tests (creating it dominates runtime).
class BigTree : public ::testing::Test {
 protected:
  static constexpr int kFiles = 200000;
  static void SetUpTestSuite() {
    dir_ = new TempDir("/dev/shm");
    make_files(*dir_, "big", kFiles);
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* BigTree::dir_ = nullptr;

TEST_F(BigTree, ReaddirOfManyEntriesIsLinear) {
  TempDir& dir = *dir_;
  auto b = testing::make_backing(dir.path());
  auto d = b->lookup(kRootNode, "big");
  auto h = b->opendir(d->node, O_RDONLY);
  ASSERT_TRUE(h.has_value());
  auto start = std::chrono::steady_clock::now();
  size_t count = 0;
  uint64_t offset = 0;
  for (;;) {  // FUSE-sized pages of ~100 entries, each a separate call
    int taken = 0;
    ASSERT_TRUE(b->readdir(*h, offset, [&](const DirEntry& e) {
      if (taken == 100) return false;
      offset = e.offset;
      taken++;
      return true;
    }));
    if (taken == 0) break;
    count += taken;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(count, kFiles + 2u);
  EXPECT_LT(secs, 5.0);  // quadratic behaviour would take minutes
}

long vm_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// More nodes than the fd cache (and than a 20k RLIMIT_NOFILE allows fds), all still usable,
// and the memory cost per remembered node.
TEST_F(BigTree, TwoHundredThousandNodesBoundedFdsAndMemory) {
  auto b = testing::make_backing(dir_->path(), true, /*cache=*/1024);
  ASSERT_FALSE(b->pinned_fds_mode());
  auto d = b->lookup(kRootNode, "big");
  ASSERT_TRUE(d.has_value());
  std::vector<NodeId> ids(kFiles);
  ASSERT_TRUE(b->lookup(d->node, "f0").has_value());  // warm up allocator structures
  b->forget(b->lookup(d->node, "f0")->node, 2);
  long before = vm_rss_kb();
  for (int i = 0; i < kFiles; i++) {
    auto e = b->lookup(d->node, "f" + std::to_string(i));
    ASSERT_TRUE(e.has_value()) << i;
    ids[i] = e->node;
  }
  long after = vm_rss_kb();
  double per_node = (after - before) * 1024.0 / kFiles;
  ::testing::Test::RecordProperty("bytes_per_node", std::to_string(per_node));
  std::printf("resident bytes per remembered node: %.1f (%d nodes)\n", per_node, kFiles);
  EXPECT_LT(per_node, 256.0);
  EXPECT_LE(b->cached_fd_count(), 1024u);
  // Every node still works after its fd was evicted.
  for (int i = 0; i < kFiles; i += 997) {
    auto st = b->getattr(ids[i]);
    ASSERT_TRUE(st.has_value()) << i;
  }
  EXPECT_LE(b->cached_fd_count(), 1024u);
  for (NodeId id : ids) b->forget(id, 1);
  EXPECT_EQ(b->node_count(), 2u);  // root + "big"
}

}  // namespace
}  // namespace fusebpf::backing
