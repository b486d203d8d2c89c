// Backing namespace and attribute operations against a temp directory, each compared with
// the same syscall made directly on the lower filesystem (errno parity). Runs both in
// file-handle mode and in pinned-fd mode.
#include "backing/backing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backing/creds.h"
#include "backing/test_util.h"

namespace fusebpf::backing {
namespace {

using testing::as_bytes;
using testing::err_of;
using testing::TempDir;

class BackingOps : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    b_ = testing::make_backing(dir_.path(), GetParam());
    ASSERT_NE(b_, nullptr);
    EXPECT_EQ(b_->pinned_fds_mode(), !GetParam());
  }
  Entry lookup_ok(NodeId parent, std::string_view name) {
    auto e = b_->lookup(parent, name);
    EXPECT_TRUE(e.has_value()) << name << ": " << (e ? "" : errno_name(e.error()));
    return e ? *e : Entry{};
  }
  TempDir dir_;
  std::unique_ptr<Backing> b_;
};

TEST_P(BackingOps, RootIsOneAndDotDotOfRootIsRoot) {
  auto st = b_->getattr(kRootNode);
  ASSERT_TRUE(st.has_value());
  struct stat native {};
  ASSERT_EQ(::stat(dir_.path().c_str(), &native), 0);
  EXPECT_EQ(st->st_ino, native.st_ino);
  EXPECT_EQ(lookup_ok(kRootNode, "..").node, kRootNode);
  EXPECT_EQ(lookup_ok(kRootNode, ".").node, kRootNode);
  b_->forget(kRootNode, 100);  // never frees the root
  EXPECT_TRUE(b_->getattr(kRootNode).has_value());
}

TEST_P(BackingOps, LookupGetattrMatchesNative) {
  dir_.write("f", "hello");
  Entry e = lookup_ok(kRootNode, "f");
  EXPECT_NE(e.node, 0u);
  EXPECT_NE(e.node, kRootNode);
  struct stat native {};
  ASSERT_EQ(::stat(dir_.at("f").c_str(), &native), 0);
  EXPECT_EQ(e.attr.st_ino, native.st_ino);
  EXPECT_EQ(e.attr.st_size, 5);
  EXPECT_EQ(e.attr.st_mode, native.st_mode);
  auto st = b_->getattr(e.node);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_ino, native.st_ino);
  EXPECT_EQ(lookup_ok(kRootNode, "f").node, e.node);  // same node, nlookup now 2
}

// lookup_at adopts an object named relative to another directory (a filter root); the
// resolve flags keep it from leaving that directory.
TEST_P(BackingOps, LookupAtAdoptsObjectsBeneathADirectoryOnly) {
  dir_.mkdir("store");
  dir_.mkdir("store/ab");
  dir_.write("store/ab/blob", "content");
  dir_.write("outside", "x");
  ASSERT_EQ(::symlink("../../outside", dir_.at("store/ab/up").c_str()), 0);
  int store = ::open(dir_.at("store").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(store, 0);
  auto e = b_->lookup_at(store, "ab/blob", RESOLVE_BENEATH);
  ASSERT_TRUE(e.has_value());
  struct stat native {};
  ASSERT_EQ(::stat(dir_.at("store/ab/blob").c_str(), &native), 0);
  EXPECT_EQ(e->attr.st_ino, native.st_ino);
  auto st = b_->getattr(e->node);  // the adopted node works like any other
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_size, 7);
  // Same object through the namespace: same node.
  Entry ns = lookup_ok(kRootNode, "store");
  Entry ns2 = lookup_ok(ns.node, "ab");
  EXPECT_EQ(lookup_ok(ns2.node, "blob").node, e->node);
  EXPECT_EQ(err_of(b_->lookup_at(store, "../outside", RESOLVE_BENEATH)), EXDEV);
  EXPECT_EQ(err_of(b_->lookup_at(store, "/etc/passwd", RESOLVE_BENEATH)), EXDEV);
  EXPECT_EQ(err_of(b_->lookup_at(store, "ab/up", RESOLVE_BENEATH)), EXDEV);
  // RESOLVE_IN_ROOT: ".." and absolute paths stop at the root, so they stay inside.
  auto in_root = b_->lookup_at(store, "/../ab/blob", RESOLVE_IN_ROOT);
  ASSERT_TRUE(in_root.has_value());
  EXPECT_EQ(in_root->node, e->node);
  EXPECT_EQ(err_of(b_->lookup_at(store, "ab/up", RESOLVE_IN_ROOT)), ENOENT);
  EXPECT_EQ(err_of(b_->lookup_at(store, "", RESOLVE_BENEATH)), ENOENT);
  EXPECT_EQ(err_of(b_->lookup_at(store, "missing", RESOLVE_BENEATH)), ENOENT);
  ::close(store);
}

TEST_P(BackingOps, LookupErrnoParity) {
  dir_.write("file", "x");
  EXPECT_EQ(err_of(b_->lookup(kRootNode, "missing")), ENOENT);
  Entry f = lookup_ok(kRootNode, "file");
  struct stat st {};
  EXPECT_EQ(err_of(b_->lookup(f.node, "x")), err_of(::stat(dir_.at("file/x").c_str(), &st)));
  EXPECT_EQ(err_of(b_->lookup(kRootNode, "a/b")), EINVAL);
  EXPECT_EQ(err_of(b_->lookup(kRootNode, "")), ENOENT);
  EXPECT_EQ(err_of(b_->lookup(kRootNode, std::string(NAME_MAX + 1, 'a'))), ENAMETOOLONG);
  EXPECT_EQ(err_of(b_->mkdir(kRootNode, "..", 0755, 0)), EINVAL);
}

TEST_P(BackingOps, HardLinksShareOneNode) {
  dir_.write("a", "x");
  ASSERT_EQ(::link(dir_.at("a").c_str(), dir_.at("b").c_str()), 0);
  EXPECT_EQ(lookup_ok(kRootNode, "a").node, lookup_ok(kRootNode, "b").node);
  Entry a = lookup_ok(kRootNode, "a");
  auto l = b_->link(a.node, kRootNode, "c");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->node, a.node);
  EXPECT_EQ(l->attr.st_nlink, 3u);
}

TEST_P(BackingOps, ForgetFreesAndStaleIdsAreEstale) {
  dir_.write("a", "x");
  Entry a = lookup_ok(kRootNode, "a");
  lookup_ok(kRootNode, "a");
  size_t before = b_->node_count();
  b_->forget(a.node, 1);
  EXPECT_TRUE(b_->getattr(a.node).has_value());
  b_->forget(a.node, 1);
  EXPECT_EQ(b_->node_count(), before - 1);
  EXPECT_EQ(err_of(b_->getattr(a.node)), ESTALE);
  EXPECT_EQ(err_of(b_->getattr(0)), ESTALE);
  EXPECT_EQ(err_of(b_->getattr(0xdead00000000beefull)), ESTALE);
  // The slot is reused with a new generation: a different id.
  dir_.write("b", "y");
  Entry b = lookup_ok(kRootNode, "b");
  EXPECT_EQ(b.node & 0xffffffffu, a.node & 0xffffffffu);
  EXPECT_NE(b.node, a.node);
  EXPECT_EQ(err_of(b_->getattr(a.node)), ESTALE);
  b_->forget(a.node, 5);  // stale forget is ignored
  EXPECT_TRUE(b_->getattr(b.node).has_value());
  Backing::Forget batch[] = {{b.node, 1}};
  b_->batch_forget(batch);
  EXPECT_EQ(err_of(b_->getattr(b.node)), ESTALE);
}

TEST_P(BackingOps, DotDotOfSubdirIsParent) {
  dir_.mkdir("d");
  dir_.mkdir("d/e");
  Entry d = lookup_ok(kRootNode, "d");
  Entry e = lookup_ok(d.node, "e");
  EXPECT_EQ(lookup_ok(e.node, "..").node, d.node);
  EXPECT_EQ(lookup_ok(d.node, "..").node, kRootNode);
  EXPECT_EQ(lookup_ok(e.node, ".").node, e.node);
}

TEST_P(BackingOps, SymlinksAreNeverFollowed) {
  ASSERT_EQ(::symlink("/", dir_.at("up").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../etc", dir_.at("rel").c_str()), 0);
  Entry up = lookup_ok(kRootNode, "up");
  EXPECT_TRUE(S_ISLNK(up.attr.st_mode));
  EXPECT_EQ(err_of(b_->lookup(up.node, "etc")), ENOTDIR);
  Entry rel = lookup_ok(kRootNode, "rel");
  EXPECT_EQ(err_of(b_->lookup(rel.node, "passwd")), ENOTDIR);
  EXPECT_EQ(err_of(b_->opendir(up.node, O_RDONLY)), ENOTDIR);
  auto target = b_->readlink(up.node);
  ASSERT_TRUE(target.has_value());
  EXPECT_EQ(*target, "/");
  // create() refuses to follow an existing symlink (no O_CREAT through it)
  EXPECT_EQ(err_of(b_->create(kRootNode, "up", O_WRONLY, 0644, 0)), ELOOP);
  EXPECT_EQ(err_of(b_->open(up.node, O_RDONLY)), ELOOP);
}

TEST_P(BackingOps, DotDotCannotEscapeTheRoot) {
  dir_.mkdir("d");
  Entry d = lookup_ok(kRootNode, "d");
  // Move the directory out of the tree behind our back: ".." must not follow it out.
  std::string outside = dir_.path() + "-outside";
  ASSERT_EQ(::rename(dir_.at("d").c_str(), outside.c_str()), 0);
  auto up = b_->lookup(d.node, "..");
  EXPECT_FALSE(up.has_value());
  if (up) EXPECT_NE(up->attr.st_ino, 0u);
  ::rmdir(outside.c_str());
}

TEST_P(BackingOps, MkdirMknodSymlinkUnlinkRmdir) {
  auto d = b_->mkdir(kRootNode, "d", 0777, 022);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(S_ISDIR(d->attr.st_mode));
  EXPECT_EQ(d->attr.st_mode & 0777, 0755u);
  EXPECT_EQ(err_of(b_->mkdir(kRootNode, "d", 0755, 0)),
            err_of(::mkdir(dir_.at("d").c_str(), 0755)));
  auto fifo = b_->mknod(d->node, "fifo", S_IFIFO | 0666, 0, 0);
  ASSERT_TRUE(fifo.has_value());
  EXPECT_TRUE(S_ISFIFO(fifo->attr.st_mode));
  auto sock = b_->mknod(d->node, "sock", S_IFSOCK | 0600, 0, 0);
  ASSERT_TRUE(sock.has_value());
  EXPECT_TRUE(S_ISSOCK(sock->attr.st_mode));
  auto chr = b_->mknod(d->node, "null", S_IFCHR | 0600, makedev(1, 3), 0);
  ASSERT_TRUE(chr.has_value());
  EXPECT_EQ(chr->attr.st_rdev, makedev(1, 3));
  auto blk = b_->mknod(d->node, "blk", S_IFBLK | 0600, makedev(7, 200), 0);
  ASSERT_TRUE(blk.has_value());
  EXPECT_TRUE(S_ISBLK(blk->attr.st_mode));
  auto sl = b_->symlink(d->node, "sl", "fifo");
  ASSERT_TRUE(sl.has_value());
  EXPECT_EQ(sl->attr.st_size, 4);
  EXPECT_EQ(err_of(b_->rmdir(kRootNode, "d")), err_of(::rmdir(dir_.at("d").c_str())));
  EXPECT_EQ(err_of(b_->unlink(kRootNode, "d")), err_of(::unlink(dir_.at("d").c_str())));
  for (const char* n : {"fifo", "sock", "null", "blk", "sl"}) {
    EXPECT_TRUE(b_->unlink(d->node, n).has_value()) << n;
  }
  EXPECT_EQ(err_of(b_->unlink(d->node, "fifo")), ENOENT);
  EXPECT_EQ(err_of(b_->rmdir(d->node, "x")), ENOENT);
  EXPECT_TRUE(b_->rmdir(kRootNode, "d").has_value());
  auto gone = b_->getattr(d->node);  // a cached fd still sees the dead inode, else ESTALE
  if (gone)
    EXPECT_EQ(gone->st_nlink, 0u);
  else
    EXPECT_EQ(gone.error(), Errno::kStale);
}

TEST_P(BackingOps, RenameFlags) {
  dir_.write("a", "A");
  dir_.write("b", "B");
  dir_.mkdir("d");
  EXPECT_EQ(err_of(b_->rename(kRootNode, "a", kRootNode, "b", RENAME_NOREPLACE)), EEXIST);
  ASSERT_TRUE(b_->rename(kRootNode, "a", kRootNode, "b", RENAME_EXCHANGE).has_value());
  EXPECT_EQ(*sys::read_file(dir_.fd(), "a"), "B");
  EXPECT_EQ(err_of(b_->rename(kRootNode, "zz", kRootNode, "b", RENAME_EXCHANGE)), ENOENT);
  Entry d = lookup_ok(kRootNode, "d");
  ASSERT_TRUE(b_->rename(kRootNode, "a", d.node, "moved", 0).has_value());
  EXPECT_EQ(*sys::read_file(dir_.fd(), "d/moved"), "B");
  EXPECT_EQ(err_of(b_->rename(kRootNode, "b", kRootNode, "d", 0)),
            err_of(::rename(dir_.at("b").c_str(), dir_.at("d").c_str())));
  ASSERT_TRUE(b_->rename(kRootNode, "b", kRootNode, "c", RENAME_WHITEOUT).has_value());
  struct stat st {};
  ASSERT_EQ(::lstat(dir_.at("b").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));  // the whiteout
}

TEST_P(BackingOps, SetattrModeOwnerSizeTimes) {
  dir_.write("f", "0123456789");
  Entry f = lookup_ok(kRootNode, "f");
  SetAttr a;
  a.valid = kSetMode | kSetUid | kSetGid | kSetSize;
  a.mode = 0600;
  a.uid = 1000;
  a.gid = 1001;
  a.size = 3;
  auto st = b_->setattr(f.node, a);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_mode & 07777, 0600u);
  EXPECT_EQ(st->st_uid, 1000u);
  EXPECT_EQ(st->st_gid, 1001u);
  EXPECT_EQ(st->st_size, 3);
  SetAttr t;
  t.valid = kSetAtime | kSetMtime;
  t.atime = {1000, 5};
  t.mtime = {2000, 7};
  st = b_->setattr(f.node, t);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  EXPECT_EQ(st->st_mtim.tv_nsec, 7);
  t.valid = kSetMtime | kSetMtimeNow;  // atime omitted
  st = b_->setattr(f.node, t);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  EXPECT_GT(st->st_mtim.tv_sec, 2000);
  dir_.mkdir("d");
  Entry d = lookup_ok(kRootNode, "d");
  SetAttr trunc;
  trunc.valid = kSetSize;
  EXPECT_EQ(err_of(b_->setattr(d.node, trunc)), err_of(::truncate(dir_.at("d").c_str(), 0)));
  ASSERT_EQ(::mkfifo(dir_.at("p").c_str(), 0600), 0);
  Entry p = lookup_ok(kRootNode, "p");
  EXPECT_EQ(err_of(b_->setattr(p.node, trunc)), err_of(::truncate(dir_.at("p").c_str(), 0)));
}

TEST_P(BackingOps, SetattrThroughHandle) {
  dir_.write("f", "0123456789");
  Entry f = lookup_ok(kRootNode, "f");
  auto h = b_->open(f.node, O_RDWR);
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(::chmod(dir_.at("f").c_str(), 0444), 0);
  SetAttr a;
  a.valid = kSetSize | kSetHandle;
  a.size = 4;
  a.handle = *h;
  auto st = b_->setattr(f.node, a);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_size, 4);
  a.handle = 9999;
  EXPECT_EQ(err_of(b_->setattr(f.node, a)), EBADF);
  b_->release(*h);
}

TEST_P(BackingOps, StatfsStatxAccess) {
  auto sfs = b_->statfs(kRootNode);
  ASSERT_TRUE(sfs.has_value());
  struct statfs native {};
  ASSERT_EQ(::statfs(dir_.path().c_str(), &native), 0);
  EXPECT_EQ(sfs->f_type, native.f_type);
  EXPECT_EQ(sfs->f_blocks, native.f_blocks);
  dir_.write("f", "abc");
  Entry f = lookup_ok(kRootNode, "f");
  auto stx = b_->statx(f.node, STATX_SIZE | STATX_BTIME);
  ASSERT_TRUE(stx.has_value());
  EXPECT_EQ(stx->stx_size, 3u);
  EXPECT_TRUE(stx->stx_mask & STATX_SIZE);
  EXPECT_TRUE(b_->access(f.node, R_OK | W_OK).has_value());
  EXPECT_EQ(err_of(b_->access(f.node, X_OK)), err_of(::access(dir_.at("f").c_str(), X_OK)));
}

TEST_P(BackingOps, XattrsAndAcls) {
  dir_.write("f", "abc");
  Entry f = lookup_ok(kRootNode, "f");
  EXPECT_TRUE(b_->setxattr(f.node, "user.k", as_bytes("value"), 0).has_value());
  EXPECT_EQ(err_of(b_->setxattr(f.node, "user.k", as_bytes("v"), XATTR_CREATE)), EEXIST);
  EXPECT_EQ(err_of(b_->setxattr(f.node, "user.n", as_bytes("v"), XATTR_REPLACE)), ENODATA);
  auto size = b_->getxattr(f.node, "user.k", {});
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(*size, 5u);
  std::byte small[2];
  EXPECT_EQ(err_of(b_->getxattr(f.node, "user.k", small)), ERANGE);
  std::byte buf[16];
  auto n = b_->getxattr(f.node, "user.k", buf);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "value");
  auto lsize = b_->listxattr(f.node, {});
  ASSERT_TRUE(lsize.has_value());
  std::vector<char> list(*lsize);
  ASSERT_TRUE(b_->listxattr(f.node, list).has_value());
  EXPECT_NE(std::string(list.data(), list.size()).find("user.k"), std::string::npos);
  EXPECT_EQ(err_of(b_->getxattr(f.node, "user.none", buf)), ENODATA);
  // A POSIX ACL (v2 header + USER_OBJ rw, GROUP_OBJ r, OTHER r) set as raw xattr bytes.
  const uint32_t acl[] = {2,           (0x01) | (6u << 16), 0xffffffffu, (0x04) | (4u << 16),
                          0xffffffffu, (0x20) | (4u << 16), 0xffffffffu};
  std::span<const std::byte> acl_bytes(reinterpret_cast<const std::byte*>(acl), sizeof acl);
  EXPECT_TRUE(b_->setxattr(f.node, "system.posix_acl_access", acl_bytes, 0).has_value());
  EXPECT_TRUE(b_->removexattr(f.node, "user.k").has_value());
  EXPECT_EQ(err_of(b_->removexattr(f.node, "user.k")), ENODATA);
  ASSERT_EQ(::symlink("f", dir_.at("l").c_str()), 0);
  Entry l = lookup_ok(kRootNode, "l");
  EXPECT_EQ(err_of(b_->setxattr(l.node, "user.k", as_bytes("v"), 0)),
            err_of(::lsetxattr(dir_.at("l").c_str(), "user.k", "v", 1, 0)));
}

INSTANTIATE_TEST_SUITE_P(Modes, BackingOps, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "handles" : "pinned"; });

}  // namespace
}  // namespace fusebpf::backing

namespace fusebpf::backing {
namespace {

// A tmpfs mounted below the backing root (in a private mount namespace of one thread) is
// refused with EXDEV; readdirplus shows it without a node.
TEST(BackingMounts, MountPointBelowRootIsExdev) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  testing::TempDir dir;
  dir.mkdir("mnt");
  dir.write("file", "x");
  std::thread t([&] {
    ASSERT_TRUE(prepare_worker_thread().has_value());
    if (::unshare(CLONE_NEWNS) < 0) GTEST_SKIP() << "no mount namespace";
    ASSERT_EQ(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    ASSERT_EQ(::mount("tmpfs", dir.at("mnt").c_str(), "tmpfs", 0, nullptr), 0);
    {
      auto b = testing::make_backing(dir.path());
      EXPECT_EQ(testing::err_of(b->lookup(kRootNode, "mnt")), EXDEV);
      EXPECT_TRUE(b->lookup(kRootNode, "file").has_value());
      auto h = b->opendir(kRootNode, O_RDONLY);
      ASSERT_TRUE(h.has_value());
      bool saw_mnt = false;
      ASSERT_TRUE(b->readdirplus(*h, 0, [&](const DirEntry& d, const Entry& e) {
        if (d.name == "mnt") {
          saw_mnt = true;
          EXPECT_EQ(e.node, 0u);
        }
        return true;
      }));
      EXPECT_TRUE(saw_mnt);
    }
    ::umount2(dir.at("mnt").c_str(), MNT_DETACH);
  });
  t.join();
}

// Several threads looking up, stat'ing and forgetting the same names: counts stay exact.
TEST(BackingThreads, ConcurrentLookupForget) {
  testing::TempDir dir;
  for (int i = 0; i < 20; i++) dir.write("f" + std::to_string(i), "x");
  auto b = testing::make_backing(dir.path(), true, /*cache=*/4);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&] {
      for (int round = 0; round < 500; round++) {
        auto e = b->lookup(kRootNode, "f" + std::to_string(round % 20));
        if (!e || !b->getattr(e->node)) failures++;
        if (e) b->forget(e->node, 1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(b->node_count(), 1u);
}

}  // namespace
}  // namespace fusebpf::backing
