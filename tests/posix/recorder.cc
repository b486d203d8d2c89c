// Recorder implementation; see recorder.h.
#include "posix/recorder.h"

#include <fmt/format.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <map>

#include "base/errno.h"
#include "base/sys.h"

namespace fusebpf::posix {

namespace {

std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    char c = s[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
  }
  return out;
}

}  // namespace

std::string Recorder::unique_key(std::string_view key) {
  int n = ++key_counts_[std::string(key)];
  if (n == 1) return std::string(key);
  return fmt::format("{}#{}", key, n);
}

// Non-printable bytes become \xNN so recordings stay readable text.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

void Recorder::note(std::string_view key, std::string_view value) {
  entries_.push_back({unique_key(key), printable(value)});
  if (stream_fd_ >= 0) {
    const Entry& e = entries_.back();
    std::string line = escape(e.key) + '\t' + escape(e.value) + '\n';
    (void)sys::write_all(stream_fd_, sys::bytes(line));
  }
}

void Recorder::num(std::string_view key, int64_t value) { note(key, std::to_string(value)); }

long Recorder::sys(std::string_view key, long rc) {
  int saved = errno;
  note(key, rc >= 0 ? std::string_view("ok") : errno_name(errno_from(saved)));
  errno = saved;
  return rc;
}

long Recorder::sys_val(std::string_view key, long rc) {
  int saved = errno;
  if (rc >= 0) {
    num(key, rc);
  } else {
    note(key, errno_name(errno_from(saved)));
  }
  errno = saved;
  return rc;
}

std::string_view file_type_name(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "file";
    case S_IFDIR:
      return "dir";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    default:
      return "unknown";
  }
}

void Recorder::stat_fields(std::string_view key, const struct stat& st) {
  std::string value =
      fmt::format("{} mode={:04o} nlink={} uid={} gid={}", file_type_name(st.st_mode),
                  st.st_mode & 07777, st.st_nlink, st.st_uid, st.st_gid);
  if (!S_ISDIR(st.st_mode)) value += fmt::format(" size={}", st.st_size);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    value += fmt::format(" rdev={}:{}", major(st.st_rdev), minor(st.st_rdev));
  }
  note(key, value);
}

void Recorder::merge(std::string_view prefix, const Recorder& other) {
  for (const Entry& e : other.entries_) note(fmt::format("{}.{}", prefix, e.key), e.value);
}

std::string Recorder::serialize() const {
  std::string out;
  for (const Entry& e : entries_) out += escape(e.key) + '\t' + escape(e.value) + '\n';
  return out;
}

Recorder Recorder::parse(std::string_view text) {
  Recorder r;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
      r.entries_.push_back({unescape(line), "<malformed line>"});
      continue;
    }
    r.entries_.push_back({unescape(line.substr(0, tab)), unescape(line.substr(tab + 1))});
  }
  for (const Entry& e : r.entries_) ++r.key_counts_[e.key];
  return r;
}

std::string Recorder::render() const {
  std::string out;
  for (const Entry& e : entries_) out += fmt::format("{} = {}\n", e.key, e.value);
  return out;
}

std::string diff_recordings(const Recorder& expected, const Recorder& actual,
                            std::string_view expected_name, std::string_view actual_name) {
  std::map<std::string, std::string> actual_by_key;
  for (const auto& e : actual.entries()) actual_by_key[e.key] = e.value;
  std::map<std::string, bool> expected_keys;
  std::string out;
  for (const auto& e : expected.entries()) {
    expected_keys[e.key] = true;
    auto it = actual_by_key.find(e.key);
    if (it == actual_by_key.end()) {
      out +=
          fmt::format("  {}: {}={:?} {}=<missing>\n", e.key, expected_name, e.value, actual_name);
    } else if (it->second != e.value) {
      out += fmt::format("  {}: {}={:?} {}={:?}\n", e.key, expected_name, e.value, actual_name,
                         it->second);
    }
  }
  for (const auto& e : actual.entries()) {
    if (!expected_keys.count(e.key)) {
      out +=
          fmt::format("  {}: {}=<missing> {}={:?}\n", e.key, expected_name, actual_name, e.value);
    }
  }
  if (out.empty() && expected.entries() != actual.entries())
    out = "  (same entries, different order)\n";
  return out;
}

}  // namespace fusebpf::posix
