// case_fold: a case-insensitive view of a case-sensitive lower fs, as a C++ user filter.
// The lookup prefilter rewrites a name that does not exist as typed to the directory entry
// that matches it ignoring ASCII case (the backing op then uses the rewritten name, a
// fusebpf guarantee), so `cat MNT/README.txt` opens `Readme.TXT`. Listings keep the real
// names. The library argument is the backing directory (filters see node ids, not paths),
// opened when the filter is loaded, i.e. relative to the directory `fusebpf mount` runs in
// (default "."; the CLI's `lib.so:ARG` cannot contain a '/'):
//   cd BACKING && fusebpf mount . MNT --user-filter build/examples/libcase_fold.so
// The lookup postfilter remembers each looked-up node's path below BACKING, so the
// prefilter knows which directory to search. Limits: ASCII case only; when several
// names match, the first in directory order wins; the path map only grows (node ids are
// never reused, so a stale entry is harmless); a directory renamed through the mount keeps
// its old path here until looked up again under its new name.
#include <dirent.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "filter/user_filter.h"

namespace {

using fusebpf::filter::FilterMeta;
using fusebpf::filter::FuseBuffer;
using fusebpf::filter::Verdict;
namespace filter = fusebpf::filter;

class CaseFold : public filter::UserFilter {
 public:
  explicit CaseFold(int root) : root_(root) { paths_[1] = "."; }  // 1: the root's node id
  ~CaseFold() override { ::close(root_); }

  Verdict lookup_prefilter(const FilterMeta& meta, FuseBuffer& name) override {
    std::optional<std::string> dir = path_of(meta.nodeid);
    std::string typed(filter::buffer_name(name));
    if (dir && !exists(*dir, typed)) {
      if (auto match = find_folded(*dir, typed)) filter::buffer_set_name(name, *match);
    }
    return Verdict::kUserPostfilter;
  }

  Verdict lookup_postfilter(const FilterMeta& meta, const FuseBuffer& name,
                            filter::fuse_entry_out& out, FuseBuffer&) override {
    if (meta.error_in != 0) return Verdict::kContinue;
    std::optional<std::string> dir = path_of(meta.nodeid);
    std::string_view n = filter::buffer_name(name);  // the name the backing op used
    if (dir && n != "." && n != "..") {
      std::unique_lock lock(mu_);
      paths_[out.nodeid] = *dir + "/" + std::string(n);
    }
    return Verdict::kContinue;
  }

 private:
  std::optional<std::string> path_of(uint64_t node) const {
    std::shared_lock lock(mu_);
    auto it = paths_.find(node);
    return it == paths_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  bool exists(const std::string& dir, const std::string& name) const {
    struct stat st;
    return ::fstatat(root_, (dir + "/" + name).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
  }
  std::optional<std::string> find_folded(const std::string& dir, const std::string& name) const {
    int fd = ::openat(root_, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return std::nullopt;
    }
    std::optional<std::string> found;
    while (dirent* e = ::readdir(d)) {
      if (::strcasecmp(e->d_name, name.c_str()) == 0) {
        found = e->d_name;
        break;
      }
    }
    ::closedir(d);
    return found;
  }

  int root_;
  mutable std::shared_mutex mu_;  // guards paths_; leaf lock
  std::unordered_map<uint64_t, std::string> paths_;
};

}  // namespace

extern "C" filter::UserFilter* fusebpf_create_user_filter(const char* arg) {
  int root = ::open(arg && *arg ? arg : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return root < 0 ? nullptr : new CaseFold(root);
}
