// trace_all: the benchmark filter of issue 4. A prefilter on every metadata op counts the op
// in the `ops` array (index = FUSE opcode) and prints a line with bpf_printk when `verbose`
// is set (fusebpf map MNT set .bss 0 01). Read/write are not filtered, so files keep kernel
// passthrough.
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 64);
  __type(key, u32);
  __type(value, u64);
} ops SEC(".maps");

u32 verbose = 0;

static __always_inline u32 trace(const struct bpf_fuse_meta_info *meta) {
  u32 op = meta->opcode & FUSE_OPCODE_FILTER;
  u64 *count = bpf_map_lookup_elem(&ops, &op);
  if (count) __sync_fetch_and_add(count, 1);
  if (verbose) bpf_printk("op %u node %llu", op, meta->nodeid);
  return BPF_FUSE_CONTINUE;
}

#define TRACE(member, ...)                                                       \
  u32 BPF_STRUCT_OPS(member, const struct bpf_fuse_meta_info *meta, ##__VA_ARGS__) { \
    return trace(meta);                                                          \
  }

TRACE(lookup_pre, struct fuse_buffer *name)
TRACE(getattr_pre, struct fuse_getattr_in *in)
TRACE(setattr_pre, struct fuse_setattr_in *in)
TRACE(open_pre, struct fuse_open_in *in)
TRACE(opendir_pre, struct fuse_open_in *in)
TRACE(readdir_pre, struct fuse_read_in *in)
TRACE(create_pre, struct fuse_create_in *in, struct fuse_buffer *name)
TRACE(mkdir_pre, struct fuse_mkdir_in *in, struct fuse_buffer *name)
TRACE(unlink_pre, struct fuse_buffer *name)
TRACE(rmdir_pre, struct fuse_buffer *name)
TRACE(release_pre, struct fuse_release_in *in)
TRACE(releasedir_pre, struct fuse_release_in *in)
TRACE(flush_pre, struct fuse_flush_in *in)
TRACE(access_pre, struct fuse_access_in *in)
TRACE(statfs_pre)
TRACE(rename2_pre, struct fuse_rename2_in *in, struct fuse_buffer *o, struct fuse_buffer *n)
TRACE(getxattr_pre, struct fuse_getxattr_in *in, struct fuse_buffer *name)
TRACE(fsync_pre, struct fuse_fsync_in *in)

SEC(".struct_ops")
struct fuse_ops trace_all = {
    .lookup_prefilter = (void *)lookup_pre,
    .getattr_prefilter = (void *)getattr_pre,
    .setattr_prefilter = (void *)setattr_pre,
    .open_prefilter = (void *)open_pre,
    .opendir_prefilter = (void *)opendir_pre,
    .readdir_prefilter = (void *)readdir_pre,
    .create_open_prefilter = (void *)create_pre,
    .mkdir_prefilter = (void *)mkdir_pre,
    .unlink_prefilter = (void *)unlink_pre,
    .rmdir_prefilter = (void *)rmdir_pre,
    .release_prefilter = (void *)release_pre,
    .releasedir_prefilter = (void *)releasedir_pre,
    .flush_prefilter = (void *)flush_pre,
    .access_prefilter = (void *)access_pre,
    .statfs_prefilter = (void *)statfs_pre,
    .rename2_prefilter = (void *)rename2_pre,
    .getxattr_prefilter = (void *)getxattr_pre,
    .fsync_prefilter = (void *)fsync_pre,
    .name = "trace_all",
};
