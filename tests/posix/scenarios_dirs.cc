// Scenarios about the namespace: mkdir/rmdir, unlink, rename (all flavours), link, symlink,
// mknod, readdir (large, concurrently modified, telldir/seekdir), *at() calls and a source tree.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "posix/internal/util.h"
#include "posix/isolate.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

void mkdir_rmdir(const fs::path& root, Recorder& r) {
  fs::path d = root / "d";
  struct stat parent = stat_of(root);
  r.sys("mkdir", ::mkdir(d.c_str(), 0755));
  record_stat(r, "stat", d);
  r.num("parent.nlink_delta", static_cast<int64_t>(stat_of(root).st_nlink - parent.st_nlink));
  r.sys("mkdir.again", ::mkdir(d.c_str(), 0755));
  r.sys("mkdir.mode_umask", ::mkdir((root / "m").c_str(), 0777));
  record_stat(r, "mode_umask.stat", root / "m");
  r.sys("mkdir.sticky_setgid", ::mkdir((root / "s").c_str(), 03777));
  record_stat(r, "sticky_setgid.stat", root / "s");
  r.sys("mkdir.missing_parent", ::mkdir((root / "no" / "x").c_str(), 0755));
  r.sys("mkdir.nested", ::mkdir((d / "sub").c_str(), 0700));
  record_stat(r, "d.after_sub", d);
  put_file(r, "create.file", d / "f", "x");
  r.sys("mkdir.over_file", ::mkdir((d / "f").c_str(), 0755));
  r.sys("rmdir.not_empty", ::rmdir(d.c_str()));
  r.sys("rmdir.file", ::rmdir((d / "f").c_str()));
  r.sys("rmdir.dot", ::rmdir((d / "sub" / ".").c_str()));
  r.sys("rmdir.sub", ::rmdir((d / "sub").c_str()));
  r.sys("unlink.f", ::unlink((d / "f").c_str()));
  r.sys("rmdir.empty", ::rmdir(d.c_str()));
  r.sys("rmdir.again", ::rmdir(d.c_str()));
  r.num("parent.nlink_delta_end", static_cast<int64_t>(stat_of(root).st_nlink - parent.st_nlink));
  r.note("listing", listing(root));
  // A directory that is some process's cwd can be removed; the cwd then has no entries.
  r.sys("mkdir.cwd", ::mkdir((root / "cwd").c_str(), 0755));
  Recorder child = in_child([&](Recorder& c) {
    c.sys("chdir", ::chdir((root / "cwd").c_str()));
    c.sys("rmdir.own_cwd", ::rmdir((root / "cwd").c_str()));
    c.sys("create_in_deleted_cwd", ::open("x", O_WRONLY | O_CREAT, 0644));
  });
  r.merge("child", child);
}

void unlink_errors(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "f", "x");
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("unlink.dir", ::unlink((root / "d").c_str()));
  r.sys("unlink.missing", ::unlink((root / "missing").c_str()));
  r.sys("unlink.through_file", ::unlink((root / "f" / "x").c_str()));
  r.sys("unlink.file", ::unlink((root / "f").c_str()));
  r.sys("unlink.again", ::unlink((root / "f").c_str()));
  record_stat(r, "stat.after", root / "f");
  r.sys("symlink", ::symlink("d", (root / "l").c_str()));
  r.sys("unlink.symlink_to_dir", ::unlink((root / "l").c_str()));
  record_stat(r, "target_kept", root / "d");
  r.sys("mkfifo", ::mkfifo((root / "p").c_str(), 0644));
  r.sys("unlink.fifo", ::unlink((root / "p").c_str()));
  r.note("listing", listing(root));
}

void rename_plain(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "a", pattern(5000, 1));
  ino_t ino = stat_of(root / "a").st_ino;
  age(root);
  struct stat dir_before = stat_of(root);
  r.sys("rename", ::rename((root / "a").c_str(), (root / "b").c_str()));
  record_stat(r, "old", root / "a");
  record_stat(r, "new", root / "b");
  record_file(r, "new.content", root / "b");
  r.flag("same_ino", stat_of(root / "b").st_ino == ino);
  r.flag("dir.mtime_changed", time_changed(dir_before.st_mtim, stat_of(root).st_mtim));
  r.sys("rename.missing", ::rename((root / "a").c_str(), (root / "c").c_str()));
  r.sys("rename.to_self", ::rename((root / "b").c_str(), (root / "b").c_str()));
  r.sys("rename.missing_target_dir", ::rename((root / "b").c_str(), (root / "no" / "b").c_str()));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("rename.dir", ::rename((root / "d").c_str(), (root / "e").c_str()));
  r.sys("rename.dir_into_itself", ::rename((root / "e").c_str(), (root / "e" / "x").c_str()));
  r.sys("rename.dot", ::rename((root / "e" / ".").c_str(), (root / "x").c_str()));
  r.note("listing", listing(root));
}

void rename_over_existing(const fs::path& root, Recorder& r) {
  put_file(r, "create.a", root / "a", "AAAA");
  put_file(r, "create.b", root / "b", "BB");
  ino_t ino_a = stat_of(root / "a").st_ino;
  UniqueFd old_b = open_rec(r, "open.b", root / "b", O_RDONLY);
  r.sys("rename.file_over_file", ::rename((root / "a").c_str(), (root / "b").c_str()));
  r.note("b.content", slurp(root / "b"));
  r.flag("b.is_old_a", stat_of(root / "b").st_ino == ino_a);
  record_fd(r, "old_b_fd.content", old_b.get());
  r.sys("mkdir.d", ::mkdir((root / "d").c_str(), 0755));
  r.sys("mkdir.e", ::mkdir((root / "e").c_str(), 0755));
  r.sys("mkdir.full", ::mkdir((root / "full").c_str(), 0755));
  put_file(r, "create.full/x", root / "full" / "x", "x");
  r.sys("rename.file_over_dir", ::rename((root / "b").c_str(), (root / "d").c_str()));
  r.sys("rename.dir_over_file", ::rename((root / "d").c_str(), (root / "b").c_str()));
  r.sys("rename.dir_over_nonempty", ::rename((root / "d").c_str(), (root / "full").c_str()));
  ino_t ino_d = stat_of(root / "d").st_ino;
  r.sys("rename.dir_over_empty", ::rename((root / "d").c_str(), (root / "e").c_str()));
  r.flag("e.is_old_d", stat_of(root / "e").st_ino == ino_d);
  r.sys("symlink", ::symlink("b", (root / "l").c_str()));
  r.sys("rename.file_over_symlink", ::rename((root / "b").c_str(), (root / "l").c_str()));
  record_stat(r, "l.after", root / "l", false);
  r.note("listing", listing(root));
  record_stat(r, "root", root);
}

void rename_noreplace(const fs::path& root, Recorder& r) {
  put_file(r, "create.a", root / "a", "A");
  put_file(r, "create.b", root / "b", "B");
  r.sys("noreplace.existing", ::renameat2(AT_FDCWD, (root / "a").c_str(), AT_FDCWD,
                                          (root / "b").c_str(), RENAME_NOREPLACE));
  r.note("b.content", slurp(root / "b"));
  r.sys("noreplace.new", ::renameat2(AT_FDCWD, (root / "a").c_str(), AT_FDCWD, (root / "c").c_str(),
                                     RENAME_NOREPLACE));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("noreplace.dir_over_file", ::renameat2(AT_FDCWD, (root / "d").c_str(), AT_FDCWD,
                                               (root / "c").c_str(), RENAME_NOREPLACE));
  r.sys("noreplace.with_exchange",
        ::renameat2(AT_FDCWD, (root / "b").c_str(), AT_FDCWD, (root / "c").c_str(),
                    RENAME_NOREPLACE | RENAME_EXCHANGE));
  r.sys("bad_flags",
        ::renameat2(AT_FDCWD, (root / "b").c_str(), AT_FDCWD, (root / "x").c_str(), 1 << 20));
  r.note("listing", listing(root));
}

void rename_exchange(const fs::path& root, Recorder& r) {
  put_file(r, "create.f", root / "f", "file");
  r.sys("mkdir.d", ::mkdir((root / "d").c_str(), 0755));
  put_file(r, "create.d/inner", root / "d" / "inner", "inner");
  ino_t ino_f = stat_of(root / "f").st_ino, ino_d = stat_of(root / "d").st_ino;
  r.sys("exchange.file_dir", ::renameat2(AT_FDCWD, (root / "f").c_str(), AT_FDCWD,
                                         (root / "d").c_str(), RENAME_EXCHANGE));
  record_stat(r, "f.after", root / "f");
  record_stat(r, "d.after", root / "d");
  r.flag("f_is_old_d", stat_of(root / "f").st_ino == ino_d);
  r.flag("d_is_old_f", stat_of(root / "d").st_ino == ino_f);
  record_file(r, "f/inner", root / "f" / "inner");
  r.note("d.content", slurp(root / "d"));
  r.sys("exchange.missing", ::renameat2(AT_FDCWD, (root / "d").c_str(), AT_FDCWD,
                                        (root / "nope").c_str(), RENAME_EXCHANGE));
  r.sys("mkdir.sub", ::mkdir((root / "sub").c_str(), 0755));
  put_file(r, "create.sub/g", root / "sub" / "g", "g");
  r.sys("exchange.cross_dir", ::renameat2(AT_FDCWD, (root / "d").c_str(), AT_FDCWD,
                                          (root / "sub" / "g").c_str(), RENAME_EXCHANGE));
  r.note("root.listing", listing(root));
  r.note("sub.listing", listing(root / "sub"));
  r.note("d.content2", slurp(root / "d"));
  r.note("sub/g.content", slurp(root / "sub" / "g"));
  r.sys("exchange.same", ::renameat2(AT_FDCWD, (root / "d").c_str(), AT_FDCWD, (root / "d").c_str(),
                                     RENAME_EXCHANGE));
}

void rename_cross_dir(const fs::path& root, Recorder& r) {
  r.sys("mkdir.a", ::mkdir((root / "a").c_str(), 0755));
  r.sys("mkdir.b", ::mkdir((root / "b").c_str(), 0755));
  r.sys("mkdir.a/sub", ::mkdir((root / "a" / "sub").c_str(), 0755));
  put_file(r, "create.a/f", root / "a" / "f", "f-data");
  put_file(r, "create.a/sub/g", root / "a" / "sub" / "g", "g-data");
  r.sys("rename.file", ::rename((root / "a" / "f").c_str(), (root / "b" / "f2").c_str()));
  r.sys("rename.dir", ::rename((root / "a" / "sub").c_str(), (root / "b" / "sub").c_str()));
  record_stat(r, "a", root / "a");
  record_stat(r, "b", root / "b");
  r.flag("moved_dotdot_is_b",
         stat_of(root / "b" / "sub" / "..").st_ino == stat_of(root / "b").st_ino);
  record_file(r, "b/sub/g", root / "b" / "sub" / "g");
  record_file(r, "b/f2", root / "b" / "f2");
  r.note("a.listing", listing(root / "a"));
  r.note("b.listing", listing(root / "b"));
  r.sys("rename.into_descendant",
        ::rename((root / "b").c_str(), (root / "b" / "sub" / "x").c_str()));
  r.sys("rename.ancestor_over_descendant_parent",
        ::rename((root / "b" / "sub").c_str(), (root / "b").c_str()));
  // Moving back and forth many times keeps contents intact.
  for (int i = 0; i < 20; ++i) {
    fs::path from = root / (i % 2 == 0 ? "b" : "a") / "f2";
    fs::path to = root / (i % 2 == 0 ? "a" : "b") / "f2";
    if (::rename(from.c_str(), to.c_str()) != 0) r.sys(fmt::format("pingpong.{}", i), -1);
  }
  record_file(r, "pingpong.final", root / "b" / "f2");
}

void rename_hardlinks(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "a", "shared");
  r.sys("link", ::link((root / "a").c_str(), (root / "b").c_str()));
  // Renaming one hard link over another of the same inode is a successful no-op.
  r.sys("rename.same_inode", ::rename((root / "a").c_str(), (root / "b").c_str()));
  r.note("listing", listing(root));
  record_stat(r, "a", root / "a");
  record_stat(r, "b", root / "b");
  r.sys("rename.link_away", ::rename((root / "b").c_str(), (root / "c").c_str()));
  r.flag("same_ino", stat_of(root / "a").st_ino == stat_of(root / "c").st_ino);
  put_file(r, "create.victim", root / "v", "victim");
  r.sys("link.victim", ::link((root / "v").c_str(), (root / "v2").c_str()));
  r.sys("rename.over_linked", ::rename((root / "a").c_str(), (root / "v").c_str()));
  record_stat(r, "v2.after", root / "v2");
  record_stat(r, "v.after", root / "v");
  record_stat(r, "c.after", root / "c");
}

void link_counts(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "f", "data");
  ino_t ino = stat_of(root / "f").st_ino;
  age(root / "f");
  struct stat before = stat_of(root / "f");
  r.sys("link", ::link((root / "f").c_str(), (root / "g").c_str()));
  r.flag("ctime_changed", time_changed(before.st_ctim, stat_of(root / "f").st_ctim));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("link.other_dir", ::link((root / "f").c_str(), (root / "d" / "h").c_str()));
  record_stat(r, "f", root / "f");
  record_stat(r, "g", root / "g");
  r.flag("same_ino", stat_of(root / "g").st_ino == ino && stat_of(root / "d" / "h").st_ino == ino);
  UniqueFd fd = open_rec(r, "open.g", root / "g", O_WRONLY | O_APPEND);
  r.sys_val("write.g", ::write(fd.get(), "+more", 5));
  r.note("f.content", slurp(root / "f"));
  r.sys("link.existing", ::link((root / "f").c_str(), (root / "g").c_str()));
  r.sys("link.dir", ::link((root / "d").c_str(), (root / "d2").c_str()));
  r.sys("link.missing", ::link((root / "nope").c_str(), (root / "x").c_str()));
  r.sys("unlink.f", ::unlink((root / "f").c_str()));
  record_stat(r, "g.after_unlink", root / "g");
  record_fstat(r, "fstat.after_unlink", fd.get());
  r.sys("symlink", ::symlink("g", (root / "s").c_str()));
  r.sys("link.symlink_itself", ::link((root / "s").c_str(), (root / "s2").c_str()));
  record_stat(r, "s2", root / "s2", false);
  r.sys("linkat.follow", ::linkat(AT_FDCWD, (root / "s").c_str(), AT_FDCWD, (root / "s3").c_str(),
                                  AT_SYMLINK_FOLLOW));
  record_stat(r, "s3", root / "s3", false);
  r.flag("s3_is_g", stat_of(root / "s3", false).st_ino == ino);
}

void symlink_readlink(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "target", "T");
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("symlink.rel", ::symlink("target", (root / "rel").c_str()));
  r.sys("symlink.up", ::symlink("../target", (root / "d" / "up").c_str()));
  r.sys("symlink.dangling", ::symlink("does/not/exist", (root / "dangling").c_str()));
  r.sys("symlink.loop_a", ::symlink("loop_b", (root / "loop_a").c_str()));
  r.sys("symlink.loop_b", ::symlink("loop_a", (root / "loop_b").c_str()));
  r.sys("symlink.to_dir", ::symlink("d", (root / "dirlink").c_str()));
  std::string long_target(1000, 'z');
  r.sys("symlink.long", ::symlink(long_target.c_str(), (root / "long").c_str()));
  r.sys("symlink.existing", ::symlink("x", (root / "rel").c_str()));
  r.sys("symlink.empty_target", ::symlink("", (root / "empty").c_str()));
  for (const char* name : {"rel", "d/up", "dangling", "loop_a", "long", "target"}) {
    char buf[2048];
    ssize_t n = ::readlink((root / name).c_str(), buf, sizeof buf);
    r.sys_val(fmt::format("readlink.{}", name), n);
    if (n > 0) r.note(fmt::format("readlink.{}.value", name), summary(std::string_view(buf, n)));
    record_stat(r, fmt::format("lstat.{}", name), root / name, false);
    record_stat(r, fmt::format("stat.{}", name), root / name);
  }
  char small[4];
  r.sys_val("readlink.truncated", ::readlink((root / "rel").c_str(), small, sizeof small));
  r.note("readlink.truncated.value", std::string(small, 4));
  record_file(r, "read_through.rel", root / "rel");
  record_file(r, "read_through.up", root / "d" / "up");
  r.note("listing_through_dirlink", listing(root / "dirlink"));
  open_rec(r, "open.loop", root / "loop_a", O_RDONLY);
  open_rec(r, "creat.dangling", root / "dangling", O_WRONLY | O_CREAT);
}

void mknod_special(const fs::path& root, Recorder& r) {
  r.sys("mkfifo", ::mkfifo((root / "fifo").c_str(), 0640));
  r.sys("mknod.socket", ::mknod((root / "sock").c_str(), S_IFSOCK | 0600, 0));
  r.sys("mknod.chardev", ::mknod((root / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)));
  r.sys("mknod.blockdev", ::mknod((root / "blk").c_str(), S_IFBLK | 0600, makedev(7, 200)));
  r.sys("mknod.regular", ::mknod((root / "reg").c_str(), S_IFREG | 0600, 0));
  r.sys("mknod.existing", ::mknod((root / "fifo").c_str(), S_IFIFO | 0600, 0));
  for (const char* name : {"fifo", "sock", "null", "blk", "reg"}) {
    record_stat(r, fmt::format("stat.{}", name), root / name, false);
  }
  // The fifo works as a fifo (the kernel handles it, not the file system).
  UniqueFd fifo = open_rec(r, "open.fifo", root / "fifo", O_RDWR);
  r.sys_val("fifo.write", ::write(fifo.get(), "ping", 4));
  char buf[8] = {};
  r.sys_val("fifo.read", ::read(fifo.get(), buf, sizeof buf));
  r.note("fifo.data", buf);
  UniqueFd null = open_rec(r, "open.null", root / "null", O_RDWR);
  r.sys_val("null.write", ::write(null.get(), "x", 1));
  r.sys_val("null.read", ::read(null.get(), buf, sizeof buf));
  r.note("listing", listing(root));
}

void readdir_large(const fs::path& root, Recorder& r) {
  fs::path d = root / "big";
  r.sys("mkdir", ::mkdir(d.c_str(), 0755));
  int failures = 0;
  for (int i = 0; i < 5000; ++i) {
    fs::path p = d / fmt::format("entry-{:05d}-{}", i, std::string(i % 40, 'x'));
    failures += !touch(p);
  }
  r.num("create_failures", failures);
  std::vector<std::string> names = list_dir(d);
  r.num("count", static_cast<int64_t>(names.size()));
  std::string joined;
  for (const auto& n : names) joined += n + "/";
  r.note("names", summary(joined));
  r.flag("unique", std::set<std::string>(names.begin(), names.end()).size() == names.size());
  // d_type is filled in for each entry (or DT_UNKNOWN consistently).
  DIR* dir = ::opendir(d.c_str());
  std::map<int, int> types;
  int dots = 0;
  while (struct dirent* e = dir ? ::readdir(dir) : nullptr) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..")
      ++dots;
    else
      ++types[e->d_type];
  }
  if (dir) ::closedir(dir);
  r.num("dots", dots);
  for (auto [type, count] : types) r.num(fmt::format("dtype.{}", type), count);
  // Remove every other entry and list again.
  for (int i = 0; i < 5000; i += 2) {
    ::unlink((d / fmt::format("entry-{:05d}-{}", i, std::string(i % 40, 'x'))).c_str());
  }
  r.num("count_after_unlink", static_cast<int64_t>(list_dir(d).size()));
}

void readdir_modify(const fs::path& root, Recorder& r) {
  fs::path d = root / "d";
  r.sys("mkdir", ::mkdir(d.c_str(), 0755));
  int failures = 0;
  for (int i = 0; i < 300; ++i) failures += !touch(d / fmt::format("stable-{:03d}", i));
  for (int i = 0; i < 100; ++i) failures += !touch(d / fmt::format("victim-{:03d}", i));
  r.num("create_failures", failures);
  DIR* dir = ::opendir(d.c_str());
  std::map<std::string, int> seen;
  int step = 0;
  while (struct dirent* e = dir ? ::readdir(dir) : nullptr) {
    ++seen[e->d_name];
    if (++step % 10 == 0) {
      // Modify the directory while iterating it: add new entries and remove victims.
      ::close(::open((d / fmt::format("new-{:03d}", step)).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC,
                     0644));
      ::unlink((d / fmt::format("victim-{:03d}", step / 10)).c_str());
    }
  }
  if (dir) ::closedir(dir);
  // POSIX: entries neither added nor removed during the walk are returned exactly once;
  // whether added or removed ones show up is unspecified, so they are not recorded.
  int stable_once = 0, duplicates = 0;
  for (auto& [name, count] : seen) {
    if (name.starts_with("stable-") && count == 1) ++stable_once;
    if (count > 1) ++duplicates;
  }
  r.num("stable_seen_once", stable_once);
  r.num("entries_seen_twice", duplicates);
  r.num("final_count", static_cast<int64_t>(list_dir(d).size()));
}

void telldir_seekdir(const fs::path& root, Recorder& r) {
  fs::path d = root / "d";
  r.sys("mkdir", ::mkdir(d.c_str(), 0755));
  int failures = 0;
  for (int i = 0; i < 200; ++i) failures += !touch(d / fmt::format("f{:03d}", i));
  r.num("create_failures", failures);
  DIR* dir = ::opendir(d.c_str());
  if (dir == nullptr) {
    r.sys("opendir", -1);
    return;
  }
  std::vector<std::string> first, rest, again;
  long mark = -1;
  for (;;) {
    long pos = ::telldir(dir);  // the position of the entry readdir returns next
    struct dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    if (first.size() == 77 && mark < 0) mark = pos;
    (mark < 0 ? first : rest).push_back(e->d_name);
  }
  ::seekdir(dir, mark);
  while (struct dirent* e = ::readdir(dir)) again.push_back(e->d_name);
  r.num("total", static_cast<int64_t>(first.size() + rest.size()));
  r.flag("seekdir_resumes_same", again == rest);
  ::rewinddir(dir);
  std::vector<std::string> all;
  while (struct dirent* e = ::readdir(dir)) all.push_back(e->d_name);
  std::vector<std::string> original = first;
  original.insert(original.end(), rest.begin(), rest.end());
  r.flag("rewinddir_same_order", all == original);
  ::closedir(dir);
  // lseek on a directory fd back to 0 restarts the listing too.
  UniqueFd fd = open_rec(r, "open.dir", d, O_RDONLY | O_DIRECTORY);
  char buf[4096];
  ssize_t n1 = ::getdents64(fd.get(), buf, sizeof buf);
  r.flag("getdents.first", n1 > 0);
  r.sys_val("lseek.dir0", ::lseek(fd.get(), 0, SEEK_SET));
  r.flag("getdents.again_same", ::getdents64(fd.get(), buf, sizeof buf) == n1);
}

// nftw takes a plain function pointer: the walk's output and root prefix live here.
std::vector<std::string>* g_walk = nullptr;
size_t g_walk_prefix = 0;

int walk_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  std::string rel = std::string(path).substr(g_walk_prefix);
  std::string kind = flag == FTW_D ? "d" : flag == FTW_F ? "f" : flag == FTW_SL ? "l" : "?";
  std::string digest = flag == FTW_F ? hash_hex(slurp(path)) : "";
  g_walk->push_back(fmt::format("{}:{}:{}:{:o}:{}:{}", ftw->level, rel, kind, st->st_mode & 07777,
                                S_ISDIR(st->st_mode) ? 0 : st->st_size, digest));
  return 0;
}

void source_tree(const fs::path& root, Recorder& r) {
  fs::path src = root / "src";
  int failures = 0;
  int files = 0;
  for (int a = 0; a < 6; ++a) {
    fs::path da = src / fmt::format("module{}", a);
    failures += ::mkdir(src.c_str(), 0755) != 0 && errno != EEXIST;
    failures += ::mkdir(da.c_str(), 0755) != 0;
    for (int b = 0; b < 5; ++b) {
      fs::path db = da / fmt::format("pkg{}", b);
      failures += ::mkdir(db.c_str(), 0755) != 0;
      for (int c = 0; c < 10; ++c) {
        std::string body = fmt::format("// file {} {} {}\nint f{}_{}_{}() {{ return {}; }}\n{}", a,
                                       b, c, a, b, c, a * b * c, pattern((a + b + c) * 37, c));
        failures += !write_quietly(db / fmt::format("file{}.c", c), body);
        ++files;
      }
      ::symlink("file0.c", (db / "main.c").c_str());
    }
  }
  r.num("files", files);
  r.num("failures", failures);
  std::vector<std::string> walk;
  g_walk = &walk;
  g_walk_prefix = root.native().size();
  r.sys("nftw", ::nftw(src.c_str(), walk_entry, 16, FTW_PHYS));
  g_walk = nullptr;
  std::sort(walk.begin(), walk.end());
  std::string joined;
  for (const auto& w : walk) joined += w + "\n";
  r.num("walk.entries", static_cast<int64_t>(walk.size()));
  r.note("walk", summary(joined));
  r.note("walk.sample", walk.empty() ? "" : walk[walk.size() / 2]);
}

void dirfd_ops(const fs::path& root, Recorder& r) {
  UniqueFd dir = open_rec(r, "open.root", root, O_RDONLY | O_DIRECTORY);
  int d = dir.get();
  r.sys("mkdirat", ::mkdirat(d, "sub", 0755));
  UniqueFd sub = UniqueFd(::openat(d, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  r.sys("openat.sub", sub.get());
  UniqueFd f = UniqueFd(::openat(sub.get(), "f", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  r.sys("openat.create", f.get());
  r.sys_val("write", ::write(f.get(), "at", 2));
  struct stat st {};
  r.sys("fstatat", ::fstatat(d, "sub/f", &st, 0));
  r.stat_fields("fstatat.fields", st);
  r.sys("fstatat.empty_path", ::fstatat(f.get(), "", &st, AT_EMPTY_PATH));
  r.stat_fields("fstatat.empty_path.fields", st);
  r.sys("renameat", ::renameat(sub.get(), "f", d, "g"));
  r.sys("symlinkat", ::symlinkat("g", sub.get(), "lg"));
  char buf[16] = {};
  r.sys_val("readlinkat", ::readlinkat(sub.get(), "lg", buf, sizeof buf));
  r.sys("faccessat", ::faccessat(d, "g", R_OK | W_OK, 0));
  r.sys("fchmodat", ::fchmodat(d, "g", 0640, 0));
  r.sys("fchownat", ::fchownat(d, "g", 1, 1, 0));
  record_stat(r, "g", root / "g");
  r.sys("unlinkat.dir_without_flag", ::unlinkat(d, "sub", 0));
  r.sys("unlinkat.file_with_flag", ::unlinkat(d, "g", AT_REMOVEDIR));
  r.sys("unlinkat.symlink", ::unlinkat(sub.get(), "lg", 0));
  r.sys("unlinkat.dir", ::unlinkat(d, "sub", AT_REMOVEDIR));
  r.sys("openat.in_removed_dir", ::openat(sub.get(), "x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  r.sys("mkdirat.in_removed_dir", ::mkdirat(sub.get(), "y", 0755));
  r.note("listing", listing(root));
  // O_PATH fds work as *at() anchors and with fstat.
  UniqueFd path_fd(::open((root / "g").c_str(), O_PATH | O_CLOEXEC));
  r.sys("open.o_path", path_fd.get());
  r.sys("fstat.o_path", ::fstat(path_fd.get(), &st));
  r.sys_val("read.o_path", ::read(path_fd.get(), buf, 1));
}

}  // namespace

void add_dir_scenarios(std::vector<Scenario>& out) {
  out.push_back({"mkdir_rmdir", mkdir_rmdir});
  out.push_back({"unlink_errors", unlink_errors});
  out.push_back({"rename_plain", rename_plain});
  out.push_back({"rename_over_existing", rename_over_existing});
  out.push_back({"rename_noreplace", rename_noreplace});
  out.push_back({"rename_exchange", rename_exchange});
  out.push_back({"rename_cross_dir", rename_cross_dir});
  out.push_back({"rename_hardlinks", rename_hardlinks});
  out.push_back({"link_counts", link_counts});
  out.push_back({"symlink_readlink", symlink_readlink});
  out.push_back({"mknod_special", mknod_special});
  out.push_back({"readdir_large", readdir_large});
  out.push_back({"readdir_modify", readdir_modify});
  out.push_back({"telldir_seekdir", telldir_seekdir});
  out.push_back({"source_tree", source_tree});
  out.push_back({"dirfd_ops", dirfd_ops});
}

}  // namespace fusebpf::posix
