// The StackedFs operations run through the filter chain (filtered_ops.cc). StackedFs calls
// these instead of its plain bodies when the mount has filters.
#pragma once

#include "filter/stacked_fs.h"

namespace fusebpf::filter {

class FilteredOps {
 public:
  using O = fuse::Opcode;
  template <O Op>
  using Req = fuse::Request<Op>;
  using Slot = fuse::ReplySlot;

#define FUSEBPF_FILTERED(method, Op) \
  static void method(StackedFs& fs, const Req<O::Op>& req, Slot reply);
  FUSEBPF_FILTERED(lookup, kLookup)
  FUSEBPF_FILTERED(getattr, kGetattr)
  FUSEBPF_FILTERED(setattr, kSetattr)
  FUSEBPF_FILTERED(statx, kStatx)
  FUSEBPF_FILTERED(readlink, kReadlink)
  FUSEBPF_FILTERED(symlink, kSymlink)
  FUSEBPF_FILTERED(mknod, kMknod)
  FUSEBPF_FILTERED(mkdir, kMkdir)
  FUSEBPF_FILTERED(unlink, kUnlink)
  FUSEBPF_FILTERED(rmdir, kRmdir)
  FUSEBPF_FILTERED(rename, kRename)
  FUSEBPF_FILTERED(rename2, kRename2)
  FUSEBPF_FILTERED(link, kLink)
  FUSEBPF_FILTERED(open, kOpen)
  FUSEBPF_FILTERED(create, kCreate)
  FUSEBPF_FILTERED(tmpfile, kTmpfile)
  FUSEBPF_FILTERED(read, kRead)
  FUSEBPF_FILTERED(write, kWrite)
  FUSEBPF_FILTERED(flush, kFlush)
  FUSEBPF_FILTERED(release, kRelease)
  FUSEBPF_FILTERED(fsync, kFsync)
  FUSEBPF_FILTERED(opendir, kOpendir)
  FUSEBPF_FILTERED(readdir, kReaddir)
  FUSEBPF_FILTERED(readdirplus, kReaddirplus)
  FUSEBPF_FILTERED(releasedir, kReleasedir)
  FUSEBPF_FILTERED(fsyncdir, kFsyncdir)
  FUSEBPF_FILTERED(statfs, kStatfs)
  FUSEBPF_FILTERED(setxattr, kSetxattr)
  FUSEBPF_FILTERED(getxattr, kGetxattr)
  FUSEBPF_FILTERED(listxattr, kListxattr)
  FUSEBPF_FILTERED(removexattr, kRemovexattr)
  FUSEBPF_FILTERED(access, kAccess)
  FUSEBPF_FILTERED(fallocate, kFallocate)
  FUSEBPF_FILTERED(lseek, kLseek)
  FUSEBPF_FILTERED(copy_file_range, kCopyFileRange)
#undef FUSEBPF_FILTERED

 private:
  // Runs the getattr filters of `node` over the attributes of a new entry (lookup, create,
  // mkdir... and readdirplus), so cached attributes are filtered ones; when they do not
  // simply pass (an error, or the op handed to C++) the attributes are not cached and the
  // kernel's next GETATTR runs the filters in full.
  static void filter_entry_attr(StackedFs& fs, const fuse::DecodedRequest& d, uint64_t node,
                                abi::fuse_entry_out& out);
  // READDIRPLUS: runs the lookup filters over an entry the backing readdir already looked
  // up. true: they accept it unchanged (no error, name edit, association or redirect) and
  // `out` (attributes and timeouts as they left them) may be sent; false: send nodeid 0 so
  // the kernel sends a LOOKUP, which runs the filters in full.
  static bool plus_entry_passes(StackedFs& fs, const fuse::DecodedRequest& d, std::string_view name,
                                abi::fuse_entry_out& out);
  static void readdir_common(StackedFs& fs, const fuse::DecodedRequest& d,
                             const abi::fuse_read_in& in, bool plus, Slot reply);
  static void reply_open(StackedFs& fs, Slot& reply, abi::fuse_open_out& out, uint64_t nodeid,
                         int flags, bool is_dir, bool data_filtered);
};

}  // namespace fusebpf::filter
