// Syscall wrappers; see sys.h.
#include "base/sys.h"

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace fusebpf::sys {
namespace {

template <typename F>
auto retry_eintr(F f) {
  decltype(f()) r;
  do {
    r = f();
  } while (r < 0 && errno == EINTR);
  return r;
}

Result<size_t> as_size(ssize_t n) {
  if (n < 0) return fail_errno();
  return static_cast<size_t>(n);
}

}  // namespace

Result<UniqueFd> open_at(int dir, const char* path, int flags, mode_t mode) {
  int fd = retry_eintr([&] { return ::openat(dir, path, flags | O_CLOEXEC, mode); });
  if (fd < 0) return fail_errno();
  return UniqueFd(fd);
}

Result<UniqueFd> open_at2(int dir, const char* path, uint64_t flags, uint64_t resolve,
                          mode_t mode) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  long fd = retry_eintr([&] { return ::syscall(SYS_openat2, dir, path, &how, sizeof how); });
  if (fd < 0) return fail_errno();
  return UniqueFd(static_cast<int>(fd));
}

Result<size_t> read_some(int fd, std::span<std::byte> buf) {
  return as_size(retry_eintr([&] { return ::read(fd, buf.data(), buf.size()); }));
}

Result<size_t> pread_some(int fd, std::span<std::byte> buf, off_t offset) {
  return as_size(retry_eintr([&] { return ::pread(fd, buf.data(), buf.size(), offset); }));
}

Result<size_t> write_some(int fd, std::span<const std::byte> buf) {
  return as_size(retry_eintr([&] { return ::write(fd, buf.data(), buf.size()); }));
}

Result<size_t> pwrite_some(int fd, std::span<const std::byte> buf, off_t offset) {
  return as_size(retry_eintr([&] { return ::pwrite(fd, buf.data(), buf.size(), offset); }));
}

Result<size_t> writev_some(int fd, const struct iovec* iov, int count) {
  return as_size(retry_eintr([&] { return ::writev(fd, iov, count); }));
}

Result<size_t> read_full(int fd, std::span<std::byte> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    FUSEBPF_TRY(n, read_some(fd, buf.subspan(done)));
    if (n == 0) break;
    done += n;
  }
  return done;
}

Result<void> write_all(int fd, std::span<const std::byte> buf) {
  while (!buf.empty()) {
    FUSEBPF_TRY(n, write_some(fd, buf));
    if (n == 0) return fail(Errno::kIo);
    buf = buf.subspan(n);
  }
  return {};
}

Result<std::string> read_file(int dir, const char* path) {
  FUSEBPF_TRY(fd, open_at(dir, path, O_RDONLY));
  std::string out;
  std::byte chunk[4096];
  for (;;) {
    FUSEBPF_TRY(n, read_some(fd.get(), chunk));
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(chunk), n);
  }
  return out;
}

Result<void> write_file(int dir, const char* path, std::string_view contents, mode_t mode) {
  FUSEBPF_TRY(fd, open_at(dir, path, O_WRONLY | O_CREAT | O_TRUNC, mode));
  return write_all(fd.get(), bytes(contents));
}

Result<struct stat> stat_at(int dir, const char* path, int flags) {
  struct stat st {};
  if (::fstatat(dir, path, &st, flags) < 0) return fail_errno();
  return st;
}

Result<struct stat> fstat_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) < 0) return fail_errno();
  return st;
}

}  // namespace fusebpf::sys
