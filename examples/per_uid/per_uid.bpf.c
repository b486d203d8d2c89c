// per_uid: per-app directories, Android style. Below the top-level directory APPS_DIR
// (default "data"), each child directory belongs to one app; the `app_uid` hash map gives
// its owner (key: the name, first 31 bytes zero-padded to 32; value: u32 uid, little
// endian). A caller other than root sees (lookup, readdir) only the directories mapped to
// its own uid, and mkdir there is allowed only for its own name (EPERM otherwise, whether
// or not the name exists, so mkdir cannot probe other apps' names either):
//   fusebpf mount BACKING MNT --filter build/examples/per_uid.bpf.o
//   fusebpf map MNT set app_uid $(printf com.app.a | xxd -p) $(printf '%08x' 10001 | tac -rs..)
// Three tables, picked per node by lookup postfilters (src/filter/README.md "Association"):
// the root's `per_uid` gives APPS_DIR the `per_uid_apps` table and takes the program away
// from every other child, and `per_uid_apps` takes it away from the app directories, so
// everything outside APPS_DIR itself runs unfiltered (kernel caching and passthrough).
// Caching: the kernel's dentries are shared by all uids; names below a directory whose
// program filters lookups get entry timeout 0, so every path walk through APPS_DIR asks
// the filter again as the current caller. Limits: the rule uses the caller's uid only
// (not gid or supplementary groups); create/rename/symlink of names in APPS_DIR are not
// filtered: keep APPS_DIR writable by root only (as Android does).
#include "../common/names.bpf.h"
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#ifndef APPS_DIR
#define APPS_DIR "data"
#endif
const volatile char apps_dir[32] = APPS_DIR;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, struct name_key);
  __type(value, u32);
} app_uid SEC(".maps");

static __always_inline u32 caller_uid(void) { return (u32)bpf_get_current_uid_gid(); }

// Whether `uid` may see the app directory named by `key`.
static __always_inline bool visible(u32 uid, const struct name_key* key) {
  if (uid == 0) return true;
  u32* owner = bpf_map_lookup_elem(&app_uid, key);
  return owner && *owner == uid;
}

// Whether a name buffer names an app directory `uid` may see.
static __always_inline bool name_visible(u32 uid, const struct fuse_buffer* name) {
  struct name_key key = {};
  return uid == 0 || (name_key_of(name, &key) && visible(uid, &key));
}

// Writes one association entry (FUSE_ENTRY_BPF with a table name, or FUSE_ENTRY_REMOVE_BPF).
static __always_inline u32 associate(struct fuse_buffer* entries, u32 type, const char* table) {
  struct fuse_bpf_entry_out e[2] = {};
  struct bpf_dynptr d;
  e[0].entry_type = type;
  for (int i = 0; i < 15 && table && table[i]; i++) e[0].name[i] = table[i];
  bpf_fuse_get_rw_dynptr(entries, &d, sizeof(e), false);
  return bpf_dynptr_write(&d, 0, e, sizeof(e), 0) == 0 ? BPF_FUSE_CONTINUE : -EIO;
}

// ---- per_uid: the root -----------------------------------------------------------------

u32 BPF_STRUCT_OPS(root_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(root_lookup_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, struct fuse_entry_out* out,
                   struct fuse_buffer* entries) {
  struct name_key key = {};
  if (meta->error_in != 0) return BPF_FUSE_CONTINUE;
  bool is_apps = name_key_of(name, &key);
  for (int i = 0; i < 32 && is_apps; i++) {
    if (key.name[i] != apps_dir[i]) is_apps = false;
    if (key.name[i] == 0) break;
  }
  if (is_apps) return associate(entries, FUSE_ENTRY_BPF, "per_uid_apps");
  return associate(entries, FUSE_ENTRY_REMOVE_BPF, 0);
}

SEC(".struct_ops")
struct fuse_ops per_uid = {
    .lookup_prefilter = (void*)root_lookup_pre,
    .lookup_postfilter = (void*)root_lookup_post,
    .name = "per_uid",
};

// ---- per_uid_apps: APPS_DIR ------------------------------------------------------------

u32 BPF_STRUCT_OPS(apps_lookup_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return name_visible(caller_uid(), name) ? BPF_FUSE_POSTFILTER : -ENOENT;
}

u32 BPF_STRUCT_OPS(apps_lookup_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, struct fuse_entry_out* out,
                   struct fuse_buffer* entries) {
  if (meta->error_in != 0) return BPF_FUSE_CONTINUE;
  return associate(entries, FUSE_ENTRY_REMOVE_BPF, 0);  // the app's own tree is unfiltered
}

u32 BPF_STRUCT_OPS(apps_mkdir_pre, const struct bpf_fuse_meta_info* meta, struct fuse_mkdir_in* in,
                   struct fuse_buffer* name) {
  return name_visible(caller_uid(), name) ? BPF_FUSE_CONTINUE : -EPERM;
}

u32 BPF_STRUCT_OPS(apps_readdir_pre, const struct bpf_fuse_meta_info* meta,
                   struct fuse_read_in* in) {
  return caller_uid() == 0 ? BPF_FUSE_CONTINUE : BPF_FUSE_POSTFILTER;
}

static __always_inline bool keep_dirent(void* ctx, struct bpf_dynptr* d, u64 off, u64 namelen) {
  char nm[2] = {};
  struct name_key key = {};
  if (namelen <= 2 && bpf_dynptr_read(nm, namelen, d, off, 0) == 0 && nm[0] == '.' &&
      (namelen == 1 || nm[1] == '.')) {
    return true;  // "." and ".."
  }
  return name_key_at(d, off, namelen, &key) && visible(*(u32*)ctx, &key);
}

#include "../common/dirents.bpf.h"

// Keeps ".", ".." and the caller's own directories.
u32 BPF_STRUCT_OPS(apps_readdir_post, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_read_in* in, struct fuse_read_out* out,
                   struct fuse_buffer* buf) {
  u32 uid = caller_uid();
  return compact_dirents(buf, &uid);
}

SEC(".struct_ops")
struct fuse_ops per_uid_apps = {
    .lookup_prefilter = (void*)apps_lookup_pre,
    .lookup_postfilter = (void*)apps_lookup_post,
    .mkdir_prefilter = (void*)apps_mkdir_pre,
    .readdir_prefilter = (void*)apps_readdir_pre,
    .readdir_postfilter = (void*)apps_readdir_post,
    .name = "per_uid_apps",
};
