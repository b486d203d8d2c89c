// Scenarios about attributes: chmod/chown, truncate, timestamps, statfs, statx, access, user
// xattrs and POSIX ACLs (stored as system.posix_acl_* xattrs).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "posix/internal/util.h"
#include "posix/isolate.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

constexpr int kOtherUid = 1000;

void chmod_chown(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, "x");
  for (mode_t m : {0000, 0777, 04755, 02755, 01644, 07777, 0600}) {
    r.sys(fmt::format("chmod.{:04o}", m), ::chmod(f.c_str(), m));
    record_stat(r, fmt::format("chmod.{:04o}.stat", m), f);
  }
  UniqueFd fd = open_rec(r, "open", f, O_RDONLY);
  r.sys("fchmod", ::fchmod(fd.get(), 0751));
  record_fstat(r, "fchmod.fstat", fd.get());
  r.sys("chown", ::chown(f.c_str(), kOtherUid, kOtherUid));
  record_stat(r, "chown.stat", f);
  r.sys("chown.keep_uid", ::chown(f.c_str(), -1, 0));
  record_stat(r, "chown.keep_uid.stat", f);
  r.sys("fchown", ::fchown(fd.get(), 0, kOtherUid));
  record_stat(r, "fchown.stat", f);
  // chown clears set-user-ID and (group-executable) set-group-ID on regular files.
  r.sys("chmod.suid", ::chmod(f.c_str(), 06755));
  r.sys("chown.clears_suid", ::chown(f.c_str(), 0, 0));
  record_stat(r, "chown.clears_suid.stat", f);
  r.sys("symlink", ::symlink("f", (root / "l").c_str()));
  r.sys("lchown", ::lchown((root / "l").c_str(), kOtherUid, kOtherUid));
  record_stat(r, "lchown.link", root / "l", false);
  record_stat(r, "lchown.target", f);
  r.sys("chmod.through_symlink", ::chmod((root / "l").c_str(), 0640));
  record_stat(r, "chmod.through_symlink.target", f);
  r.sys("fchmodat.nofollow", ::fchmodat(AT_FDCWD, (root / "l").c_str(), 0600, AT_SYMLINK_NOFOLLOW));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("chown.dir", ::chown((root / "d").c_str(), kOtherUid, 0));
  r.sys("chmod.dir_setgid", ::chmod((root / "d").c_str(), 02775));
  record_stat(r, "dir.stat", root / "d");
  r.sys("chmod.missing", ::chmod((root / "missing").c_str(), 0644));
  // A non-owner can neither chmod nor chown; the owner can chmod but not give the file away.
  r.sys("chown.d_for_child", ::chown((root / "d").c_str(), kOtherUid, kOtherUid));
  r.merge("other", in_child(
                       [&](Recorder& c) {
                         c.sys("chmod.not_owner", ::chmod(f.c_str(), 0777));
                         c.sys("chown.not_root", ::chown(f.c_str(), kOtherUid, kOtherUid));
                         c.sys("chmod.own_dir", ::chmod((root / "d").c_str(), 0700));
                         c.sys("chown.give_away", ::chown((root / "d").c_str(), 0, -1));
                         c.sys("chgrp.not_member", ::chown((root / "d").c_str(), -1, 0));
                       },
                       kOtherUid, kOtherUid));
  record_stat(r, "f.final", f);
  record_stat(r, "d.final", root / "d");
}

void truncate_paths(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, pattern(10000, 3));
  r.sys("truncate.shrink", ::truncate(f.c_str(), 1000));
  record_file(r, "after_shrink", f);
  r.sys("truncate.grow", ::truncate(f.c_str(), 50000));
  std::string data = slurp(f);
  r.num("after_grow.size", static_cast<int64_t>(data.size()));
  r.flag("grown_part_zero", data.size() == 50000 && data.substr(1000) == std::string(49000, '\0'));
  r.flag("kept_part", data.substr(0, 1000) == pattern(10000, 3).substr(0, 1000));
  UniqueFd fd = open_rec(r, "open.wronly", f, O_WRONLY);
  r.sys("ftruncate.shrink", ::ftruncate(fd.get(), 10));
  r.num("ftruncate.size", stat_of(f).st_size);
  r.sys("ftruncate.grow", ::ftruncate(fd.get(), 4097));
  record_fstat(r, "ftruncate.fstat", fd.get());
  r.sys("ftruncate.negative", ::ftruncate(fd.get(), -1));
  UniqueFd ro = open_rec(r, "open.rdonly", f, O_RDONLY);
  r.sys("ftruncate.rdonly", ::ftruncate(ro.get(), 0));
  r.sys("truncate.dir", ::truncate(root.c_str(), 0));
  r.sys("truncate.missing", ::truncate((root / "missing").c_str(), 0));
  r.sys("truncate.negative", ::truncate(f.c_str(), -5));
  // ftruncate through an fd whose file mode no longer allows writing (permission was checked at
  // open time, so it still succeeds), also for another user.
  r.sys("chmod.0444", ::chmod(f.c_str(), 0444));
  r.sys("ftruncate.after_chmod", ::ftruncate(fd.get(), 7));
  r.num("size.after_chmod", stat_of(f).st_size);
  r.sys("chmod.0666", ::chmod(f.c_str(), 0666));
  r.merge("other", in_child(
                       [&](Recorder& c) {
                         UniqueFd w = open_rec(c, "open", f, O_WRONLY);
                         c.sys("ftruncate", ::ftruncate(w.get(), 3));
                         c.sys("truncate.path", ::truncate(f.c_str(), 2));
                       },
                       kOtherUid, kOtherUid));
  record_stat(r, "final", f);
  // Truncating a file with setuid bits by its owner clears them.
  r.sys("chmod.suid", ::chmod(f.c_str(), 04777));
  r.merge("other_suid", in_child([&](Recorder& c) { c.sys("truncate", ::truncate(f.c_str(), 1)); },
                                 kOtherUid, kOtherUid));
  record_stat(r, "after_other_truncate", f);
}

std::string ts(const struct timespec& t) { return fmt::format("{}.{:09d}", t.tv_sec, t.tv_nsec); }

void utimens(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, "x");
  struct timespec set[2] = {{1500000000, 123456789}, {1600000000, 987654321}};
  age(f);
  struct stat before = stat_of(f);
  r.sys("utimensat.explicit", ::utimensat(AT_FDCWD, f.c_str(), set, 0));
  struct stat st = stat_of(f);
  r.note("explicit.atime", ts(st.st_atim));
  r.note("explicit.mtime", ts(st.st_mtim));
  r.flag("explicit.ctime_changed", time_changed(before.st_ctim, st.st_ctim));
  struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  r.sys("utimensat.omit_atime_now_mtime", ::utimensat(AT_FDCWD, f.c_str(), omit_now, 0));
  struct stat st2 = stat_of(f);
  r.note("omit.atime", ts(st2.st_atim));
  r.flag("now.mtime_changed", time_changed(st.st_mtim, st2.st_mtim));
  r.flag("now.mtime_recent", st2.st_mtim.tv_sec > 1700000000);
  struct timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  r.sys("utimensat.now_atime_omit_mtime", ::utimensat(AT_FDCWD, f.c_str(), now_omit, 0));
  struct stat st3 = stat_of(f);
  r.flag("now.atime_changed", time_changed(st2.st_atim, st3.st_atim));
  r.flag("omit.mtime_kept", !time_changed(st2.st_mtim, st3.st_mtim));
  struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  r.sys("utimensat.both_omit", ::utimensat(AT_FDCWD, f.c_str(), both_omit, 0));
  r.sys("utimensat.null", ::utimensat(AT_FDCWD, f.c_str(), nullptr, 0));
  r.flag("null.recent", stat_of(f).st_mtim.tv_sec > 1700000000);
  UniqueFd fd = open_rec(r, "open", f, O_RDONLY);
  r.sys("futimens", ::futimens(fd.get(), set));
  r.note("futimens.mtime", ts(stat_of(f).st_mtim));
  r.sys("symlink", ::symlink("f", (root / "l").c_str()));
  struct timespec link_times[2] = {{1400000000, 5}, {1400000001, 6}};
  r.sys("utimensat.nofollow",
        ::utimensat(AT_FDCWD, (root / "l").c_str(), link_times, AT_SYMLINK_NOFOLLOW));
  r.note("link.mtime", ts(stat_of(root / "l", false).st_mtim));
  r.note("target.mtime_unchanged", ts(stat_of(f).st_mtim));
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  r.sys("utimensat.bad_nsec", ::utimensat(AT_FDCWD, f.c_str(), bad, 0));
  struct timespec old[2] = {{-1, 0}, {0, 0}};
  r.sys("utimensat.pre_epoch", ::utimensat(AT_FDCWD, f.c_str(), old, 0));
  r.note("pre_epoch.atime", ts(stat_of(f).st_atim));
  // Another user: UTIME_NOW needs write permission, explicit times need ownership.
  r.sys("chmod.0666", ::chmod(f.c_str(), 0666));
  r.merge("other", in_child(
                       [&](Recorder& c) {
                         c.sys("utimensat.now", ::utimensat(AT_FDCWD, f.c_str(), nullptr, 0));
                         c.sys("utimensat.explicit", ::utimensat(AT_FDCWD, f.c_str(), set, 0));
                       },
                       kOtherUid, kOtherUid));
  r.sys("chmod.0644", ::chmod(f.c_str(), 0644));
  r.merge("other_ro", in_child(
                          [&](Recorder& c) {
                            c.sys("utimensat.now", ::utimensat(AT_FDCWD, f.c_str(), nullptr, 0));
                          },
                          kOtherUid, kOtherUid));
}

void time_updates(const fs::path& root, Recorder& r) {
  fs::path f = root / "f", d = root / "d";
  put_file(r, "create", f, "abc");
  r.sys("mkdir", ::mkdir(d.c_str(), 0755));
  // For directories only mtime is recorded: whether an entry change also moves the directory's
  // ctime past the one utimensat gave it depends on timestamp granularity (seen flaky natively).
  auto step = [&](std::string_view name, const fs::path& p, auto op) {
    age(p);
    struct stat b = stat_of(p);
    op();
    struct stat a = stat_of(p);
    std::string value =
        fmt::format("mtime {}", time_changed(b.st_mtim, a.st_mtim) ? "changed" : "same");
    if (!S_ISDIR(a.st_mode)) {
      value += fmt::format(" ctime {}", time_changed(b.st_ctim, a.st_ctim) ? "changed" : "same");
    }
    r.note(name, value);
  };
  UniqueFd fd = open_rec(r, "open", f, O_RDWR);
  step("write", f, [&] { (void)!::pwrite(fd.get(), "xy", 2, 1); });
  step("read", f, [&] {
    char buf[4];
    (void)!::pread(fd.get(), buf, 4, 0);
  });
  step("chmod", f, [&] { ::chmod(f.c_str(), 0600); });
  step("ftruncate_same_size", f, [&] { (void)!::ftruncate(fd.get(), 3); });
  step("truncate_grow", f, [&] { (void)!::truncate(f.c_str(), 100); });
  step("setxattr", f, [&] { ::setxattr(f.c_str(), "user.t", "v", 1, 0); });
  step("link", f, [&] { ::link(f.c_str(), (root / "f2").c_str()); });
  step("rename_self", f, [&] { ::rename(f.c_str(), (root / "f3").c_str()); });
  f = root / "f3";
  step("dir.create", d, [&] { touch(d / "x"); });
  step("dir.stat", d, [&] { stat_of(d / "x"); });
  step("dir.rename_within", d, [&] { ::rename((d / "x").c_str(), (d / "y").c_str()); });
  step("dir.unlink", d, [&] { ::unlink((d / "y").c_str()); });
  step("dir.mkdir", d, [&] { ::mkdir((d / "s").c_str(), 0755); });
  step("dir.readdir", d, [&] { list_dir(d); });
  step("append_through_new_fd", f, [&] {
    UniqueFd a(::open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    (void)!::write(a.get(), "z", 1);
  });
  // Timestamps only move forward from the aged value.
  struct stat now = stat_of(f);
  r.flag("mtime_after_aged_value", now.st_mtim.tv_sec > 1000000000);
}

void statfs_sanity(const fs::path& root, Recorder& r) {
  struct statvfs a {
  }, b{};
  r.sys("statvfs", ::statvfs(root.c_str(), &a));
  UniqueFd fd = open_rec(r, "open", root, O_RDONLY | O_DIRECTORY);
  r.sys("fstatvfs", ::fstatvfs(fd.get(), &b));
  r.num("bsize", static_cast<int64_t>(a.f_bsize));
  r.num("frsize", static_cast<int64_t>(a.f_frsize));
  r.num("namemax", static_cast<int64_t>(a.f_namemax));
  r.num("blocks", static_cast<int64_t>(a.f_blocks));
  r.flag("bfree_le_blocks", a.f_bfree <= a.f_blocks);
  r.flag("bavail_le_bfree", a.f_bavail <= a.f_bfree);
  r.flag("ffree_le_files", a.f_ffree <= a.f_files);
  r.flag("fstatvfs_same_geometry", a.f_blocks == b.f_blocks && a.f_bsize == b.f_bsize);
  // Writing 1 MiB (and fsync) lowers the free block count by roughly that much.
  put_file(r, "create", root / "f", pattern(1 << 20, 1));
  UniqueFd f = open_rec(r, "open.f", root / "f", O_RDONLY);
  ::fsync(f.get());
  struct statvfs c {};
  ::statvfs(root.c_str(), &c);
  r.flag("free_space_dropped", c.f_bfree < a.f_bfree);
  r.sys("statvfs.missing", ::statvfs((root / "missing").c_str(), &c));
}

void statx_fields(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "f", pattern(12345, 2));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0750));
  r.sys("symlink", ::symlink("f", (root / "l").c_str()));
  for (const char* name : {"f", "d", "l"}) {
    struct statx sx {};
    int rc = ::statx(AT_FDCWD, (root / name).c_str(), AT_SYMLINK_NOFOLLOW,
                     STATX_BASIC_STATS | STATX_BTIME, &sx);
    r.sys(fmt::format("statx.{}", name), rc);
    r.flag(fmt::format("statx.{}.basic_mask", name),
           (sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
    r.note(fmt::format("statx.{}.fields", name),
           fmt::format("{} mode={:04o} nlink={} uid={} gid={} size={}", file_type_name(sx.stx_mode),
                       sx.stx_mode & 07777, sx.stx_nlink, sx.stx_uid, sx.stx_gid,
                       S_ISDIR(sx.stx_mode) ? 0 : sx.stx_size));
    struct stat st = stat_of(root / name, false);
    r.flag(fmt::format("statx.{}.ino_matches_stat", name), sx.stx_ino == st.st_ino);
    r.flag(fmt::format("statx.{}.mtime_matches_stat", name),
           sx.stx_mtime.tv_sec == st.st_mtim.tv_sec &&
               sx.stx_mtime.tv_nsec == static_cast<uint32_t>(st.st_mtim.tv_nsec));
    r.flag(fmt::format("statx.{}.blocks_matches_stat", name),
           sx.stx_blocks == static_cast<uint64_t>(st.st_blocks));
  }
  struct statx sx {};
  r.sys("statx.force_sync",
        ::statx(AT_FDCWD, (root / "f").c_str(), AT_STATX_FORCE_SYNC, STATX_SIZE, &sx));
  r.num("statx.force_sync.size", static_cast<int64_t>(sx.stx_size));
  r.sys("statx.dont_sync",
        ::statx(AT_FDCWD, (root / "f").c_str(), AT_STATX_DONT_SYNC, STATX_SIZE, &sx));
  r.sys("statx.missing", ::statx(AT_FDCWD, (root / "missing").c_str(), 0, STATX_BASIC_STATS, &sx));
  r.sys("statx.bad_mask", ::statx(AT_FDCWD, (root / "f").c_str(), 0, 0x80000000U, &sx));
  UniqueFd fd = open_rec(r, "open", root / "f", O_RDONLY);
  r.sys("statx.empty_path", ::statx(fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
  r.num("statx.empty_path.size", static_cast<int64_t>(sx.stx_size));
}

void access_checks(const fs::path& root, Recorder& r) {
  struct Case {
    const char* name;
    mode_t mode;
  };
  for (Case c : {Case{"m0000", 0000}, Case{"m0644", 0644}, Case{"m0100", 0100}, Case{"m0001", 0001},
                 Case{"m0600", 0600}, Case{"m0755", 0755}, Case{"m0222", 0222}}) {
    fs::path p = root / c.name;
    touch(p);
    ::chmod(p.c_str(), c.mode);
  }
  r.sys("mkdir", ::mkdir((root / "d700").c_str(), 0700));
  touch(root / "d700" / "inner");
  auto probe = [&](Recorder& out, std::string_view who) {
    for (const char* name : {"m0000", "m0644", "m0100", "m0001", "m0600", "m0755", "m0222", "d700",
                             "d700/inner", "missing"}) {
      for (auto [mode, mname] : {std::pair{F_OK, "F"}, std::pair{R_OK, "R"}, std::pair{W_OK, "W"},
                                 std::pair{X_OK, "X"}, std::pair{R_OK | W_OK, "RW"}}) {
        out.sys(fmt::format("{}.{}.{}", who, name, mname), ::access((root / name).c_str(), mode));
      }
    }
    out.sys(fmt::format("{}.faccessat_eaccess", who),
            ::faccessat(AT_FDCWD, (root / "m0644").c_str(), W_OK, AT_EACCESS));
  };
  probe(r, "root");
  r.merge("other", in_child([&](Recorder& c) { probe(c, "uid1000"); }, kOtherUid, kOtherUid));
  r.sys("access.bad_mode", ::access((root / "m0644").c_str(), 0x40));
}

// POSIX ACL xattr encoding (version 2, little endian entries {tag u16, perm u16, id u32}).
std::string acl_blob(std::initializer_list<std::tuple<uint16_t, uint16_t, uint32_t>> entries) {
  std::string out("\x02\x00\x00\x00", 4);
  for (auto [tag, perm, id] : entries) {
    char e[8];
    std::memcpy(e, &tag, 2);
    std::memcpy(e + 2, &perm, 2);
    std::memcpy(e + 4, &id, 4);
    out.append(e, 8);
  }
  return out;
}

std::string hex(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += fmt::format("{:02x}", c);
  return out;
}

void record_xattr(Recorder& r, std::string_view key, const fs::path& p, const char* name) {
  char buf[4096];
  ssize_t n = ::getxattr(p.c_str(), name, buf, sizeof buf);
  r.sys_val(key, n);
  if (n >= 0) r.note(fmt::format("{}.value", key), hex(std::string_view(buf, n)));
}

void posix_acl(const fs::path& root, Recorder& r) {
  constexpr uint32_t kNone = 0xffffffff;
  fs::path f = root / "f";
  put_file(r, "create", f, "acl");
  std::string acl = acl_blob({{0x01, 6, kNone},
                              {0x02, 5, kOtherUid},
                              {0x04, 4, kNone},
                              {0x10, 5, kNone},
                              {0x20, 0, kNone}});
  r.sys("set.access", ::setxattr(f.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0));
  record_xattr(r, "get.access", f, "system.posix_acl_access");
  record_stat(r, "mode_follows_mask", f);
  r.merge("other", in_child(
                       [&](Recorder& c) {
                         c.sys("read_via_acl", ::access(f.c_str(), R_OK));
                         c.sys("write_denied", ::access(f.c_str(), W_OK));
                         UniqueFd fd = open_rec(c, "open.read", f, O_RDONLY);
                         open_rec(c, "open.write", f, O_WRONLY);
                       },
                       kOtherUid, kOtherUid));
  r.sys("chmod.updates_mask", ::chmod(f.c_str(), 0600));
  record_xattr(r, "get.after_chmod", f, "system.posix_acl_access");
  r.merge("other_after_chmod",
          in_child([&](Recorder& c) { c.sys("read", ::access(f.c_str(), R_OK)); }, kOtherUid,
                   kOtherUid));
  std::string bad = acl_blob({{0x01, 6, kNone}, {0x02, 5, kOtherUid}});  // no group/other/mask
  r.sys("set.invalid", ::setxattr(f.c_str(), "system.posix_acl_access", bad.data(), bad.size(), 0));
  // Default ACL on a directory is inherited by new files and directories.
  fs::path d = root / "d";
  r.sys("mkdir", ::mkdir(d.c_str(), 0755));
  std::string dflt = acl_blob({{0x01, 7, kNone},
                               {0x02, 7, kOtherUid},
                               {0x04, 5, kNone},
                               {0x10, 7, kNone},
                               {0x20, 1, kNone}});
  r.sys("set.default",
        ::setxattr(d.c_str(), "system.posix_acl_default", dflt.data(), dflt.size(), 0));
  record_xattr(r, "get.default", d, "system.posix_acl_default");
  UniqueFd nf = open_rec(r, "create.inherit", d / "new", O_WRONLY | O_CREAT, 0666);
  record_xattr(r, "inherited.access", d / "new", "system.posix_acl_access");
  record_stat(r, "inherited.mode", d / "new");
  r.sys("mkdir.inherit", ::mkdir((d / "sub").c_str(), 0777));
  record_xattr(r, "sub.default", d / "sub", "system.posix_acl_default");
  record_stat(r, "sub.mode", d / "sub");
  r.sys("set.default_on_file",
        ::setxattr(f.c_str(), "system.posix_acl_default", dflt.data(), dflt.size(), 0));
  r.sys("remove.access", ::removexattr(f.c_str(), "system.posix_acl_access"));
  record_xattr(r, "after_remove", f, "system.posix_acl_access");
  r.sys("remove.default", ::removexattr(d.c_str(), "system.posix_acl_default"));
  record_xattr(r, "after_remove_default", d, "system.posix_acl_default");
}

std::string sorted_list(const fs::path& p, bool follow = true) {
  char buf[4096];
  ssize_t n =
      follow ? ::listxattr(p.c_str(), buf, sizeof buf) : ::llistxattr(p.c_str(), buf, sizeof buf);
  if (n < 0) return last_errno_name();
  std::vector<std::string> names;
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(buf + i)) + 1)
    names.emplace_back(buf + i);
  std::sort(names.begin(), names.end());
  return fmt::format("{}", fmt::join(names, ","));
}

void xattr_user(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, "x");
  const char* p = f.c_str();
  r.sys("create.a", ::setxattr(p, "user.a", "alpha", 5, XATTR_CREATE));
  r.sys("create.a_again", ::setxattr(p, "user.a", "again", 5, XATTR_CREATE));
  r.sys("replace.missing", ::setxattr(p, "user.b", "beta", 4, XATTR_REPLACE));
  r.sys("replace.a", ::setxattr(p, "user.a", "ALPHA!", 6, XATTR_REPLACE));
  r.sys("set.b", ::setxattr(p, "user.b", "beta", 4, 0));
  r.sys("set.empty", ::setxattr(p, "user.empty", "", 0, 0));
  std::string big = pattern(3000, 5);
  r.sys("set.big", ::setxattr(p, "user.big", big.data(), big.size(), 0));
  r.sys_val("probe.a", ::getxattr(p, "user.a", nullptr, 0));
  r.sys_val("probe.big", ::getxattr(p, "user.big", nullptr, 0));
  r.sys_val("probe.empty", ::getxattr(p, "user.empty", nullptr, 0));
  char buf[4096];
  ssize_t n = ::getxattr(p, "user.a", buf, sizeof buf);
  r.sys_val("get.a", n);
  r.note("get.a.value", n > 0 ? std::string(buf, n) : "");
  n = ::getxattr(p, "user.big", buf, sizeof buf);
  r.note("get.big.value", n > 0 ? summary(std::string_view(buf, n)) : last_errno_name());
  r.sys_val("get.too_small", ::getxattr(p, "user.a", buf, 2));
  r.sys_val("get.missing", ::getxattr(p, "user.missing", buf, sizeof buf));
  r.sys_val("list.probe", ::listxattr(p, nullptr, 0));
  r.sys_val("list.too_small", ::listxattr(p, buf, 3));
  r.note("list", sorted_list(f));
  r.sys("remove.b", ::removexattr(p, "user.b"));
  r.sys("remove.b_again", ::removexattr(p, "user.b"));
  r.note("list.after_remove", sorted_list(f));
  r.sys("set.bad_namespace", ::setxattr(p, "bogus.x", "v", 1, 0));
  r.sys("set.empty_name", ::setxattr(p, "user.", "v", 1, 0));
  r.sys("set.too_big", ::setxattr(p, "user.huge", std::string(70000, 'h').data(), 70000, 0));
  UniqueFd fd = open_rec(r, "open", f, O_RDONLY);
  r.sys("fsetxattr", ::fsetxattr(fd.get(), "user.fd", "viafd", 5, 0));
  r.sys_val("fgetxattr", ::fgetxattr(fd.get(), "user.fd", buf, sizeof buf));
  r.sys("fremovexattr", ::fremovexattr(fd.get(), "user.fd"));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  r.sys("set.dir", ::setxattr((root / "d").c_str(), "user.dir", "d", 1, 0));
  r.note("list.dir", sorted_list(root / "d"));
  r.sys("symlink", ::symlink("f", (root / "l").c_str()));
  r.sys("lset.symlink_user", ::lsetxattr((root / "l").c_str(), "user.l", "l", 1, 0));
  r.note("llist.symlink", sorted_list(root / "l", false));
  r.note("list.through_symlink", sorted_list(root / "l"));
  r.sys("mkfifo", ::mkfifo((root / "p").c_str(), 0644));
  r.sys("set.fifo_user", ::setxattr((root / "p").c_str(), "user.p", "p", 1, 0));
  r.sys("set.trusted", ::setxattr(p, "trusted.t", "t", 1, 0));
  r.sys_val("get.trusted", ::getxattr(p, "trusted.t", buf, sizeof buf));
  r.note("list.final", sorted_list(f));
  // Another user can read user.* xattrs of a readable file but not set them without write access.
  r.merge("other", in_child(
                       [&](Recorder& c) {
                         c.sys_val("get", ::getxattr(p, "user.a", buf, sizeof buf));
                         c.sys("set", ::setxattr(p, "user.c", "c", 1, 0));
                         c.note("list", sorted_list(f));
                         c.sys_val("get.trusted", ::getxattr(p, "trusted.t", buf, sizeof buf));
                         c.sys("set.trusted", ::setxattr(p, "trusted.u", "u", 1, 0));
                       },
                       kOtherUid, kOtherUid));
}

}  // namespace

void add_attr_scenarios(std::vector<Scenario>& out) {
  out.push_back({"chmod_chown", chmod_chown});
  out.push_back({"truncate_paths", truncate_paths});
  out.push_back({"utimens", utimens});
  out.push_back({"time_updates", time_updates});
  out.push_back({"statfs_sanity", statfs_sanity});
  out.push_back({"statx_fields", statx_fields});
  out.push_back({"access_checks", access_checks});
  out.push_back({"posix_acl", posix_acl});
  out.push_back({"xattr_user", xattr_user});
}

}  // namespace fusebpf::posix
