// The C++ user filter of coverage_test.cc (with progs/codes.bpf.c). Every hook it implements
// appends one line to the log file named by the library argument:
//   <hook> name=<name> op=<meta.opcode, hex> err=<meta.error_in as int> uid=<> gid=<> pid=<>
// so the test can see which hooks ran, in which stage and for which caller. Verdicts:
//   lookup prefilter (runs on BPF_FUSE_USER_PREFILTER): "upre_deny*" -> EACCES,
//     "upre_post*" -> BPF_FUSE_USER_POSTFILTER, "upre_again*" -> BPF_FUSE_USER_PREFILTER
//     (means CONTINUE here), "upre_ren*" -> the backing lookup gets "renamed", else CONTINUE.
//   lookup postfilter: "*_fail" -> ENOLINK, else CONTINUE.
//   statfs postfilter (the whole op under BPF_FUSE_USER): answers made-up numbers.
//   unlink postfilter (the whole op under BPF_FUSE_USER): succeeds without unlinking.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <string_view>

#include "filter/user_filter.h"

namespace {

using fusebpf::filter::FilterMeta;
using fusebpf::filter::FuseBuffer;
using fusebpf::filter::Verdict;

class CoverageFilter : public fusebpf::filter::UserFilter {
 public:
  explicit CoverageFilter(std::string log) : log_(std::move(log)) {}

  Verdict lookup_prefilter(const FilterMeta& meta, FuseBuffer& name) override {
    std::string_view n = fusebpf::filter::buffer_name(name);
    record("lookup_pre", n, meta);
    if (n.starts_with("upre_deny")) return Verdict::error(EACCES);
    if (n.starts_with("upre_post")) return Verdict::kUserPostfilter;
    if (n.starts_with("upre_again")) return Verdict::kUserPrefilter;
    if (n.starts_with("upre_ren") && !fusebpf::filter::buffer_set_name(name, "renamed")) {
      return Verdict::error(EIO);
    }
    return Verdict::kContinue;
  }
  Verdict lookup_postfilter(const FilterMeta& meta, const FuseBuffer& name,
                            fusebpf::abi::fuse_entry_out&, FuseBuffer&) override {
    std::string_view n = fusebpf::filter::buffer_name(name);
    record("lookup_post", n, meta);
    return n.ends_with("_fail") ? Verdict::error(ENOLINK) : Verdict::kContinue;
  }
  Verdict statfs_postfilter(const FilterMeta& meta, fusebpf::abi::fuse_statfs_out& out) override {
    record("statfs_post", "", meta);
    out.st.blocks = 12345;
    out.st.bfree = out.st.bavail = 100;
    out.st.files = 777;
    out.st.ffree = 7;
    out.st.bsize = out.st.frsize = 4096;
    out.st.namelen = 200;
    return Verdict::kContinue;
  }
  Verdict unlink_postfilter(const FilterMeta& meta, const FuseBuffer& name) override {
    record("unlink_post", fusebpf::filter::buffer_name(name), meta);
    return Verdict::kContinue;
  }

 private:
  void record(std::string_view hook, std::string_view name, const FilterMeta& m) const {
    char line[512];
    int n = snprintf(line, sizeof line, "%.*s name=%.*s op=%#x err=%d uid=%u gid=%u pid=%u\n",
                     static_cast<int>(hook.size()), hook.data(), static_cast<int>(name.size()),
                     name.data(), m.opcode, static_cast<int>(m.error_in), m.uid, m.gid, m.pid);
    if (n < 0) return;
    if (n >= static_cast<int>(sizeof line)) n = sizeof line - 1;
    // One O_APPEND write per line: lines from concurrent workers never interleave.
    int fd = ::open(log_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (::write(fd, line, static_cast<size_t>(n)) != n) perror("coverage_filter: log");
    ::close(fd);
  }
  std::string log_;
};

}  // namespace

extern "C" fusebpf::filter::UserFilter* fusebpf_create_user_filter(const char* arg) {
  return new CoverageFilter(arg ? arg : "/dev/null");
}
