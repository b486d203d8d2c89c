// Scenarios about data paths beyond read/write: fallocate modes, SEEK_DATA/SEEK_HOLE,
// copy_file_range, mmap, O_TMPFILE, unlinked-but-open files.
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "posix/internal/util.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

constexpr off_t kPage = 4096;

void fallocate_modes(const fs::path& root, Recorder& r) {
  struct Mode {
    const char* name;
    int flags;
    off_t off, len;
  };
  const Mode modes[] = {
      {"default_extend", 0, 0, 8 * kPage},
      {"keep_size", FALLOC_FL_KEEP_SIZE, 4 * kPage, 16 * kPage},
      {"punch_hole", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kPage, 2 * kPage},
      {"punch_without_keep", FALLOC_FL_PUNCH_HOLE, kPage, kPage},
      {"zero_range", FALLOC_FL_ZERO_RANGE, 3 * kPage + 100, kPage},
      {"zero_range_keep", FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, 6 * kPage, 8 * kPage},
      {"collapse_range", FALLOC_FL_COLLAPSE_RANGE, kPage, kPage},
      {"insert_range", FALLOC_FL_INSERT_RANGE, kPage, kPage},
      {"unaligned_collapse", FALLOC_FL_COLLAPSE_RANGE, 100, kPage},
      {"bad_len", 0, 0, 0},
  };
  for (const Mode& m : modes) {
    fs::path f = root / m.name;
    std::string data = pattern(5 * kPage, 11);
    put_file(r, fmt::format("{}.create", m.name), f, data);
    UniqueFd fd = open_rec(r, fmt::format("{}.open", m.name), f, O_RDWR);
    // EOPNOTSUPP here is the lower file system's answer, and the mount must give the same one.
    r.sys(fmt::format("{}.fallocate", m.name), ::fallocate(fd.get(), m.flags, m.off, m.len));
    struct stat st = stat_of(f);
    r.num(fmt::format("{}.size", m.name), st.st_size);
    r.flag(fmt::format("{}.allocated_covers_size", m.name), st.st_blocks * 512 >= st.st_size);
    record_fd(r, fmt::format("{}.content", m.name), fd.get());
  }
  UniqueFd ro = open_rec(r, "rdonly.open", root / "default_extend", O_RDONLY);
  r.sys("rdonly.fallocate", ::fallocate(ro.get(), 0, 0, kPage));
  UniqueFd pf = open_rec(r, "posix_fallocate.open", root / "keep_size", O_RDWR);
  returned_errno(r, "posix_fallocate", ::posix_fallocate(pf.get(), 0, 100 * kPage));
  r.num("posix_fallocate.size", stat_of(root / "keep_size").st_size);
}

void seek_data_hole(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  UniqueFd fd = open_rec(r, "create", f, O_RDWR | O_CREAT | O_EXCL, 0644);
  constexpr off_t kMiB = 1 << 20;
  pwrite_all(r, "write.head", fd.get(), pattern(kPage, 1), 0);
  pwrite_all(r, "write.mid", fd.get(), pattern(kPage, 2), kMiB);
  pwrite_all(r, "write.tail", fd.get(), pattern(100, 3), 3 * kMiB);
  ::fsync(fd.get());
  struct Probe {
    const char* name;
    off_t off;
    int whence;
  };
  const Probe probes[] = {
      {"data.0", 0, SEEK_DATA},
      {"hole.0", 0, SEEK_HOLE},
      {"data.8k", 2 * kPage, SEEK_DATA},
      {"hole.mid", kMiB, SEEK_HOLE},
      {"data.after_mid", kMiB + kPage, SEEK_DATA},
      {"hole.tail", 3 * kMiB, SEEK_HOLE},
      {"data.eof", 3 * kMiB + 100, SEEK_DATA},
      {"hole.eof", 3 * kMiB + 100, SEEK_HOLE},
      {"data.beyond", 10 * kMiB, SEEK_DATA},
      {"hole.beyond", 10 * kMiB, SEEK_HOLE},
      {"data.negative", -1, SEEK_DATA},
      {"end", 0, SEEK_END},
      {"end.minus", -10, SEEK_END},
      {"set.beyond", 100 * kMiB, SEEK_SET},
      {"bad_whence", 0, 42},
  };
  for (const Probe& p : probes) r.sys_val(p.name, ::lseek(fd.get(), p.off, p.whence));
  UniqueFd e = open_rec(r, "create.empty", root / "empty", O_RDWR | O_CREAT, 0644);
  r.sys_val("empty.data", ::lseek(e.get(), 0, SEEK_DATA));
  r.sys_val("empty.hole", ::lseek(e.get(), 0, SEEK_HOLE));
  // A fresh open sees the same map (no dependence on cached state).
  UniqueFd again = open_rec(r, "reopen", f, O_RDONLY);
  r.sys_val("reopen.data.8k", ::lseek(again.get(), 2 * kPage, SEEK_DATA));
}

void copy_range(const fs::path& root, Recorder& r) {
  fs::path a = root / "a", b = root / "b";
  std::string data = pattern(1 << 20, 9);
  put_file(r, "create.a", a, data);
  UniqueFd in = open_rec(r, "open.a", a, O_RDONLY);
  UniqueFd out = open_rec(r, "create.b", b, O_WRONLY | O_CREAT | O_EXCL, 0644);
  size_t copied = 0;
  while (copied < data.size()) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, data.size() - copied, 0);
    if (n <= 0) {
      r.sys_val("copy.whole.step", n);
      break;
    }
    copied += static_cast<size_t>(n);
  }
  r.num("copy.whole", static_cast<int64_t>(copied));
  r.flag("copy.whole.matches", slurp(b) == data);
  r.sys_val("offset.in_after", ::lseek(in.get(), 0, SEEK_CUR));
  loff_t off_in = 1000, off_out = 5000;
  r.sys_val("copy.offsets", ::copy_file_range(in.get(), &off_in, out.get(), &off_out, 3000, 0));
  r.num("copy.offsets.off_in", off_in);
  r.num("copy.offsets.off_out", off_out);
  record_file(r, "b.after_offsets", b);
  loff_t past = 2 << 20;
  r.sys_val("copy.past_eof", ::copy_file_range(in.get(), &past, out.get(), nullptr, 100, 0));
  UniqueFd same = open_rec(r, "open.a_rw", a, O_RDWR);
  loff_t s_in = 0, s_out = 100;
  r.sys_val("copy.same_file_overlap",
            ::copy_file_range(same.get(), &s_in, same.get(), &s_out, 1000, 0));
  s_in = 0;
  s_out = 500000;
  r.sys_val("copy.same_file_disjoint",
            ::copy_file_range(same.get(), &s_in, same.get(), &s_out, 1000, 0));
  record_file(r, "a.after_self_copy", a);
  r.sys_val("copy.bad_flags", ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 10, 1));
  r.sys_val("copy.to_rdonly", ::copy_file_range(in.get(), nullptr, in.get(), nullptr, 10, 0));
  UniqueFd ap = open_rec(r, "open.append", b, O_WRONLY | O_APPEND);
  r.sys_val("copy.to_append", ::copy_file_range(in.get(), nullptr, ap.get(), nullptr, 10, 0));
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  UniqueFd dir = open_rec(r, "open.dir", root / "d", O_RDONLY | O_DIRECTORY);
  r.sys_val("copy.from_dir", ::copy_file_range(dir.get(), nullptr, out.get(), nullptr, 10, 0));
}

void mmap_shared(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  constexpr size_t kSize = 16 * kPage;
  put_file(r, "create", f, pattern(kSize, 4));
  UniqueFd fd = open_rec(r, "open", f, O_RDWR);
  void* m = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  r.flag("mmap.shared", m != MAP_FAILED);
  if (m == MAP_FAILED) return;
  char* p = static_cast<char*>(m);
  std::string patch = pattern(3 * kPage, 5);
  std::memcpy(p + kPage + 7, patch.data(), patch.size());
  r.sys("msync", ::msync(m, kSize, MS_SYNC));
  std::string expect = pattern(kSize, 4);
  expect.replace(kPage + 7, patch.size(), patch);
  r.flag("read_sees_mmap_write", slurp(f) == expect);
  // A write(2) is visible through the existing shared mapping.
  pwrite_all(r, "pwrite", fd.get(), "HELLO", 10 * kPage);
  r.note("mapping_sees_write", std::string(p + 10 * kPage, 5));
  ::munmap(m, kSize);
  // A private mapping's writes stay private.
  void* priv = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  r.flag("mmap.private", priv != MAP_FAILED);
  if (priv != MAP_FAILED) {
    std::memcpy(priv, "PRIVATE", 7);
    ::munmap(priv, kSize);
  }
  r.flag("private_write_invisible", slurp(f).substr(0, 7) != "PRIVATE");
  // Extending via ftruncate then writing through a new mapping.
  r.sys("ftruncate", ::ftruncate(fd.get(), kSize * 2));
  void* big = ::mmap(nullptr, kSize * 2, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (big != MAP_FAILED) {
    std::memset(static_cast<char*>(big) + kSize + 1, 'Z', 100);
    r.sys("msync.async", ::msync(big, kSize * 2, MS_ASYNC));
    ::munmap(big, kSize * 2);
  }
  fd.reset();
  record_file(r, "final", f);
  UniqueFd ro = open_rec(r, "open.rdonly", f, O_RDONLY);
  void* bad = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, ro.get(), 0);
  r.sys("mmap.shared_write_on_rdonly", bad == MAP_FAILED ? -1 : 0);
  if (bad != MAP_FAILED) ::munmap(bad, kSize);
}

void tmpfile_linkat(const fs::path& root, Recorder& r) {
  UniqueFd fd = open_rec(r, "open.tmpfile", root, O_TMPFILE | O_RDWR, 0600);
  if (!fd) return;  // the lower fs has no O_TMPFILE: its errno is the recording
  r.sys_val("write", ::write(fd.get(), "tmpdata", 7));
  record_fstat(r, "fstat.unlinked", fd.get());
  r.note("listing.before", listing(root));
  std::string proc = fmt::format("/proc/self/fd/{}", fd.get());
  r.sys("linkat",
        ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, (root / "named").c_str(), AT_SYMLINK_FOLLOW));
  record_fstat(r, "fstat.linked", fd.get());
  record_file(r, "named.content", root / "named");
  r.sys("linkat.empty_path",
        ::linkat(fd.get(), "", AT_FDCWD, (root / "named2").c_str(), AT_EMPTY_PATH));
  record_stat(r, "named2", root / "named2");
  UniqueFd excl = open_rec(r, "open.tmpfile_excl", root, O_TMPFILE | O_RDWR | O_EXCL, 0600);
  std::string proc2 = fmt::format("/proc/self/fd/{}", excl.get());
  r.sys("linkat.excl",
        ::linkat(AT_FDCWD, proc2.c_str(), AT_FDCWD, (root / "never").c_str(), AT_SYMLINK_FOLLOW));
  open_rec(r, "open.tmpfile_rdonly", root, O_TMPFILE | O_RDONLY, 0600);
  open_rec(r, "open.tmpfile_on_file", root / "named", O_TMPFILE | O_RDWR, 0600);
  r.note("listing.after", listing(root));
}

void unlink_open_file(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, pattern(20000, 6));
  UniqueFd fd = open_rec(r, "open", f, O_RDWR);
  r.sys("unlink", ::unlink(f.c_str()));
  record_stat(r, "stat.path", f);
  record_fstat(r, "fstat", fd.get());
  record_fd(r, "read_after_unlink", fd.get());
  pwrite_all(r, "write_after_unlink", fd.get(), "still-here", 100);
  r.sys("ftruncate_after_unlink", ::ftruncate(fd.get(), 50));
  record_fd(r, "read_after_write", fd.get());
  r.sys("fchmod_after_unlink", ::fchmod(fd.get(), 0600));
  record_fstat(r, "fstat.final", fd.get());
  r.note("listing", listing(root));
  // Recreate the same name: a different file; the old fd still sees the old data.
  put_file(r, "recreate", f, "new");
  record_fd(r, "old_fd_content", fd.get());
  record_file(r, "new_content", f);
  // Rename over an open file: the open fd keeps the replaced contents.
  put_file(r, "create.g", root / "g", "GGG");
  UniqueFd g = open_rec(r, "open.g", root / "g", O_RDONLY);
  r.sys("rename_over_open", ::rename(f.c_str(), (root / "g").c_str()));
  record_fd(r, "g_fd_after_rename", g.get());
  record_file(r, "g_path_after_rename", root / "g");
  // An unlinked directory that is still open lists nothing.
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  UniqueFd d = open_rec(r, "open.dir", root / "d", O_RDONLY | O_DIRECTORY);
  r.sys("rmdir", ::rmdir((root / "d").c_str()));
  char buf[1024];
  r.sys_val("getdents.removed_dir", ::getdents64(d.get(), buf, sizeof buf));
  record_fstat(r, "fstat.removed_dir", d.get());
}

}  // namespace

void add_io_scenarios(std::vector<Scenario>& out) {
  out.push_back({"fallocate_modes", fallocate_modes});
  out.push_back({"seek_data_hole", seek_data_hole});
  out.push_back({"copy_file_range", copy_range});
  out.push_back({"mmap_shared", mmap_shared});
  out.push_back({"tmpfile_linkat", tmpfile_linkat});
  out.push_back({"unlink_open_file", unlink_open_file});
}

}  // namespace fusebpf::posix
