// Thin syscall wrappers: EINTR retry, errno capture and short-read handling live here and
// nowhere else. Every fd-producing call adds O_CLOEXEC and returns Result<UniqueFd>.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::sys {

// openat(dir, path, flags | O_CLOEXEC, mode).
Result<UniqueFd> open_at(int dir, const char* path, int flags, mode_t mode = 0);
// openat2 with the given RESOLVE_* flags (flags gets O_CLOEXEC).
Result<UniqueFd> open_at2(int dir, const char* path, uint64_t flags, uint64_t resolve,
                          mode_t mode = 0);

// One read(2)/write(2) call, retried on EINTR; returns the byte count.
Result<size_t> read_some(int fd, std::span<std::byte> buf);
Result<size_t> pread_some(int fd, std::span<std::byte> buf, off_t offset);
Result<size_t> write_some(int fd, std::span<const std::byte> buf);
Result<size_t> pwrite_some(int fd, std::span<const std::byte> buf, off_t offset);
Result<size_t> writev_some(int fd, const struct iovec* iov, int count);
// Reads until buf is full or EOF; returns the byte count.
Result<size_t> read_full(int fd, std::span<std::byte> buf);
// Writes all of buf (loops over short writes).
Result<void> write_all(int fd, std::span<const std::byte> buf);

// Whole-file helpers for small files (control files, /proc, tests).
Result<std::string> read_file(int dir, const char* path);
Result<void> write_file(int dir, const char* path, std::string_view contents, mode_t mode = 0644);

Result<struct stat> stat_at(int dir, const char* path, int flags);
Result<struct stat> fstat_fd(int fd);

inline std::span<const std::byte> bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace fusebpf::sys
