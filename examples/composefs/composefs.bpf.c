// composefs: a read-mostly image whose files' data live in a content-addressed object
// store, like composefs. The backing directory holds the image's tree (directories and
// empty placeholder files, so listings work); the `paths` map says which files are blobs:
// key = 64-bit FNV-1a of "/" + the path below the mount root, value = the blob's SHA-256
// as 64 hex characters (composefs.h). A lookup of such a file redirects it to
// objects/<hh>/<rest> below the object store given as filter root:
//   fusebpf mount TREE MNT --filter build/examples/composefs.bpf.o,root=STORE
//       --user-filter build/examples/libcomposefs_fetch.so:CONF
// The C++ filter (composefs_fetch.cc) loads the manifest into `paths` and fetches blobs
// missing from the store (lazy pulling); blobs known to be in the store are in `fetched`
// (key: the digest; value 1 = found there, 2 = fetched), and their lookups never leave BPF.
// Files not in the manifest are the tree's own. The whole view is read-only for file data
// and attributes (EROFS); names may still be created or removed in the tree. Data are not filtered,
// so the blobs keep kernel passthrough. Redirects resolve with RESOLVE_IN_ROOT (no way out of
// STORE), and a value that is not 64 lowercase hex characters fails the lookup with EIO. Path
// hashing needs each directory's hash: the lookup of a directory records it in `dirs` (node id ->
// hash; the root is node 1). Directories created or renamed through the mount are not part of the
// image (their files are the tree's own).
#include "fuse_bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define DIGEST_LEN 64
#define BLOB_PATH_LEN (8 + 2 + 1 + DIGEST_LEN - 2)  // objects/hh/rest
#define S_IFMT 0170000
#define S_IFDIR 0040000

struct digest {
  char hex[DIGEST_LEN];
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, u64);
  __type(value, struct digest);
} paths SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct digest);
  __type(value, u8);
} fetched SEC(".maps");

// LRU: an evicted directory is recorded again by its next lookup (lookups here are never
// cached by the kernel, so every path walk looks each directory up).
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, u64);
  __type(value, u64);
} dirs SEC(".maps");

// hash(parent path) -> hash(parent path + "/" + name). False for a parent not in `dirs`.
static __always_inline bool child_hash(u64 parent, const struct fuse_buffer* name, u64* out) {
  char buf[256] = {};
  struct bpf_dynptr d;
  u64 h = FNV_BASIS;
  if (parent != 1) {
    u64* ph = bpf_map_lookup_elem(&dirs, &parent);
    if (!ph) return false;
    h = *ph;
  }
  u64 len = bpf_fuse_return_len((struct fuse_buffer*)name);  // counts the NUL
  if (len < 2 || len > 256) return false;
  len -= 1;
  asm volatile("%[l] &= 255" : [l] "+r"(len));  // keeps the bound visible to the verifier
  bpf_fuse_get_ro_dynptr(name, &d);
  if (len == 0 || bpf_dynptr_read(buf, len, &d, 0, 0) != 0) return false;
  h = (h ^ '/') * FNV_PRIME;
  for (int i = 0; i < 255; i++) {
    if (i >= len) break;
    h = (h ^ (u8)buf[i]) * FNV_PRIME;
  }
  *out = h;
  return true;
}

static __always_inline bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

u32 BPF_STRUCT_OPS(lookup_prefilter, const struct bpf_fuse_meta_info* meta,
                   struct fuse_buffer* name) {
  return BPF_FUSE_POSTFILTER;
}

u32 BPF_STRUCT_OPS(lookup_postfilter, const struct bpf_fuse_meta_info* meta,
                   const struct fuse_buffer* name, struct fuse_entry_out* out,
                   struct fuse_buffer* entries) {
  u64 h = 0;
  if (!child_hash(meta->nodeid, name, &h)) return BPF_FUSE_CONTINUE;
  if (meta->error_in == 0 && (out->attr.mode & S_IFMT) == S_IFDIR) {
    u64 node = out->nodeid;
    bpf_map_update_elem(&dirs, &node, &h, BPF_ANY);
    return BPF_FUSE_CONTINUE;
  }
  struct digest* dg = bpf_map_lookup_elem(&paths, &h);
  if (!dg) return BPF_FUSE_CONTINUE;  // not in the image: the tree's own file
  char path[BLOB_PATH_LEN] = "objects/";
  for (int i = 0; i < DIGEST_LEN; i++) {
    if (!is_hex(dg->hex[i])) return -EIO;
    path[i < 2 ? 8 + i : 9 + i] = dg->hex[i];
  }
  path[10] = '/';
  if (fuse_bpf_redirect(entries, path, sizeof(path)) != 0) return -EIO;
  // A blob not known to be in the store: the C++ filter checks and fetches it.
  return bpf_map_lookup_elem(&fetched, dg) ? BPF_FUSE_CONTINUE : BPF_FUSE_USER_POSTFILTER;
}

// The image is read-only: no open for writing or truncation, no attribute change (blobs
// are shared by every file with the same contents, and their names are their digests).
#define O_ACCMODE 3
#define O_TRUNC 01000

u32 BPF_STRUCT_OPS(open_prefilter, const struct bpf_fuse_meta_info* meta, struct fuse_open_in* in) {
  return (in->flags & (O_ACCMODE | O_TRUNC)) ? -EROFS : BPF_FUSE_CONTINUE;
}

u32 BPF_STRUCT_OPS(setattr_prefilter, const struct bpf_fuse_meta_info* meta,
                   struct fuse_setattr_in* in) {
  return -EROFS;
}

SEC(".struct_ops")
struct fuse_ops composefs = {
    .lookup_prefilter = (void*)lookup_prefilter,
    .lookup_postfilter = (void*)lookup_postfilter,
    .open_prefilter = (void*)open_prefilter,
    .setattr_prefilter = (void*)setattr_prefilter,
    .name = "composefs",
};
