// deny_uid: a C++ user filter. Every lookup, readdir and open by the uid given as the
// library argument fails with EACCES; everyone else sees the plain mirror. The C++ hook has
// the same arguments as the BPF one plus the caller (meta.uid/gid/pid).
//   fusebpf mount BACKING MNT --user-filter build/examples/libdeny_uid.so:65534
#include <cerrno>
#include <cstdlib>

#include "filter/user_filter.h"

namespace {

using fusebpf::filter::FilterMeta;
using fusebpf::filter::FuseBuffer;
using fusebpf::filter::Verdict;

class DenyUid : public fusebpf::filter::UserFilter {
 public:
  explicit DenyUid(uint32_t uid) : uid_(uid) {}
  Verdict lookup_prefilter(const FilterMeta& meta, FuseBuffer&) override { return check(meta); }
  Verdict readdir_prefilter(const FilterMeta& meta, fusebpf::abi::fuse_read_in&) override {
    return check(meta);
  }
  Verdict open_prefilter(const FilterMeta& meta, fusebpf::abi::fuse_open_in&) override {
    return check(meta);
  }

 private:
  Verdict check(const FilterMeta& meta) const {
    return meta.uid == uid_ ? Verdict::error(EACCES) : Verdict::kContinue;
  }
  uint32_t uid_;
};

}  // namespace

extern "C" fusebpf::filter::UserFilter* fusebpf_create_user_filter(const char* arg) {
  return new DenyUid(arg && *arg ? static_cast<uint32_t>(std::strtoul(arg, nullptr, 10)) : 65534);
}
