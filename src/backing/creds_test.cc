// CredentialScope and per-thread umask: ownership and permission checks are the caller's,
// only on the calling thread, and file handles still reopen under a caller identity.
#include "backing/creds.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>

#include "backing/backing.h"
#include "backing/test_util.h"

namespace fusebpf::backing {
namespace {

using testing::err_of;
using testing::TempDir;

constexpr pid_t kNoSuchPid = 0x3ffffff0;  // no groups: only the primary gid applies
constexpr Caller kUser{1000, 1000, kNoSuchPid};

// Runs f on a fresh, prepared worker thread (unshare(CLONE_FS) must not touch the test's).
template <typename F>
void on_worker(F f) {
  std::thread t([&] {
    ASSERT_TRUE(prepare_worker_thread().has_value());
    EXPECT_TRUE(worker_thread_prepared());
    f();
  });
  t.join();
}

uid_t fsuid_of_thread(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) == 0) {
      unsigned r, e, s, fs;
      std::sscanf(line.c_str() + 4, "%u %u %u %u", &r, &e, &s, &fs);
      return fs;
    }
  }
  return static_cast<uid_t>(-1);
}

class Creds : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    dir_.mkdir("open");
    ASSERT_EQ(::chmod(dir_.at("open").c_str(), 0777), 0);
    b_ = testing::make_backing(dir_.path(), true, /*cache=*/1);
  }
  TempDir dir_;
  std::unique_ptr<Backing> b_;
};

TEST_F(Creds, CreateAsCallerOwnsTheFile) {
  auto open = b_->lookup(kRootNode, "open");
  ASSERT_TRUE(open.has_value());
  on_worker([&] {
    CredentialScope scope(kUser);
    ASSERT_TRUE(scope.active());
    auto c = b_->create(open->node, "mine", O_WRONLY, 0644, 022);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->entry.attr.st_uid, 1000u);
    EXPECT_EQ(c->entry.attr.st_gid, 1000u);
    b_->release(c->handle);
    auto d = b_->mkdir(open->node, "subdir", 0777, 077);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->attr.st_uid, 1000u);
    EXPECT_EQ(d->attr.st_mode & 0777, 0700u);
  });
  struct stat st {};
  ASSERT_EQ(::stat(dir_.at("open/mine").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  on_worker([&] {  // after the scope: the daemon again
    auto c = b_->mknod(open->node, "roots", S_IFREG | 0600, 0, 0);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->attr.st_uid, 0u);
  });
}

TEST_F(Creds, PermissionDeniedAsCaller) {
  dir_.write("secret", "s");
  ASSERT_EQ(::chmod(dir_.at("secret").c_str(), 0600), 0);
  auto secret = b_->lookup(kRootNode, "secret");
  auto open = b_->lookup(kRootNode, "open");
  ASSERT_TRUE(secret && open);
  on_worker([&] {
    CredentialScope scope(kUser);
    EXPECT_EQ(err_of(b_->open(secret->node, O_RDONLY)), EACCES);
    EXPECT_EQ(err_of(b_->access(secret->node, R_OK)), EACCES);
    EXPECT_EQ(err_of(b_->mkdir(kRootNode, "nope", 0755, 0)), EACCES);  // root dir is 0755
    EXPECT_EQ(err_of(b_->unlink(kRootNode, "secret")), EACCES);
    SetAttr chown;
    chown.valid = kSetUid;
    chown.uid = 1000;
    EXPECT_EQ(err_of(b_->setattr(secret->node, chown)), EPERM);
    // Nodes evicted from the 1-entry fd cache still reopen (by handle, as the daemon).
    EXPECT_TRUE(b_->getattr(open->node).has_value());
    EXPECT_TRUE(b_->getattr(secret->node).has_value());
    EXPECT_TRUE(b_->access(open->node, W_OK).has_value());
  });
  EXPECT_TRUE(b_->access(secret->node, R_OK).has_value());  // root, outside the scope
}

TEST_F(Creds, OnlyTheCurrentThreadSwitches) {
  std::atomic<pid_t> worker_tid{0};
  std::atomic<bool> switched{false}, done{false};
  std::thread t([&] {
    ASSERT_TRUE(prepare_worker_thread().has_value());
    CredentialScope scope(kUser);
    worker_tid = static_cast<pid_t>(::syscall(SYS_gettid));
    switched = true;
    while (!done) ::usleep(1000);
  });
  while (!switched) ::usleep(1000);
  EXPECT_EQ(fsuid_of_thread(worker_tid), 1000u);
  EXPECT_EQ(fsuid_of_thread(static_cast<pid_t>(::syscall(SYS_gettid))), 0u);
  done = true;
  t.join();
}

TEST_F(Creds, NestedScopesRestoreTheOuterIdentity) {
  on_worker([&] {
    pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    {
      CredentialScope outer(kUser);
      {
        CredentialScope inner(Caller{2000, 2000, kNoSuchPid});
        EXPECT_EQ(fsuid_of_thread(tid), 2000u);
      }
      EXPECT_EQ(fsuid_of_thread(tid), 1000u);
    }
    EXPECT_EQ(fsuid_of_thread(tid), 0u);
  });
}

TEST_F(Creds, DefaultAclOverridesTheUmask) {
  // Default ACL u::rwx g::rwx o::rwx on "acl": the kernel ignores the umask below it.
  const uint32_t acl[] = {2,           0x01 | (7u << 16), 0xffffffffu, 0x04 | (7u << 16),
                          0xffffffffu, 0x20 | (7u << 16), 0xffffffffu};
  dir_.mkdir("acl");
  auto d = b_->lookup(kRootNode, "acl");
  ASSERT_TRUE(d.has_value());
  std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(acl), sizeof acl);
  auto set = b_->setxattr(d->node, "system.posix_acl_default", bytes, 0);
  if (!set) GTEST_SKIP() << "no ACL support: " << errno_name(set.error());
  on_worker([&] {
    auto with_acl = b_->mknod(d->node, "f", S_IFREG | 0666, 0, 077);
    ASSERT_TRUE(with_acl.has_value());
    EXPECT_EQ(with_acl->attr.st_mode & 0777, 0666u);
    auto plain = b_->mknod(kRootNode, "g", S_IFREG | 0666, 0, 077);
    ASSERT_TRUE(plain.has_value());
    EXPECT_EQ(plain->attr.st_mode & 0777, 0600u);
  });
}

TEST(CredsGroups, ReadsSupplementaryGroupsOfAProcess) {
  auto groups = caller_groups(::getpid());
  gid_t native[256];
  int n = ::getgroups(256, native);
  ASSERT_GE(n, 0);
  EXPECT_EQ(groups.size(), static_cast<size_t>(n));
  EXPECT_TRUE(caller_groups(kNoSuchPid).empty());
}

}  // namespace
}  // namespace fusebpf::backing
