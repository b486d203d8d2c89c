// Backing open-file operations: open/create/tmpfile, I/O, sync, fallocate, lseek,
// copy_file_range, ioctls and locks, compared with the native syscalls.
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "backing/backing.h"
#include "backing/test_util.h"

namespace fusebpf::backing {
namespace {

using testing::as_bytes;
using testing::err_of;
using testing::TempDir;

class FileOps : public ::testing::Test {
 protected:
  void SetUp() override { b_ = testing::make_backing(dir_.path()); }
  NodeId node(std::string_view name) {
    auto e = b_->lookup(kRootNode, name);
    EXPECT_TRUE(e.has_value()) << name;
    return e ? e->node : 0;
  }
  std::string read_all(HandleId h, size_t max = 4096) {
    std::string out(max, '\0');
    auto n = b_->read(h, std::as_writable_bytes(std::span(out)), 0);
    EXPECT_TRUE(n.has_value());
    out.resize(n ? *n : 0);
    return out;
  }
  TempDir dir_;
  std::unique_ptr<Backing> b_;
};

TEST_F(FileOps, OpenReadWriteTruncAppend) {
  dir_.write("f", "hello world");
  NodeId f = node("f");
  auto h = b_->open(f, O_RDONLY);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(read_all(*h), "hello world");
  EXPECT_EQ(err_of(b_->write(*h, as_bytes("x"), 0)), EBADF);
  EXPECT_GT(b_->file_fd(*h), 2);
  b_->release(*h);
  EXPECT_EQ(b_->file_fd(*h), -1);
  EXPECT_EQ(err_of(b_->read(*h, {}, 0)), EBADF);
  auto w = b_->open(f, O_WRONLY | O_TRUNC | O_CREAT | O_EXCL);  // O_CREAT/O_EXCL ignored
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(b_->getattr(f)->st_size, 0);
  auto a = b_->open(f, O_WRONLY | O_APPEND);
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b_->write(*w, as_bytes("abc"), 0).has_value());
  ASSERT_TRUE(b_->write(*a, as_bytes("XY"), 0).has_value());  // offset ignored: at EOF
  EXPECT_EQ(*sys::read_file(dir_.fd(), "f"), "abcXY");
  EXPECT_TRUE(b_->flush(*w, 1).has_value());
  EXPECT_TRUE(b_->fsync(*w, false).has_value());
  EXPECT_TRUE(b_->fsync(*w, true).has_value());
  b_->release(*w);
  b_->release(*a);
  ASSERT_EQ(::chmod(dir_.at("f").c_str(), 0), 0);
  auto d = b_->open(f, O_RDWR | O_DIRECT);  // root: permission override, O_DIRECT ok on ext4
  EXPECT_TRUE(d.has_value());
  if (d) b_->release(*d);
}

TEST_F(FileOps, CreateExclTruncUmask) {
  auto c = b_->create(kRootNode, "new", O_RDWR | O_EXCL, 0666, 027);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->entry.attr.st_mode & 0777, 0640u);
  EXPECT_NE(c->entry.node, 0u);
  ASSERT_TRUE(b_->write(c->handle, as_bytes("data"), 0).has_value());
  EXPECT_EQ(err_of(b_->create(kRootNode, "new", O_RDWR | O_EXCL, 0666, 0)),
            err_of(::open(dir_.at("new").c_str(), O_RDWR | O_EXCL | O_CREAT, 0666)));
  auto t = b_->create(kRootNode, "new", O_RDWR | O_TRUNC, 0666, 0);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->entry.node, c->entry.node);
  EXPECT_EQ(t->entry.attr.st_size, 0);
  b_->release(c->handle);
  b_->release(t->handle);
  EXPECT_EQ(err_of(b_->create(kRootNode, "a/b", O_RDWR, 0666, 0)), EINVAL);
}

TEST_F(FileOps, TmpfileThenLink) {
  auto t = b_->tmpfile(kRootNode, O_RDWR, 0600, 0);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->entry.attr.st_nlink, 0u);
  ASSERT_TRUE(b_->write(t->handle, as_bytes("tmp"), 0).has_value());
  EXPECT_TRUE(b_->getattr(t->entry.node).has_value());  // pinned while open
  auto l = b_->link(t->entry.node, kRootNode, "linked");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->node, t->entry.node);
  EXPECT_EQ(*sys::read_file(dir_.fd(), "linked"), "tmp");
  b_->release(t->handle);
}

TEST_F(FileOps, UnlinkedOpenFileStaysReachable) {
  dir_.write("f", "abc");
  auto b = testing::make_backing(dir_.path(), true, /*cache=*/1);
  auto e = b->lookup(kRootNode, "f");
  ASSERT_TRUE(e.has_value());
  auto h = b->open(e->node, O_RDONLY);
  ASSERT_TRUE(h.has_value());
  ASSERT_EQ(::unlink(dir_.at("f").c_str()), 0);
  dir_.mkdir("evict");  // push the node out of the 1-entry LRU
  ASSERT_TRUE(b->lookup(kRootNode, "evict").has_value());
  auto st = b->getattr(e->node);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->st_nlink, 0u);
  b->release(*h);
}

TEST_F(FileOps, FallocateLseekCopyRange) {
  dir_.write("f", "");
  NodeId f = node("f");
  auto h = b_->open(f, O_RDWR);
  ASSERT_TRUE(h.has_value());
  ASSERT_TRUE(b_->fallocate(*h, 0, 0, 1 << 20).has_value());
  EXPECT_EQ(b_->getattr(f)->st_size, 1 << 20);
  ASSERT_TRUE(b_->fallocate(*h, FALLOC_FL_KEEP_SIZE, 0, 2 << 20).has_value());
  EXPECT_EQ(b_->getattr(f)->st_size, 1 << 20);
  std::string block(4096, 'x');
  ASSERT_TRUE(b_->write(*h, as_bytes(block), 0).has_value());
  EXPECT_TRUE(
      b_->fallocate(*h, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 65536).has_value());
  EXPECT_TRUE(b_->fallocate(*h, FALLOC_FL_ZERO_RANGE, 0, 4096).has_value());
  EXPECT_TRUE(b_->fallocate(*h, FALLOC_FL_COLLAPSE_RANGE, 65536, 65536).has_value());
  EXPECT_TRUE(b_->fallocate(*h, FALLOC_FL_INSERT_RANGE, 65536, 65536).has_value());
  EXPECT_EQ(err_of(b_->fallocate(*h, FALLOC_FL_COLLAPSE_RANGE, 1, 3)), EINVAL);
  // A sparse file: data at 0..4k, hole after it.
  dir_.write("s", "");
  auto s = b_->open(node("s"), O_RDWR);
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(b_->write(*s, as_bytes(block), 1 << 20).has_value());
  auto hole = b_->lseek(*s, 0, SEEK_HOLE);
  ASSERT_TRUE(hole.has_value());
  EXPECT_EQ(*hole, 0);
  auto data = b_->lseek(*s, 0, SEEK_DATA);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(*data, 1 << 20);
  EXPECT_EQ(err_of(b_->lseek(*s, 3 << 20, SEEK_DATA)), ENXIO);
  auto copied = b_->copy_file_range(*s, 1 << 20, *h, 0, 4096, 0);
  ASSERT_TRUE(copied.has_value());
  EXPECT_EQ(*copied, 4096u);
  b_->release(*h);
  b_->release(*s);
}

TEST_F(FileOps, Ioctls) {
  dir_.write("f", "abc");
  auto h = b_->open(node("f"), O_RDONLY);
  ASSERT_TRUE(h.has_value());
  long flags = 0;
  std::span<std::byte> out(reinterpret_cast<std::byte*>(&flags), sizeof flags);
  auto n = b_->ioctl(*h, FS_IOC_GETFLAGS, {}, out);
  ASSERT_TRUE(n.has_value());
  int native = 0;
  int fd = ::open(dir_.at("f").c_str(), O_RDONLY);
  ASSERT_EQ(::ioctl(fd, FS_IOC_GETFLAGS, &native), 0);
  EXPECT_EQ(static_cast<int>(flags), native);
  int set = native | FS_NOATIME_FL;
  ASSERT_TRUE(b_->ioctl(*h, FS_IOC_SETFLAGS, {reinterpret_cast<std::byte*>(&set), sizeof set}, {}));
  ASSERT_EQ(::ioctl(fd, FS_IOC_GETFLAGS, &native), 0);
  EXPECT_TRUE(native & FS_NOATIME_FL);
  struct fsxattr fa {};
  auto fx = b_->ioctl(*h, FS_IOC_FSGETXATTR, {}, {reinterpret_cast<std::byte*>(&fa), sizeof fa});
  ASSERT_TRUE(fx.has_value());
  EXPECT_EQ(*fx, sizeof fa);
  EXPECT_TRUE(fa.fsx_xflags & FS_XFLAG_NOATIME);
  EXPECT_TRUE(b_->ioctl(*h, FS_IOC_FSSETXATTR, {reinterpret_cast<std::byte*>(&fa), sizeof fa}, {}));
  EXPECT_EQ(err_of(b_->ioctl(*h, FIONREAD, {}, out)), ENOTTY);
  ::close(fd);
  b_->release(*h);
}

TEST_F(FileOps, PosixLocksPerOwner) {
  dir_.write("f", std::string(100, 'x'));
  NodeId f = node("f");
  auto h1 = b_->open(f, O_RDWR);
  auto h2 = b_->open(f, O_RDWR);
  ASSERT_TRUE(h1 && h2);
  LockRange wr{0, 9, F_WRLCK, 0};
  ASSERT_TRUE(b_->setlk(*h1, /*owner=*/1, wr, false).has_value());
  // Same owner through another handle: no conflict (one process, two fds).
  EXPECT_TRUE(b_->setlk(*h2, 1, LockRange{5, 20, F_WRLCK, 0}, false).has_value());
  // Another owner conflicts, and getlk reports the holder's range.
  EXPECT_EQ(err_of(b_->setlk(*h2, 2, LockRange{0, 0, F_RDLCK, 0}, false)), EAGAIN);
  auto got = b_->getlk(*h2, 2, LockRange{0, 100, F_RDLCK, 0});
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->type, static_cast<uint32_t>(F_WRLCK));
  EXPECT_EQ(got->start, 0u);
  EXPECT_EQ(got->end, 20u);
  // Native processes see the lock too.
  int fd = ::open(dir_.at("f").c_str(), O_RDWR);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_len = 1;
  EXPECT_EQ(err_of(::fcntl(fd, F_SETLK, &fl)), EAGAIN);
  // Blocking wait is cancellable.
  std::atomic<bool> cancel{false};
  std::thread t([&] { cancel = true; });
  EXPECT_EQ(err_of(b_->setlk(*h2, 2, wr, true, &cancel)), EINTR);
  t.join();
  // A blocking wait succeeds once owner 1 flushes (close() semantics release its locks).
  std::thread waiter([&] { EXPECT_TRUE(b_->setlk(*h2, 2, wr, true).has_value()); });
  ::usleep(20000);
  ASSERT_TRUE(b_->flush(*h1, 1).has_value());
  waiter.join();
  EXPECT_EQ(err_of(b_->setlk(*h1, 1, wr, false)), EAGAIN);
  ASSERT_TRUE(b_->setlk(*h2, 2, LockRange{0, 9, F_UNLCK, 0}, false).has_value());
  EXPECT_TRUE(b_->setlk(*h1, 1, wr, false).has_value());
  auto ro = b_->open(f, O_RDONLY);
  EXPECT_EQ(err_of(b_->setlk(*ro, 3, wr, false)), EBADF);
  ::close(fd);
  for (HandleId h : {*h1, *h2, *ro}) b_->release(h);
}

TEST_F(FileOps, Flock) {
  dir_.write("f", "x");
  NodeId f = node("f");
  auto h1 = b_->open(f, O_RDONLY);
  auto h2 = b_->open(f, O_RDONLY);
  ASSERT_TRUE(h1 && h2);
  ASSERT_TRUE(b_->flock(*h1, LOCK_EX).has_value());
  EXPECT_EQ(err_of(b_->flock(*h2, LOCK_SH | LOCK_NB)), EWOULDBLOCK);
  std::atomic<bool> cancel{true};
  EXPECT_EQ(err_of(b_->flock(*h2, LOCK_SH, &cancel)), EINTR);
  b_->release(*h1);  // closing the description drops the flock
  EXPECT_TRUE(b_->flock(*h2, LOCK_SH | LOCK_NB).has_value());
  EXPECT_TRUE(b_->flock(*h2, LOCK_UN).has_value());
  b_->release(*h2);
}

}  // namespace
}  // namespace fusebpf::backing
