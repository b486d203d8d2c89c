// Recorder: the observable results of one POSIX scenario, as an ordered list of `key = value`
// entries. Two runs of a scenario (native dir vs. FUSE mount, or two native dirs) are compared
// entry by entry, so a scenario must record only what both sides must agree on: return values,
// errno names, contents (as hashes), stable stat fields; times only as relations ("changed"),
// inode numbers only as equalities. Keys are unique: a repeated key gets a "#2", "#3" suffix.
// Not thread-safe; one Recorder per process.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fusebpf::posix {

class Recorder {
 public:
  struct Entry {
    std::string key;
    std::string value;
    bool operator==(const Entry&) const = default;
  };

  void note(std::string_view key, std::string_view value);
  void num(std::string_view key, int64_t value);
  void flag(std::string_view key, bool value) { note(key, value ? "yes" : "no"); }

  // For a syscall's return value (read errno right after the call): "ok" when rc >= 0, else
  // the errno name ("ENOENT"). Returns rc so calls can be chained.
  long sys(std::string_view key, long rc);
  // Like sys() but records the value itself ("5") when rc >= 0.
  long sys_val(std::string_view key, long rc);

  // Records the comparable fields of a stat: type, mode (permission and set-id bits), nlink,
  // uid, gid, size (not for directories: their size is a lower-fs detail), rdev for devices.
  void stat_fields(std::string_view key, const struct stat& st);

  // Appends other's entries with "prefix." prepended to each key.
  void merge(std::string_view prefix, const Recorder& other);

  // From now on, also write each new entry (in serialize() form) to `fd` as it is recorded, so
  // a parent process sees how far a child got even when the child hangs. -1 turns it off.
  void stream_to(int fd) { stream_fd_ = fd; }

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }

  // A line-based text form that round-trips through parse() (values are escaped).
  std::string serialize() const;
  static Recorder parse(std::string_view text);
  // Human-readable "key = value" lines.
  std::string render() const;

 private:
  std::string unique_key(std::string_view key);

  std::vector<Entry> entries_;
  std::unordered_map<std::string, int> key_counts_;
  int stream_fd_ = -1;
};

// A readable report of the differences between `expected` and `actual`, keyed by entry key;
// empty when they are identical.
std::string diff_recordings(const Recorder& expected, const Recorder& actual,
                            std::string_view expected_name, std::string_view actual_name);

// "file", "dir", "symlink", "fifo", "socket", "chardev", "blockdev" or "unknown".
std::string_view file_type_name(mode_t mode);

}  // namespace fusebpf::posix
