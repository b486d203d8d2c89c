// Helpers for writing scenarios: each performs a syscall and records its outcome under a key.
// Paths are std::filesystem::path; contents are summarised as "size=N hash=H" (FNV-1a) so
// recordings stay small. Everything here is used only inside a scenario's process.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"
#include "posix/recorder.h"

namespace fusebpf::posix {

namespace fs = std::filesystem;

// Deterministic pseudo-random bytes (splitmix64 of seed and position).
std::string pattern(size_t size, uint64_t seed);
// FNV-1a 64 as 16 hex digits.
std::string hash_hex(std::string_view data);
// "size=N hash=H" of a byte string.
std::string summary(std::string_view data);

// open(2); records "ok" or the errno under key; returns the fd (invalid on failure).
UniqueFd open_rec(Recorder& r, std::string_view key, const fs::path& path, int flags,
                  mode_t mode = 0644);
// Creates/truncates `path` with `data` (mode 0644); records one entry ("ok" or the first errno).
bool put_file(Recorder& r, std::string_view key, const fs::path& path, std::string_view data);
// Creates an empty file (O_EXCL); true on success. For bulk creation without recording each.
bool touch(const fs::path& path);
// Creates/truncates `path` with `data`; true on success. Records nothing.
bool write_quietly(const fs::path& path, std::string_view data);
// Writes all of `data` at `offset`; returns true on success, records only failures under key.
bool pwrite_all(Recorder& r, std::string_view key, int fd, std::string_view data, off_t offset);
// Reads the whole file (or errno); records summary() under key.
void record_file(Recorder& r, std::string_view key, const fs::path& path);
// Reads the whole file from offset 0 of an open fd with pread; records summary() under key.
void record_fd(Recorder& r, std::string_view key, int fd);
// Whole contents, or "" when it cannot be read (for comparisons inside a scenario).
std::string slurp(const fs::path& path);
// stat (follow=true) or lstat of path; records stat_fields() or the errno under key.
bool record_stat(Recorder& r, std::string_view key, const fs::path& path, bool follow = true);
// fstat; records stat_fields() or the errno.
bool record_fstat(Recorder& r, std::string_view key, int fd);
// stat/lstat without recording; st_ino 0 on failure.
struct stat stat_of(const fs::path& path, bool follow = true);
// Sorted entry names of a directory (without . and ..), or {"<errno>"} on failure.
std::vector<std::string> list_dir(const fs::path& dir);
// list_dir joined with ',' (for small directories).
std::string listing(const fs::path& dir);
// True when the two timestamps differ.
bool time_changed(const struct timespec& a, const struct timespec& b);
// Sets atime and mtime of path to fixed values in the past (so later updates are visible), then
// sleeps 20 ms so that a later ctime update differs from the one utimensat just made (the
// kernel's timestamps have coarse granularity). Records nothing.
void age(const fs::path& path, bool follow = true);
// For calls that return an errno instead of setting it (posix_fallocate, posix_fadvise):
// records "ok" for 0, else the errno name.
void returned_errno(Recorder& r, std::string_view key, int err);
// The errno name of the last call ("ENOENT").
std::string last_errno_name();

}  // namespace fusebpf::posix
