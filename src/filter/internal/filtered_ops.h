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
  static void readdir_common(StackedFs& fs, const fuse::DecodedRequest& d,
                             const abi::fuse_read_in& in, bool plus, Slot reply);
  static void reply_open(StackedFs& fs, Slot& reply, abi::fuse_open_out& out, uint64_t nodeid,
                         int flags, bool is_dir, bool data_filtered);
};

}  // namespace fusebpf::filter
