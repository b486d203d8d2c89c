// Backing: directory handles -- opendir, readdir and readdirplus (see backing.h).
//
// Offsets are the lower fs's own d_off cookies (getdents64), which lseek() accepts, so a
// resumed readdir continues exactly where the kernel stopped. Each handle keeps its getdents
// buffer and the cookie of its next unread entry: a sequential listing never seeks and costs
// O(entries); only an out-of-order offset triggers an lseek and a buffer refill.
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "backing/backing.h"
#include "backing/internal/impl.h"

namespace fusebpf::backing {
namespace {

constexpr size_t kDirBufSize = 32 * 1024;

struct RawDirent {
  uint64_t ino;
  int64_t off;
  uint16_t reclen;
  uint8_t type;
  const char* name;
};

RawDirent parse(const std::byte* p) {
  RawDirent d;
  std::memcpy(&d.ino, p + offsetof(struct dirent64, d_ino), sizeof d.ino);
  std::memcpy(&d.off, p + offsetof(struct dirent64, d_off), sizeof d.off);
  std::memcpy(&d.reclen, p + offsetof(struct dirent64, d_reclen), sizeof d.reclen);
  std::memcpy(&d.type, p + offsetof(struct dirent64, d_type), sizeof d.type);
  d.name = reinterpret_cast<const char*>(p + offsetof(struct dirent64, d_name));
  return d;
}

// Positions `dir` at cookie `offset` unless it is already there.
Result<void> seek_to(int fd, DirState& dir, uint64_t offset) {
  if (dir.buf && offset == dir.next_offset) return {};
  if (!dir.buf) dir.buf = std::make_unique<std::byte[]>(kDirBufSize);
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) return fail_errno();
  dir.pos = dir.len = 0;
  dir.next_offset = offset;
  return {};
}

// Makes sure dir.buf holds an unread entry; false at the end of the directory.
Result<bool> fill_buffer(int fd, DirState& dir) {
  if (dir.pos < dir.len) return true;
  ssize_t n = ::getdents64(fd, dir.buf.get(), kDirBufSize);
  if (n < 0) return fail_errno();
  dir.pos = 0;
  dir.len = static_cast<size_t>(n);
  return n > 0;
}

}  // namespace

Result<HandleId> Backing::opendir(NodeId node, int flags) {
  FUSEBPF_TRY(path_fd, impl_->nodes->fd(node));
  // openat(".") on the O_PATH fd checks read permission on the directory like opendir(3).
  FUSEBPF_TRY(fd, sys::open_at(path_fd.get(), ".", O_RDONLY | O_DIRECTORY));
  return impl_->add_handle(std::move(fd), node, O_RDONLY | O_DIRECTORY, true);
}

Result<void> Backing::readdir_impl(HandleId handle, uint64_t offset, bool plus, FillFn fn,
                                   void* ctx) {
  FUSEBPF_TRY(f, impl_->file(handle));
  if (!f->dir) return fail(Errno::kNotDir);
  DirState& dir = *f->dir;
  std::lock_guard lock(dir.mu);
  FUSEBPF_TRY_VOID(seek_to(f->fd.get(), dir, offset));
  bool emitted = false;
  for (;;) {
    auto more = fill_buffer(f->fd.get(), dir);
    if (!more) {
      if (emitted) return {};  // report the error on the next call, after what we have
      return fail(more.error());
    }
    if (!*more) return {};
    RawDirent raw = parse(dir.buf.get() + dir.pos);
    DirEntry entry{raw.name, raw.ino, raw.type, static_cast<uint64_t>(raw.off)};
    Entry plus_entry;
    bool dots = entry.name == "." || entry.name == "..";
    if (plus && !dots) {
      // The open directory fd itself is the parent: no node fd needed per entry.
      auto n = Name::make(entry.name);
      auto e = n ? impl_->lookup_child(f->fd.get(), *n) : Result<Entry>(fail(n.error()));
      if (e) plus_entry = *e;  // else node 0: vanished meanwhile, or a mount point
    }
    if (!fn(ctx, entry, &plus_entry)) {
      if (plus_entry.node != 0) impl_->nodes->forget(plus_entry.node, 1);
      return {};
    }
    emitted = true;
    dir.pos += raw.reclen;
    dir.next_offset = entry.offset;
  }
}

}  // namespace fusebpf::backing
