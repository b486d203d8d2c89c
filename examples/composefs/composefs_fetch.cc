// composefs_fetch: the C++ half of examples/composefs: loads the image manifest into the BPF
// map `paths` and pulls blobs missing from the object store from a remote store on first
// lookup (lazy pulling). composefs.bpf.c hands it only lookups of blobs not yet known to be
// in the store; it checks the store, else copies the blob from the remote, verifying its
// SHA-256 while copying, into a temporary file that is fsynced and then renamed into place,
// so the store never holds a partial or wrong blob (a failed fetch leaves nothing and the
// lookup fails with EIO). Each blob found or fetched goes into the BPF map `fetched`, so
// later lookups of it stay in BPF.
//
//   fusebpf mount TREE MNT --filter build/examples/composefs.bpf.o,root=STORE
//       --user-filter build/examples/libcomposefs_fetch.so:CONF
//
// CONF (the CLI's lib.so:ARG cannot contain '/', so CONF is a file name in the directory
// `fusebpf mount` runs in) has `key=value` lines; relative paths are relative to that same
// directory, '#' starts a comment:
//   store=/srv/image/store        the object store: the same directory as root= above
//   remote=/mnt/remote-store      holds objects/<hh>/<rest> like the store (stands in for a
//                                 network store)
//   manifest=/srv/image/manifest  `sha256sum` output: "<digest>  <path>" per line, paths
//                                 relative to the image root (a leading "./" is dropped)
// Make the manifest with `cd IMAGE && find . -type f -exec sha256sum {} + > manifest`, the
// tree with `cp -a --attributes-only` or `truncate -s0` placeholders, and the store by
// copying each file to objects/<hh>/<rest> (or leave it empty and let everything be
// fetched). A bad CONF or manifest line fails the mount with a message.
// Limits: a file's attributes (mode, owner, times) are its blob's, not the tree's: fetched
// blobs are root's, read-only, with the remote file's execute bits. A blob deleted from the store
// after it was recorded in `fetched` is not fetched again until the entry is deleted (`fusebpf map
// MNT delete fetched DIGEST_HEX`); fetches of one blob by concurrent lookups are not merged (each
// copies; the renames are atomic and the contents identical).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/scope_exit.h"
#include "base/unique_fd.h"
#include "composefs/composefs.h"
#include "filter/user_filter.h"

namespace {

namespace cfs = fusebpf::examples::composefs;
using fusebpf::ScopeExit;
using fusebpf::UniqueFd;
using fusebpf::filter::FilterMaps;
using fusebpf::filter::FilterMeta;
using fusebpf::filter::FuseBuffer;
using fusebpf::filter::Verdict;
namespace filter = fusebpf::filter;

constexpr uint8_t kFoundInStore = 1;
constexpr uint8_t kFetched = 2;

std::span<const std::byte> bytes_of(const void* p, size_t n) {
  return {static_cast<const std::byte*>(p), n};
}

// "./a//b/" -> "a/b"; nullopt for an empty path or one with "." or ".." components.
std::optional<std::string> normalize(std::string_view p) {
  std::string out;
  while (!p.empty()) {
    size_t slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
    if (part.empty() || (part == "." && out.empty())) continue;
    if (part == "." || part == "..") return std::nullopt;
    out += (out.empty() ? "" : "/") + std::string(part);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

struct Config {
  UniqueFd store, remote;                 // O_PATH directories
  std::map<uint64_t, std::string> paths;  // path key -> digest
};

// Parses "<64 hex>  <path>" lines (sha256sum's text and binary forms).
bool parse_manifest(const std::string& file, Config& c) {
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "composefs_fetch: cannot read %s\n", file.c_str());
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::string_view l(line);
    std::optional<std::string> path;
    if (l.size() > cfs::kDigestLen + 2 && l[cfs::kDigestLen] == ' ' &&
        (l[cfs::kDigestLen + 1] == ' ' || l[cfs::kDigestLen + 1] == '*')) {
      path = normalize(l.substr(cfs::kDigestLen + 2));
    }
    std::string digest(l.substr(0, cfs::kDigestLen));
    if (!path || !cfs::is_digest(digest)) {
      std::fprintf(stderr, "composefs_fetch: %s:%d: expected \"<sha256 hex>  <path>\"\n",
                   file.c_str(), n);
      return false;
    }
    auto [it, added] = c.paths.emplace(cfs::path_key(*path), digest);
    if (!added && it->second != digest) {
      std::fprintf(stderr, "composefs_fetch: %s:%d: %s: path hash collision or duplicate\n",
                   file.c_str(), n, path->c_str());
      return false;
    }
  }
  return true;
}

std::optional<Config> load_config(const char* arg) {
  std::string conf = arg && *arg ? arg : "composefs.conf";
  std::ifstream in(conf);
  if (!in) {
    std::fprintf(stderr, "composefs_fetch: cannot read %s\n", conf.c_str());
    return std::nullopt;
  }
  std::map<std::string, std::string> kv;
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  Config c;
  for (auto [key, fd] : {std::pair{"store", &c.store}, std::pair{"remote", &c.remote}}) {
    fd->reset(::open(kv[key].c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!*fd) {
      std::fprintf(stderr, "composefs_fetch: %s: %s=%s: %s\n", conf.c_str(), key, kv[key].c_str(),
                   std::strerror(errno));
      return std::nullopt;
    }
  }
  if (!parse_manifest(kv["manifest"], c)) return std::nullopt;
  return c;
}

// The redirect path the BPF program wrote into the entries (slot 0), if any.
std::optional<std::string_view> redirect_path(const FuseBuffer& entries) {
  auto b = filter::buffer_view(entries);
  filter::fuse_bpf_entry_out e;
  if (b.size() < sizeof e) return std::nullopt;
  std::memcpy(&e, b.data(), sizeof e);
  if (e.entry_type != filter::kEntryBacking || e.fd > b.size() || e.unused2 > b.size() - e.fd) {
    return std::nullopt;
  }
  return std::string_view(reinterpret_cast<const char*>(b.data() + e.fd), e.unused2);
}

class ComposefsFetch : public filter::UserFilter {
 public:
  explicit ComposefsFetch(Config c) : c_(std::move(c)) {}

  void attach(FilterMaps* maps) override {
    maps_ = maps;
    if (maps == nullptr) {
      std::fprintf(stderr, "composefs_fetch: needs --filter composefs.bpf.o\n");
      return;
    }
    for (const auto& [key, digest] : c_.paths) {
      auto e = maps->map_update("paths", bytes_of(&key, sizeof key),
                                bytes_of(digest.data(), digest.size()));
      if (e != fusebpf::Errno::kOk) {
        std::fprintf(stderr, "composefs_fetch: map paths: update failed (%d)\n", int(e));
        break;
      }
    }
    c_.paths.clear();  // the map holds them now
  }

  Verdict lookup_postfilter(const FilterMeta& meta, const FuseBuffer&, filter::fuse_entry_out&,
                            FuseBuffer& entries) override {
    std::optional<std::string_view> path = redirect_path(entries);
    if (!path || path->size() != cfs::kBlobPathLen) return Verdict::kContinue;
    std::string digest = std::string(path->substr(8, 2)) + std::string(path->substr(11));
    if (!cfs::is_digest(digest) || cfs::blob_path(digest) != *path) return Verdict::kContinue;
    struct stat st;
    uint8_t how = kFoundInStore;
    if (::fstatat(c_.store.get(), std::string(*path).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (!fetch(digest)) return Verdict::error(EIO);
      how = kFetched;
    }
    if (maps_)
      (void)maps_->map_update("fetched", bytes_of(digest.data(), digest.size()), bytes_of(&how, 1));
    return Verdict::kContinue;
  }

 private:
  bool fetch(const std::string& digest) {
    std::string rel = cfs::blob_path(digest), hh = rel.substr(0, 10), name = rel.substr(11);
    UniqueFd src(::openat(c_.remote.get(), rel.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src) return fail(digest, "not in the remote store");
    ::mkdirat(c_.store.get(), "objects", 0755);
    ::mkdirat(c_.store.get(), hh.c_str(), 0755);
    UniqueFd dir(
        ::openat(c_.store.get(), hh.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    // Attributes of a file in the view are its blob's: keep the remote's execute bits.
    struct stat st;
    mode_t mode = ::fstat(src.get(), &st) == 0 ? (st.st_mode & 0555) | 0444 : 0444;
    std::string tmp = ".tmp." + name + "." + std::to_string(::gettid());
    UniqueFd dst(dir ? ::openat(dir.get(), tmp.c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
                     : -1);
    if (!dst) return fail(digest, "cannot create a file in the store");
    ScopeExit remove_tmp([&] { ::unlinkat(dir.get(), tmp.c_str(), 0); });
    if (!copy(src.get(), dst.get(), digest)) return false;
    if (::fsync(dst.get()) != 0 || ::renameat(dir.get(), tmp.c_str(), dir.get(), name.c_str())) {
      return fail(digest, "cannot install the blob");
    }
    remove_tmp.dismiss();
    ::fsync(dir.get());  // the rename itself
    return true;
  }

  // Copies src to dst; false (nothing to keep) on an I/O error or a digest mismatch.
  bool copy(int src, int dst, const std::string& digest) {
    cfs::Sha256 sha;
    std::vector<std::byte> buf(1 << 16);
    for (;;) {
      ssize_t n = ::read(src, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail(digest, "read error");
      if (n == 0) break;
      sha.update(std::span(buf.data(), n));
      for (ssize_t done = 0; done < n;) {
        ssize_t w = ::write(dst, buf.data() + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail(digest, "write error");
        done += w;
      }
    }
    return sha.hex() == digest || fail(digest, "content does not match its digest");
  }

  static bool fail(const std::string& digest, const char* why) {
    std::fprintf(stderr, "composefs_fetch: blob %s: %s\n", digest.c_str(), why);
    return false;
  }

  Config c_;
  FilterMaps* maps_ = nullptr;
};

}  // namespace

extern "C" filter::UserFilter* fusebpf_create_user_filter(const char* arg) {
  std::optional<Config> c = load_config(arg);
  return c ? new ComposefsFetch(std::move(*c)) : nullptr;
}
