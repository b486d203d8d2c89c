// Scenarios with more than one process or user: POSIX record locks (seen from a forked child),
// OFD locks, flock, and permission checks and ownership for a non-root user (uid/gid 1000).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "posix/internal/util.h"
#include "posix/isolate.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

constexpr int kUser = 1000;

struct flock range(short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

const char* lock_type_name(short type) {
  return type == F_RDLCK   ? "F_RDLCK"
         : type == F_WRLCK ? "F_WRLCK"
         : type == F_UNLCK ? "F_UNLCK"
                           : "?";
}

// Records what F_GETLK reports for a would-be lock; `owner` is the pid expected as holder.
void getlk(Recorder& c, std::string_view key, int fd, short type, off_t start, off_t len,
           pid_t owner) {
  struct flock fl = range(type, start, len);
  c.sys(key, ::fcntl(fd, F_GETLK, &fl));
  c.note(fmt::format("{}.type", key), lock_type_name(fl.l_type));
  if (fl.l_type != F_UNLCK) {
    c.note(fmt::format("{}.range", key), fmt::format("{}+{}", fl.l_start, fl.l_len));
    c.flag(fmt::format("{}.pid_is_owner", key), fl.l_pid == owner);
  }
}

void posix_locks(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, pattern(1000, 1));
  UniqueFd fd = open_rec(r, "open", f, O_RDWR);
  struct flock w = range(F_WRLCK, 0, 100);
  r.sys("setlk.write_0_100", ::fcntl(fd.get(), F_SETLK, &w));
  struct flock rd = range(F_RDLCK, 500, 100);
  r.sys("setlk.read_500_100", ::fcntl(fd.get(), F_SETLK, &rd));
  pid_t me = ::getpid();
  r.merge("child", in_child([&](Recorder& c) {
            UniqueFd cfd = open_rec(c, "open", f, O_RDWR);
            struct flock fl = range(F_WRLCK, 50, 10);
            c.sys("setlk.conflict", ::fcntl(cfd.get(), F_SETLK, &fl));
            fl = range(F_RDLCK, 520, 10);
            c.sys("setlk.shared_read", ::fcntl(cfd.get(), F_SETLK, &fl));
            fl = range(F_WRLCK, 550, 10);
            c.sys("setlk.write_on_read_locked", ::fcntl(cfd.get(), F_SETLK, &fl));
            fl = range(F_WRLCK, 200, 100);
            c.sys("setlk.free_range", ::fcntl(cfd.get(), F_SETLK, &fl));
            getlk(c, "getlk.write_whole", cfd.get(), F_WRLCK, 0, 0, me);
            getlk(c, "getlk.read_at_520", cfd.get(), F_RDLCK, 520, 1, me);
            getlk(c, "getlk.free", cfd.get(), F_WRLCK, 300, 100, me);
          }));
  // Own locks never conflict; GETLK on them reports unlocked.
  getlk(r, "getlk.own", fd.get(), F_WRLCK, 0, 10, me);
  // Splitting: unlock the middle of the write lock.
  struct flock un = range(F_UNLCK, 40, 20);
  r.sys("unlock.middle", ::fcntl(fd.get(), F_SETLK, &un));
  r.merge("child_split", in_child([&](Recorder& c) {
            UniqueFd cfd = open_rec(c, "open", f, O_RDWR);
            getlk(c, "getlk.at_45", cfd.get(), F_WRLCK, 45, 1, me);
            getlk(c, "getlk.at_10", cfd.get(), F_WRLCK, 10, 1, me);
            getlk(c, "getlk.at_70", cfd.get(), F_WRLCK, 70, 1, me);
          }));
  // Closing ANY fd of the file drops all of this process's locks on it (POSIX semantics).
  ::close(::open(f.c_str(), O_RDONLY | O_CLOEXEC));
  r.merge("child_after_close", in_child([&](Recorder& c) {
            UniqueFd cfd = open_rec(c, "open", f, O_RDWR);
            struct flock fl = range(F_WRLCK, 0, 0);
            c.sys("setlk.whole_file", ::fcntl(cfd.get(), F_SETLK, &fl));
          }));
  // F_SETLKW blocks until the holder releases.
  w = range(F_WRLCK, 0, 10);
  r.sys("setlk.again", ::fcntl(fd.get(), F_SETLK, &w));
  ChildProcess waiter = start_child([&](Recorder& c) {
    UniqueFd cfd = open_rec(c, "open", f, O_RDWR);
    struct flock fl = range(F_WRLCK, 5, 1);
    c.sys("setlkw", ::fcntl(cfd.get(), F_SETLKW, &fl));
    getlk(c, "getlk.after_wait", cfd.get(), F_WRLCK, 5, 1, me);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  getlk(r, "getlk.waiter_not_yet_holding", fd.get(), F_WRLCK, 5, 1, me);
  un = range(F_UNLCK, 0, 0);
  r.sys("unlock.all", ::fcntl(fd.get(), F_SETLK, &un));
  r.merge("waiter", join_child(waiter));
  struct flock bad = range(F_WRLCK, -10, 5);
  r.sys("setlk.negative_start", ::fcntl(fd.get(), F_SETLK, &bad));
  UniqueFd ro = open_rec(r, "open.rdonly", f, O_RDONLY);
  struct flock wr = range(F_WRLCK, 0, 1);
  r.sys("setlk.write_on_rdonly_fd", ::fcntl(ro.get(), F_SETLK, &wr));
}

void ofd_locks(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, "ofd");
  UniqueFd a = open_rec(r, "open.a", f, O_RDWR);
  UniqueFd b = open_rec(r, "open.b", f, O_RDWR);
  struct flock fl = range(F_WRLCK, 0, 10);
  r.sys("ofd.setlk.a", ::fcntl(a.get(), F_OFD_SETLK, &fl));
  fl = range(F_WRLCK, 5, 10);
  r.sys("ofd.setlk.b_conflict", ::fcntl(b.get(), F_OFD_SETLK, &fl));
  fl = range(F_WRLCK, 0, 0);
  r.sys("ofd.getlk.b", ::fcntl(b.get(), F_OFD_GETLK, &fl));
  r.note("ofd.getlk.b.type", lock_type_name(fl.l_type));
  r.num("ofd.getlk.b.pid", fl.l_pid);
  UniqueFd dup(::dup(a.get()));
  a.reset();  // the duplicate keeps the open file description (and its lock) alive
  fl = range(F_WRLCK, 5, 10);
  r.sys("ofd.setlk.b_still_conflicts", ::fcntl(b.get(), F_OFD_SETLK, &fl));
  dup.reset();
  r.sys("ofd.setlk.b_after_close", ::fcntl(b.get(), F_OFD_SETLK, &fl));
  fl.l_pid = 1;
  r.sys("ofd.setlk.nonzero_pid", ::fcntl(b.get(), F_OFD_SETLK, &fl));
}

void flock_conflict(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, "flock");
  UniqueFd a = open_rec(r, "open.a", f, O_RDONLY);
  UniqueFd b = open_rec(r, "open.b", f, O_RDONLY);
  r.sys("a.ex", ::flock(a.get(), LOCK_EX));
  r.sys("b.ex_nb", ::flock(b.get(), LOCK_EX | LOCK_NB));
  r.sys("b.sh_nb", ::flock(b.get(), LOCK_SH | LOCK_NB));
  UniqueFd dup(::dup(a.get()));
  r.sys("dup.unlock", ::flock(dup.get(), LOCK_UN));  // same open file description as a
  r.sys("b.ex_nb_after_unlock", ::flock(b.get(), LOCK_EX | LOCK_NB));
  r.sys("a.sh_nb_while_b_ex", ::flock(a.get(), LOCK_SH | LOCK_NB));
  b.reset();  // closing the last fd of the description releases its lock
  r.sys("a.sh", ::flock(a.get(), LOCK_SH));
  r.merge("child", in_child([&](Recorder& c) {
            UniqueFd cfd = open_rec(c, "open", f, O_RDONLY);
            c.sys("sh_nb", ::flock(cfd.get(), LOCK_SH | LOCK_NB));
            c.sys("ex_nb", ::flock(cfd.get(), LOCK_EX | LOCK_NB));
            // The inherited fd shares the parent's description, so converting it is allowed.
            c.sys("inherited.ex_nb", ::flock(a.get(), LOCK_EX | LOCK_NB));
            c.sys("inherited.sh_nb", ::flock(a.get(), LOCK_SH | LOCK_NB));
          }));
  r.sys("bad_op", ::flock(a.get(), 0));
  // flock and POSIX locks are independent on Linux.
  UniqueFd w = open_rec(r, "open.w", f, O_RDWR);
  struct flock fl = range(F_WRLCK, 0, 0);
  r.sys("posix_lock_beside_flock", ::fcntl(w.get(), F_SETLK, &fl));
  r.sys("a.un", ::flock(a.get(), LOCK_UN));
  r.sys("w.ex_nb", ::flock(w.get(), LOCK_EX | LOCK_NB));
}

void other_user(const fs::path& root, Recorder& r) {
  r.sys("mkdir.private", ::mkdir((root / "private").c_str(), 0700));
  put_file(r, "create.private/file", root / "private" / "file", "secret");
  r.sys("mkdir.shared", ::mkdir((root / "shared").c_str(), 0777));
  r.sys("chmod.shared", ::chmod((root / "shared").c_str(), 0777));
  r.sys("mkdir.sticky", ::mkdir((root / "sticky").c_str(), 0777));
  r.sys("chmod.sticky", ::chmod((root / "sticky").c_str(), 01777));
  put_file(r, "create.sticky/rootfile", root / "sticky" / "rootfile", "root");
  ::chmod((root / "sticky" / "rootfile").c_str(), 0666);
  put_file(r, "create.rootfile", root / "rootfile", "root-owned");
  put_file(r, "create.groupfile", root / "groupfile", "group-readable");
  r.sys("chown.groupfile", ::chown((root / "groupfile").c_str(), 0, kUser));
  r.sys("chmod.groupfile", ::chmod((root / "groupfile").c_str(), 0640));
  put_file(r, "create.othergroup", root / "othergroup", "other group");
  r.sys("chown.othergroup", ::chown((root / "othergroup").c_str(), 0, 2000));
  r.sys("chmod.othergroup", ::chmod((root / "othergroup").c_str(), 0060));
  r.sys("mkdir.setgid", ::mkdir((root / "sgid").c_str(), 0777));
  r.sys("chown.setgid", ::chown((root / "sgid").c_str(), 0, 50));
  r.sys("chmod.setgid", ::chmod((root / "sgid").c_str(), 02777));
  fs::path s = root / "shared";
  r.merge("user",
          in_child(
              [&](Recorder& c) {
                record_stat(c, "stat.private_file", root / "private" / "file");
                open_rec(c, "open.private_file", root / "private" / "file", O_RDONLY);
                c.note("list.private", listing(root / "private"));
                open_rec(c, "create.in_private", root / "private" / "mine", O_WRONLY | O_CREAT);
                open_rec(c, "write.rootfile", root / "rootfile", O_WRONLY);
                record_file(c, "read.rootfile", root / "rootfile");
                record_file(c, "read.groupfile", root / "groupfile");
                open_rec(c, "read.othergroup", root / "othergroup", O_RDONLY);
                c.sys("unlink.rootfile_in_root", ::unlink((root / "rootfile").c_str()));
                UniqueFd mine =
                    open_rec(c, "create.shared", s / "mine", O_WRONLY | O_CREAT | O_EXCL, 0640);
                c.sys_val("write.mine", ::write(mine.get(), "mine", 4));
                c.sys("mkdir.shared", ::mkdir((s / "mydir").c_str(), 0755));
                c.sys("symlink.shared", ::symlink("mine", (s / "mylink").c_str()));
                c.sys("mkfifo.shared", ::mkfifo((s / "myfifo").c_str(), 0600));
                c.sys("chmod.mine", ::chmod((s / "mine").c_str(), 0600));
                c.sys("chown.mine_to_root", ::chown((s / "mine").c_str(), 0, 0));
                c.sys("unlink.sticky_rootfile", ::unlink((root / "sticky" / "rootfile").c_str()));
                c.sys("rename.sticky_rootfile", ::rename((root / "sticky" / "rootfile").c_str(),
                                                         (root / "sticky" / "stolen").c_str()));
                open_rec(c, "write.sticky_rootfile", root / "sticky" / "rootfile", O_WRONLY);
                c.sys("create.sticky",
                      ::close(::open((root / "sticky" / "m").c_str(), O_WRONLY | O_CREAT, 0600)));
                c.sys("unlink.sticky_own", ::unlink((root / "sticky" / "m").c_str()));
                UniqueFd g =
                    open_rec(c, "create.sgid", root / "sgid" / "f", O_WRONLY | O_CREAT, 0644);
                c.sys("mkdir.sgid", ::mkdir((root / "sgid" / "d").c_str(), 0755));
                c.sys("setxattr.own", ::setxattr((s / "mine").c_str(), "user.u", "1", 1, 0));
                c.sys("setxattr.rootfile",
                      ::setxattr((root / "rootfile").c_str(), "user.u", "1", 1, 0));
              },
              kUser, kUser));
  // Ownership of what the user created (with --creds=daemon a mount may differ: see the
  // integration expectations).
  record_stat(r, "owner.mine", s / "mine");
  record_stat(r, "owner.mydir", s / "mydir");
  record_stat(r, "owner.mylink", s / "mylink", false);
  record_stat(r, "owner.myfifo", s / "myfifo", false);
  record_stat(r, "owner.sgid_file", root / "sgid" / "f");
  record_stat(r, "owner.sgid_dir", root / "sgid" / "d");
  r.note("listing.shared", listing(s));
  r.note("listing.sticky", listing(root / "sticky"));
}

}  // namespace

void add_sharing_scenarios(std::vector<Scenario>& out) {
  out.push_back({"posix_locks", posix_locks});
  out.push_back({"ofd_locks", ofd_locks});
  out.push_back({"flock_conflict", flock_conflict});
  out.push_back({"other_user", other_user});
}

}  // namespace fusebpf::posix
