// Test helpers for the backing unit tests: a temp backing directory on the real filesystem.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "backing/backing.h"
#include "base/sys.h"
#include "base/unique_fd.h"

namespace fusebpf::backing::testing {

// Creates /tmp/fusebpf-backing-XXXXXX, removes it at the end.
class TempDir {
 public:
  // base: "/tmp" (ext4 here) or "/dev/shm" (tmpfs: fast for the 100k-file tests).
  explicit TempDir(const std::string& base = "/tmp") {
    std::string tmpl = base + "/fusebpf-backing-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
    ::chmod(path_.c_str(), 0755);
    fd_ = UniqueFd(::open(path_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  std::string at(const std::string& rel) const { return path_ + "/" + rel; }
  void write(const std::string& rel, std::string_view data) const {
    ASSERT_TRUE(sys::write_file(fd_.get(), rel.c_str(), data).has_value()) << rel;
  }
  void mkdir(const std::string& rel) const {
    ASSERT_EQ(::mkdirat(fd_.get(), rel.c_str(), 0755), 0);
  }

 private:
  std::string path_;
  UniqueFd fd_;
};

inline std::unique_ptr<Backing> make_backing(const std::string& root, bool handles = true,
                                             size_t cache = 4096) {
  Options o;
  o.use_file_handles = handles;
  o.fd_cache_capacity = cache;
  auto b = Backing::create(root, o);
  EXPECT_TRUE(b.has_value());
  return b ? std::move(*b) : nullptr;
}

// errno of a syscall result (0 on success).
inline int err_of(int rc) { return rc < 0 ? errno : 0; }
template <typename T>
int err_of(const Result<T>& r) {
  return r ? 0 : errno_value(r.error());
}

inline std::span<const std::byte> as_bytes(std::string_view s) { return sys::bytes(s); }

}  // namespace fusebpf::backing::testing
