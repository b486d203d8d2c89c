// Scenarios about regular files: lookup/getattr, open flags, read/write patterns, sparse and
// large files, durability calls.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "posix/internal/util.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

void lookup_getattr(const fs::path& root, Recorder& r) {
  put_file(r, "create", root / "file", "hello");
  r.sys("mkdir", ::mkdir((root / "dir").c_str(), 0755));
  r.sys("symlink", ::symlink("file", (root / "link").c_str()));
  record_stat(r, "stat.file", root / "file");
  record_stat(r, "stat.dir", root / "dir");
  record_stat(r, "stat.link", root / "link");
  record_stat(r, "lstat.link", root / "link", false);
  record_stat(r, "stat.missing", root / "missing");
  record_stat(r, "stat.through_file", root / "file" / "x");
  record_stat(r, "stat.dotdot", root / "dir" / "..");
  r.flag("dotdot_is_root", stat_of(root / "dir" / "..").st_ino == stat_of(root).st_ino);
  r.flag("link_same_ino", stat_of(root / "link").st_ino == stat_of(root / "file").st_ino);
  r.flag("dir_dot_same_ino", stat_of(root / "dir" / ".").st_ino == stat_of(root / "dir").st_ino);
  // Repeated lookups give the same inode (node identity is stable).
  r.flag("stable_ino", stat_of(root / "file").st_ino == stat_of(root / "file").st_ino);
  UniqueFd fd = open_rec(r, "open", root / "file", O_RDONLY);
  struct stat a {};
  ::fstat(fd.get(), &a);
  r.flag("fstat_matches_stat", a.st_ino == stat_of(root / "file").st_ino);
  record_stat(r, "stat.name_too_long", root / std::string(256, 'n'));
}

void create_excl(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  UniqueFd a = open_rec(r, "excl.new", f, O_WRONLY | O_CREAT | O_EXCL, 0640);
  record_fstat(r, "excl.new.fstat", a.get());
  open_rec(r, "excl.again", f, O_WRONLY | O_CREAT | O_EXCL, 0640);
  open_rec(r, "creat.existing", f, O_WRONLY | O_CREAT, 0600);
  record_stat(r, "mode_kept", f);
  r.sys("symlink.dangling", ::symlink("nowhere", (root / "dangling").c_str()));
  open_rec(r, "excl.dangling_symlink", root / "dangling", O_WRONLY | O_CREAT | O_EXCL);
  record_stat(r, "dangling_target_not_created", root / "nowhere");
  UniqueFd b = open_rec(r, "creat.through_dangling", root / "dangling", O_WRONLY | O_CREAT);
  record_stat(r, "dangling_target_created", root / "nowhere", false);
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  open_rec(r, "excl.dir", root / "d", O_WRONLY | O_CREAT | O_EXCL);
  open_rec(r, "creat.dir", root / "d", O_RDONLY | O_CREAT);
  open_rec(r, "creat.missing_parent", root / "nodir" / "f", O_WRONLY | O_CREAT);
  open_rec(r, "creat.mode_umask", root / "m", O_WRONLY | O_CREAT | O_EXCL, 0777);
  record_stat(r, "creat.mode_umask.stat", root / "m");
}

void open_trunc(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, pattern(100, 1));
  age(f);
  struct stat before = stat_of(f);
  UniqueFd fd = open_rec(r, "open.trunc", f, O_WRONLY | O_TRUNC);
  struct stat after = stat_of(f);
  r.num("size_after", after.st_size);
  r.flag("mtime_changed", time_changed(before.st_mtim, after.st_mtim));
  r.flag("ctime_changed", time_changed(before.st_ctim, after.st_ctim));
  r.sys_val("write", ::write(fd.get(), "abc", 3));
  fd.reset();
  record_file(r, "content", f);
  // O_TRUNC on an empty file must not change its times.
  UniqueFd e = open_rec(r, "create.empty", root / "e", O_WRONLY | O_CREAT, 0644);
  e.reset();
  age(root / "e");
  before = stat_of(root / "e");
  open_rec(r, "open.trunc_empty", root / "e", O_WRONLY | O_TRUNC);
  r.flag("empty.mtime_changed", time_changed(before.st_mtim, stat_of(root / "e").st_mtim));
  // O_TRUNC through O_RDONLY still truncates on Linux.
  put_file(r, "create.ro", root / "ro", "xyz");
  open_rec(r, "open.rdonly_trunc", root / "ro", O_RDONLY | O_TRUNC);
  r.num("ro.size", stat_of(root / "ro").st_size);
  ::chmod((root / "ro").c_str(), 0444);
  open_rec(r, "open.trunc_readonly_mode_as_root", root / "ro", O_WRONLY | O_TRUNC);
}

void open_append(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  put_file(r, "create", f, "start;");
  UniqueFd a = open_rec(r, "open.a", f, O_WRONLY | O_APPEND);
  UniqueFd b = open_rec(r, "open.b", f, O_RDWR | O_APPEND);
  for (int i = 0; i < 5; ++i) {
    std::string sa = "a" + std::to_string(i) + ";", sb = "bb" + std::to_string(i) + ";";
    r.sys_val("write.a", ::write(a.get(), sa.data(), sa.size()));
    r.sys_val("write.b", ::write(b.get(), sb.data(), sb.size()));
  }
  // pwrite on an O_APPEND fd appends on Linux, ignoring the offset.
  r.sys_val("pwrite.append", ::pwrite(a.get(), "P", 1, 0));
  r.sys_val("lseek.b.cur", ::lseek(b.get(), 0, SEEK_CUR));
  r.sys_val("lseek.b.set0", ::lseek(b.get(), 0, SEEK_SET));
  char buf[8] = {};
  r.sys_val("read.b", ::read(b.get(), buf, 5));
  r.note("read.b.data", std::string(buf, 5));
  r.sys_val("write.b.after_read", ::write(b.get(), "E", 1));
  a.reset();
  b.reset();
  r.note("content", slurp(f));
  // Clearing O_APPEND with fcntl makes writes positional again.
  UniqueFd c = open_rec(r, "open.c", f, O_WRONLY | O_APPEND);
  r.sys("fcntl.clear_append", ::fcntl(c.get(), F_SETFL, 0));
  r.sys_val("pwrite.positional", ::pwrite(c.get(), "S", 1, 0));
  c.reset();
  r.note("content.final", slurp(f));
  // An O_APPEND and a plain open of the same file at the same time: only the first appends.
  put_file(r, "create.g", root / "g", "0123456789");
  UniqueFd app = open_rec(r, "open.g.append", root / "g", O_WRONLY | O_APPEND);
  UniqueFd plain = open_rec(r, "open.g.plain", root / "g", O_RDWR);
  r.sys_val("pwrite.plain_at_1", ::pwrite(plain.get(), "P", 1, 1));
  r.sys_val("write.append", ::write(app.get(), "A", 1));
  UniqueFd plain2 = open_rec(r, "open.g.plain2", root / "g", O_WRONLY);
  r.sys_val("pwrite.plain2_at_3", ::pwrite(plain2.get(), "Q", 1, 3));
  r.note("g.content", slurp(root / "g"));
}

void open_direct(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  UniqueFd fd = open_rec(r, "open.direct", f, O_RDWR | O_CREAT | O_DIRECT, 0644);
  if (!fd) return;  // the lower fs refuses O_DIRECT: the errno is the recording
  constexpr size_t kBlock = 4096;
  void* mem = std::aligned_alloc(kBlock, 4 * kBlock);
  std::unique_ptr<char, decltype(&std::free)> buf(static_cast<char*>(mem), &std::free);
  std::string data = pattern(4 * kBlock, 7);
  std::memcpy(buf.get(), data.data(), data.size());
  r.sys_val("write.aligned", ::pwrite(fd.get(), buf.get(), 4 * kBlock, 0));
  std::memset(buf.get(), 0, 4 * kBlock);
  r.sys_val("read.aligned", ::pread(fd.get(), buf.get(), 2 * kBlock, kBlock));
  r.note("read.aligned.data", summary(std::string_view(buf.get(), 2 * kBlock)));
  r.sys_val("read.at_eof", ::pread(fd.get(), buf.get(), kBlock, 4 * kBlock));
  fd.reset();
  record_file(r, "content.buffered", f);
  r.sys("fcntl.set_direct",
        ::fcntl(UniqueFd(::open(f.c_str(), O_RDONLY)).get(), F_SETFL, O_DIRECT));
}

void rw_patterns(const fs::path& root, Recorder& r) {
  fs::path f = root / "f";
  UniqueFd fd = open_rec(r, "create", f, O_RDWR | O_CREAT | O_EXCL, 0644);
  std::string image(70000, '\0');
  auto put = [&](std::string_view key, std::string_view data, off_t off) {
    r.sys_val(key, ::pwrite(fd.get(), data.data(), data.size(), off));
    if (image.size() < off + data.size()) image.resize(off + data.size(), '\0');
    image.replace(off, data.size(), data);
  };
  image.clear();
  put("pwrite.0", pattern(1000, 1), 0);
  put("pwrite.overlap", pattern(300, 2), 900);
  put("pwrite.unaligned", pattern(4097, 3), 5001);
  put("pwrite.inside", pattern(10, 4), 2);
  put("pwrite.page_cross", pattern(8192, 5), 4090);
  std::string a = pattern(123, 6), b = pattern(4000, 7), c = pattern(1, 8);
  struct iovec iov[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
  r.sys_val("lseek.end", ::lseek(fd.get(), 0, SEEK_END));
  r.sys_val("writev", ::writev(fd.get(), iov, 3));
  image += a + b + c;
  r.sys_val("size", stat_of(f).st_size);
  r.flag("content_matches", slurp(f) == image);
  std::string x(200, '\0'), y(5000, '\0');
  struct iovec riov[2] = {{x.data(), x.size()}, {y.data(), y.size()}};
  r.sys_val("readv", ::preadv(fd.get(), riov, 2, 950));
  r.flag("readv_matches", x + y == image.substr(950, 5200));
  char buf[64];
  r.sys_val("pread.at_eof", ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(image.size())));
  r.sys_val("pread.past_eof", ::pread(fd.get(), buf, sizeof buf, 1 << 20));
  r.sys_val("pread.tail",
            ::pread(fd.get(), buf, sizeof buf, static_cast<off_t>(image.size()) - 10));
  r.sys_val("pread.negative", ::pread(fd.get(), buf, sizeof buf, -1));
  // Many small sequential writes then reads (1-byte and 3-byte granularity).
  UniqueFd s = open_rec(r, "create.small", root / "small", O_RDWR | O_CREAT | O_TRUNC, 0644);
  std::string small = pattern(3000, 9);
  bool ok = true;
  for (size_t i = 0; i < small.size(); i += 3) ok &= ::write(s.get(), small.data() + i, 3) == 3;
  r.flag("small_writes_ok", ok);
  ::lseek(s.get(), 0, SEEK_SET);
  std::string back;
  char one;
  while (::read(s.get(), &one, 1) == 1) back += one;
  r.flag("small_reads_match", back == small);
  UniqueFd ro = open_rec(r, "open.rdonly", f, O_RDONLY);
  r.sys_val("write.on_rdonly", ::write(ro.get(), "x", 1));
  UniqueFd wo = open_rec(r, "open.wronly", f, O_WRONLY);
  r.sys_val("read.on_wronly", ::read(wo.get(), buf, 1));
}

void sparse_file(const fs::path& root, Recorder& r) {
  fs::path f = root / "sparse";
  UniqueFd fd = open_rec(r, "create", f, O_RDWR | O_CREAT | O_EXCL, 0644);
  constexpr off_t kFar = 64 << 20;
  r.sys_val("pwrite.far", ::pwrite(fd.get(), "end", 3, kFar));
  r.sys_val("pwrite.start", ::pwrite(fd.get(), "begin", 5, 0));
  struct stat st = stat_of(f);
  r.num("size", st.st_size);
  r.flag("mostly_unallocated", st.st_blocks * 512 < (1 << 20));
  std::string hole(8192, 'x');
  r.sys_val("pread.hole", ::pread(fd.get(), hole.data(), hole.size(), 12345678));
  r.flag("hole_reads_zero", hole == std::string(8192, '\0'));
  char tail[8] = {};
  r.sys_val("pread.tail", ::pread(fd.get(), tail, sizeof tail, kFar - 2));
  r.note("tail", std::string(tail, 5));
  r.sys("ftruncate.grow", ::ftruncate(fd.get(), kFar * 2));
  r.sys_val("pread.grown", ::pread(fd.get(), hole.data(), 100, kFar + 1000));
  r.flag("grown_reads_zero", hole.substr(0, 100) == std::string(100, '\0'));
  r.flag("still_sparse", stat_of(f).st_blocks * 512 < (1 << 20));
}

void large_file(const fs::path& root, Recorder& r) {
  fs::path f = root / "large";
  constexpr size_t kSize = 6 << 20;
  std::string data = pattern(kSize, 42);
  UniqueFd fd = open_rec(r, "create", f, O_RDWR | O_CREAT | O_EXCL, 0644);
  bool ok = true;
  for (size_t off = 0; off < kSize; off += 1 << 20) {
    ok &= ::write(fd.get(), data.data() + off, 1 << 20) == (1 << 20);
  }
  r.flag("write_1MiB_chunks", ok);
  r.sys("fsync", ::fsync(fd.get()));
  fd.reset();
  UniqueFd rd = open_rec(r, "open.read", f, O_RDONLY);
  std::string back;
  std::string buf(100003, '\0');  // odd-sized reads cross page and chunk boundaries
  for (;;) {
    ssize_t n = ::read(rd.get(), buf.data(), buf.size());
    if (n <= 0) {
      r.sys_val("read.last", n);
      break;
    }
    back.append(buf.data(), static_cast<size_t>(n));
  }
  r.note("read.back", summary(back));
  r.flag("matches", back == data);
  r.num("size", stat_of(f).st_size);
  std::string mid(3 << 20, '\0');
  r.sys_val("pread.3MiB", ::pread(rd.get(), mid.data(), mid.size(), (1 << 20) + 17));
  r.flag("pread.matches", mid == data.substr((1 << 20) + 17, 3 << 20));
}

void open_errors(const fs::path& root, Recorder& r) {
  r.sys("mkdir", ::mkdir((root / "d").c_str(), 0755));
  put_file(r, "create", root / "f", "x");
  r.sys("symlink", ::symlink("f", (root / "l").c_str()));
  open_rec(r, "dir.wronly", root / "d", O_WRONLY);
  open_rec(r, "dir.rdwr", root / "d", O_RDWR);
  open_rec(r, "dir.rdonly", root / "d", O_RDONLY);
  open_rec(r, "missing", root / "missing", O_RDONLY);
  open_rec(r, "file.o_directory", root / "f", O_RDONLY | O_DIRECTORY);
  open_rec(r, "symlink.o_nofollow", root / "l", O_RDONLY | O_NOFOLLOW);
  open_rec(r, "symlink.o_path_nofollow", root / "l", O_PATH | O_NOFOLLOW);
  open_rec(r, "through_file", root / "f" / "g", O_RDONLY);
  open_rec(r, "name_too_long", root / std::string(256, 'x'), O_WRONLY | O_CREAT);
  open_rec(r, "name_255", root / std::string(255, 'y'), O_WRONLY | O_CREAT);
  open_rec(r, "creat.trailing_slash", root / "newfile/", O_WRONLY | O_CREAT);
  open_rec(r, "dir.trailing_slash", root / "d/", O_RDONLY);
  open_rec(r, "file.trailing_slash", root / "f/", O_RDONLY);
  r.note("listing", summary(listing(root)));
  record_stat(r, "name_255.stat", root / std::string(255, 'y'));
}

void durability(const fs::path& root, Recorder& r) {
  UniqueFd fd = open_rec(r, "create", root / "f", O_RDWR | O_CREAT, 0644);
  r.sys_val("write", ::write(fd.get(), "data", 4));
  r.sys("fsync", ::fsync(fd.get()));
  r.sys("fdatasync", ::fdatasync(fd.get()));
  r.sys("syncfs", ::syncfs(fd.get()));
  r.sys("sync_file_range", ::sync_file_range(fd.get(), 0, 4, SYNC_FILE_RANGE_WRITE));
  UniqueFd dir = open_rec(r, "open.dir", root, O_RDONLY | O_DIRECTORY);
  r.sys("fsync.dir", ::fsync(dir.get()));
  r.sys("fdatasync.dir", ::fdatasync(dir.get()));
  UniqueFd ro = open_rec(r, "open.rdonly", root / "f", O_RDONLY);
  r.sys("fsync.rdonly", ::fsync(ro.get()));
  fd.reset();
  record_file(r, "content", root / "f");
  returned_errno(r, "posix_fadvise", ::posix_fadvise(ro.get(), 0, 0, POSIX_FADV_DONTNEED));
  r.sys("readahead", ::readahead(ro.get(), 0, 4096));
}

}  // namespace

void add_file_scenarios(std::vector<Scenario>& out) {
  out.push_back({"lookup_getattr", lookup_getattr});
  out.push_back({"create_excl", create_excl});
  out.push_back({"open_trunc", open_trunc});
  out.push_back({"open_append", open_append});
  out.push_back({"open_direct", open_direct});
  out.push_back({"open_errors", open_errors});
  out.push_back({"rw_patterns", rw_patterns});
  out.push_back({"sparse_file", sparse_file});
  out.push_back({"large_file", large_file});
  out.push_back({"durability", durability});
}

}  // namespace fusebpf::posix
