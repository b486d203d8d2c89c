// Scenario helpers; see util.h.
#include "posix/internal/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "base/errno.h"
#include "base/sys.h"

namespace fusebpf::posix {

std::string pattern(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (size_t i = 0; i < size; i += 8) {
    x += 0x9e3779b97f4a7c15ULL;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (size_t j = 0; j < 8 && i + j < size; ++j) out[i + j] = static_cast<char>(z >> (8 * j));
  }
  return out;
}

std::string hash_hex(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", h);
}

std::string summary(std::string_view data) {
  return fmt::format("size={} hash={}", data.size(), hash_hex(data));
}

void returned_errno(Recorder& r, std::string_view key, int err) {
  r.note(key, err == 0 ? std::string_view("ok") : errno_name(errno_from(err)));
}

std::string last_errno_name() { return std::string(errno_name(last_errno())); }

UniqueFd open_rec(Recorder& r, std::string_view key, const fs::path& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  r.sys(key, fd);
  return UniqueFd(fd);
}

bool pwrite_all(Recorder& r, std::string_view key, int fd, std::string_view data, off_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r.sys(key, n < 0 ? -1 : (errno = EIO, -1));
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

bool put_file(Recorder& r, std::string_view key, const fs::path& path, std::string_view data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    r.sys(key, -1);
    return false;
  }
  UniqueFd owned(fd);
  bool ok = data.empty() || pwrite_all(r, key, fd, data, 0);
  if (ok) r.note(key, "ok");
  return ok;
}

bool touch(const fs::path& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

bool write_quietly(const fs::path& path, std::string_view data) {
  return sys::write_file(AT_FDCWD, path.c_str(), data).has_value();
}

std::string slurp(const fs::path& path) {
  auto text = sys::read_file(AT_FDCWD, path.c_str());
  return text ? *text : std::string();
}

void record_file(Recorder& r, std::string_view key, const fs::path& path) {
  auto text = sys::read_file(AT_FDCWD, path.c_str());
  if (!text) {
    r.note(key, errno_name(text.error()));
    return;
  }
  r.note(key, summary(*text));
}

void record_fd(Recorder& r, std::string_view key, int fd) {
  std::string out;
  std::string buf(1 << 16, '\0');
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.sys(key, -1);
      return;
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  r.note(key, summary(out));
}

struct stat stat_of(const fs::path& path, bool follow) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) st = {};
  return st;
}

bool record_stat(Recorder& r, std::string_view key, const fs::path& path, bool follow) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) {
    r.sys(key, -1);
    return false;
  }
  r.stat_fields(key, st);
  return true;
}

bool record_fstat(Recorder& r, std::string_view key, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    r.sys(key, -1);
    return false;
  }
  r.stat_fields(key, st);
  return true;
}

std::vector<std::string> list_dir(const fs::path& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return {"<" + last_errno_name() + ">"};
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string listing(const fs::path& dir) {
  return fmt::format("{}", fmt::join(list_dir(dir), ","));
}

bool time_changed(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec != b.tv_sec || a.tv_nsec != b.tv_nsec;
}

void age(const fs::path& path, bool follow) {
  struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
  ::utimensat(AT_FDCWD, path.c_str(), times, follow ? 0 : AT_SYMLINK_NOFOLLOW);
  // utimensat set ctime to "now"; timestamps come from a coarse clock (a few ms), so wait for it
  // to tick before the operation whose ctime update the caller wants to see.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace fusebpf::posix
