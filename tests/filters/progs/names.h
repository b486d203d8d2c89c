/* Name tests shared by the coverage programs (codes, buffers, assoc). */
#ifndef FUSEBPF_TESTS_FILTERS_NAMES_H
#define FUSEBPF_TESTS_FILTERS_NAMES_H

#include "fuse_bpf.h"

#define EBADE 52 /* the coverage programs' "contents were not kept" */

/* Whether the buffer's first n bytes are the literal p (n a constant; names count their NUL,
 * so n = sizeof("name") compares the whole name). */
static __always_inline bool bytes_are(const struct fuse_buffer* b, const char* p, u32 n) {
  struct bpf_dynptr d;
  const char* s;
  bpf_fuse_get_ro_dynptr(b, &d);
  s = bpf_dynptr_slice(&d, 0, NULL, n);
  return s && bpf_strncmp(s, n, p) == 0;
}
#define NAME_IS(b, lit) \
  (bpf_fuse_return_len((struct fuse_buffer*)(b)) == sizeof(lit) && bytes_are((b), lit, sizeof(lit)))
#define PREFIX_IS(b, lit) bytes_are((b), lit, sizeof(lit) - 1)

/* Whether bpf_fuse_get_rw_dynptr hands out writable bytes for b at its current size. */
static __always_inline bool writable(const struct fuse_buffer* b) {
  struct bpf_dynptr d;
  struct fuse_buffer* w = (struct fuse_buffer*)b;
  bpf_fuse_get_rw_dynptr(w, &d, bpf_fuse_return_len(w), true);
  return bpf_dynptr_slice_rdwr(&d, 0, NULL, 1) != NULL;
}

#endif
