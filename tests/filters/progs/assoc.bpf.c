// Program association and passthrough. Table "assoc" (the root's) hides "hidden" and filters
// only lookups, so its files keep kernel passthrough. Its lookup postfilter sets the child's
// program by name: "free" -> FUSE_ENTRY_REMOVE_BPF (nothing below is filtered), "other" ->
// FUSE_ENTRY_BPF "second", "reads" -> FUSE_ENTRY_BPF "reads"; everything else inherits.
// Table "second" fails "secret" with EACCES and lets "hidden" through. Table "reads" filters
// read_iter: the first chunk of a file gets a '!' appended (its data buffer may grow up to
// the size the caller asked for, and not beyond: E2BIG if it could), and written data that
// starts with "hello" reaches the backing file as "Hello" (the request's data is copied
// before the first write, keeping its contents: EBADE if not).
#include "names.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline u32 set_entry(struct fuse_buffer* entries, u32 type, const char* name,
                                     u32 len) {
  struct fuse_bpf_entry_out e = {};
  struct bpf_dynptr d;
  e.entry_type = type;
  for (u32 i = 0; i < len && i < sizeof(e.name); i++) e.name[i] = name[i];
  bpf_fuse_get_rw_dynptr(entries, &d, sizeof(e), false);
  if (bpf_dynptr_write(&d, 0, &e, sizeof(e), 0) != 0) return -EIO;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(assoc_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return NAME_IS(name, "hidden") ? -ENOENT : BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(assoc_lookup_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, struct fuse_entry_out* out,
                   struct fuse_buffer* entries) {
  if (meta->error_in != 0) return BPF_FUSE_CONTINUE;
  if (NAME_IS(name, "free")) return set_entry(entries, FUSE_ENTRY_REMOVE_BPF, "", 0);
  if (NAME_IS(name, "other")) return set_entry(entries, FUSE_ENTRY_BPF, "second", 7);
  if (NAME_IS(name, "reads")) return set_entry(entries, FUSE_ENTRY_BPF, "reads", 6);
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(second_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return NAME_IS(name, "secret") ? -EACCES : BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(reads_read_pre, const struct bpf_fuse_meta_info* meta, struct fuse_read_in* in) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(reads_read_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_read_in* in, struct fuse_read_iter_out* out,
                   struct fuse_buffer* data) {
  struct bpf_dynptr d;
  char bang = '!';
  u32 n = bpf_fuse_return_len(data);
  if (in->offset != 0 || n >= in->size || n > 4096) return BPF_FUSE_CONTINUE;
  bpf_fuse_get_rw_dynptr(data, &d, (u64)in->size + 1, true);
  if (bpf_dynptr_slice_rdwr(&d, 0, NULL, 1)) return -E2BIG;
  bpf_fuse_get_rw_dynptr(data, &d, n + 1, true);
  if (bpf_dynptr_write(&d, n, &bang, 1, 0) != 0) return -ENOMEM;
  out->ret = n + 1;
  return BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(reads_write_pre, const struct bpf_fuse_meta_info* meta, struct fuse_write_in* in,
                   struct fuse_buffer* data) {
  struct bpf_dynptr d;
  char* s;
  if (!PREFIX_IS(data, "hello")) return BPF_FUSE_CONTINUE;
  bpf_fuse_get_rw_dynptr(data, &d, bpf_fuse_return_len(data), false);
  s = bpf_dynptr_slice_rdwr(&d, 0, NULL, 5);
  if (!s) return -ENOMEM;
  if (s[0] != 'h' || s[4] != 'o') return -EBADE;
  s[0] = 'H';
  return BPF_FUSE_CONTINUE;
}

SEC(".struct_ops")
struct fuse_ops assoc = {
    .lookup_prefilter = (void*)assoc_lookup_pre,
    .lookup_postfilter = (void*)assoc_lookup_post,
    .name = "assoc",
};

SEC(".struct_ops")
struct fuse_ops second = {
    .lookup_prefilter = (void*)second_lookup_pre,
    .name = "second",
};

SEC(".struct_ops")
struct fuse_ops reads = {
    .read_iter_prefilter = (void*)reads_read_pre,
    .read_iter_postfilter = (void*)reads_read_post,
    .write_iter_prefilter = (void*)reads_write_pre,
    .name = "reads",
};
