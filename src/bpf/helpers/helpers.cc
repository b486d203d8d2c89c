// Platform::standard(): the kernel helpers and kfuncs every program may call.
// Each function receives the raw u64 argument registers; the verifier has already checked them
// against the prototype registered next to it, so pointers are valid for the sizes given.
#include "bpf/helpers/helpers.h"

#include <time.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "bpf/helpers/internal/trace.h"

namespace fusebpf::bpf {
namespace {

template <typename T>
T* ptr(uint64_t v) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(v));
}
uint64_t ret(int64_t v) { return static_cast<uint64_t>(v); }
uint64_t ret(const void* p) { return reinterpret_cast<uintptr_t>(p); }

uint64_t map_lookup_elem(uint64_t map, uint64_t key, uint64_t, uint64_t, uint64_t) {
  return ret(ptr<Map>(map)->lookup(ptr<const void>(key)));
}
uint64_t map_update_elem(uint64_t map, uint64_t key, uint64_t value, uint64_t flags, uint64_t) {
  return ret(ptr<Map>(map)->update(ptr<const void>(key), ptr<const void>(value), flags));
}
uint64_t map_delete_elem(uint64_t map, uint64_t key, uint64_t, uint64_t, uint64_t) {
  return ret(ptr<Map>(map)->remove(ptr<const void>(key)));
}

uint64_t ktime_get_ns(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

uint64_t get_prandom_u32(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  thread_local std::minstd_rand rng(std::random_device{}());
  return static_cast<uint32_t>(rng()) ^ (static_cast<uint32_t>(rng()) << 16);
}

uint64_t get_current_pid_tgid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  const Invocation* inv = current_invocation();
  return inv ? inv->pid_tgid : ret(-EINVAL);
}
uint64_t get_current_uid_gid(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) {
  const Invocation* inv = current_invocation();
  return inv ? inv->uid_gid : ret(-EINVAL);
}
uint64_t get_current_comm(uint64_t buf, uint64_t size, uint64_t, uint64_t, uint64_t) {
  char* out = ptr<char>(buf);
  if (size == 0) return ret(-EINVAL);
  std::memset(out, 0, size);
  const Invocation* inv = current_invocation();
  if (inv == nullptr) return ret(-EINVAL);
  size_t n = strnlen(inv->comm.data(), inv->comm.size());
  std::memcpy(out, inv->comm.data(), std::min<size_t>(n, size - 1));
  return 0;
}

// fmt must be NUL-terminated within fmt_size, as in the kernel.
int64_t trace(uint64_t fmt, uint64_t fmt_size, std::span<const uint64_t> args) {
  const char* f = ptr<const char>(fmt);
  if (fmt_size == 0 || f[fmt_size - 1] != '\0') return -EINVAL;
  std::string line;
  int rc = format_trace(std::string_view(f, strlen(f)), args, line);
  if (rc < 0) return rc;
  emit_trace_line(line);
  return static_cast<int64_t>(line.size());
}
uint64_t trace_printk(uint64_t fmt, uint64_t fmt_size, uint64_t a1, uint64_t a2, uint64_t a3) {
  const uint64_t args[3] = {a1, a2, a3};
  return ret(trace(fmt, fmt_size, args));
}
uint64_t trace_vprintk(uint64_t fmt, uint64_t fmt_size, uint64_t data, uint64_t data_len,
                       uint64_t) {
  if (data_len % 8 != 0 || data_len > 12 * 8 || (data == 0 && data_len != 0)) return ret(-EINVAL);
  return ret(trace(fmt, fmt_size, std::span(ptr<const uint64_t>(data), data_len / 8)));
}

uint64_t strncmp_helper(uint64_t s1, uint64_t s1_size, uint64_t s2, uint64_t, uint64_t) {
  return ret(std::strncmp(ptr<const char>(s1), ptr<const char>(s2), s1_size));
}

uint64_t dynptr_read(uint64_t dst, uint64_t len, uint64_t src, uint64_t off, uint64_t flags) {
  const auto* d = ptr<const Dynptr>(src);
  std::byte* from = flags == 0 ? dynptr_range(d, off, len, false) : nullptr;
  if (from == nullptr) {
    std::memset(ptr<void>(dst), 0, len);  // the verifier treats dst as initialised afterwards
    if (flags != 0 || !(d->flags & kDynptrValid)) return ret(-EINVAL);
    return ret(-E2BIG);
  }
  std::memmove(ptr<void>(dst), from, len);
  return 0;
}
uint64_t dynptr_write(uint64_t dst, uint64_t off, uint64_t src, uint64_t len, uint64_t flags) {
  const auto* d = ptr<const Dynptr>(dst);
  if (flags != 0 || !(d->flags & kDynptrValid) || (d->flags & kDynptrReadOnly)) return ret(-EINVAL);
  std::byte* to = dynptr_range(d, off, len, true);
  if (to == nullptr) return ret(-E2BIG);
  std::memmove(to, ptr<const void>(src), len);
  return 0;
}
uint64_t dynptr_data(uint64_t d, uint64_t off, uint64_t len, uint64_t, uint64_t) {
  return ret(dynptr_range(ptr<const Dynptr>(d), off, len, true));
}
// bpf_dynptr_slice(ptr, offset, buffer__opt, buffer__szk): our dynptrs are always contiguous,
// so the slice is a direct pointer and the optional buffer is never used.
uint64_t dynptr_slice(uint64_t d, uint64_t off, uint64_t, uint64_t len, uint64_t) {
  return ret(dynptr_range(ptr<const Dynptr>(d), off, len, false));
}
uint64_t dynptr_slice_rdwr(uint64_t d, uint64_t off, uint64_t, uint64_t len, uint64_t) {
  return ret(dynptr_range(ptr<const Dynptr>(d), off, len, true));
}

HelperPrototype proto(std::string name, std::array<ArgKind, 5> args, RetKind r = RetKind::kScalar) {
  return HelperPrototype{.name = std::move(name), .args = args, .ret = r};
}

}  // namespace

void init_dynptr(Dynptr* d, void* data, uint32_t size, bool read_only) {
  d->data = data;
  d->size = size;
  d->flags = kDynptrValid | (read_only ? kDynptrReadOnly : 0);
}

void invalidate_dynptr(Dynptr* d) { *d = Dynptr{nullptr, 0, 0}; }

std::byte* dynptr_range(const Dynptr* d, uint64_t off, uint64_t len, bool writable) {
  if (!(d->flags & kDynptrValid) || d->data == nullptr) return nullptr;
  if (writable && (d->flags & kDynptrReadOnly)) return nullptr;
  if (off > d->size || len > d->size - off) return nullptr;
  return static_cast<std::byte*>(d->data) + off;
}

Platform Platform::standard() {
  using A = ArgKind;
  Platform p;
  p.add_helper(
      kHelperMapLookupElem,
      proto("bpf_map_lookup_elem", {A::kConstMapPtr, A::kMapKey}, RetKind::kMapValueOrNull),
      map_lookup_elem);
  p.add_helper(
      kHelperMapUpdateElem,
      proto("bpf_map_update_elem", {A::kConstMapPtr, A::kMapKey, A::kMapValue, A::kScalar}),
      map_update_elem);
  p.add_helper(kHelperMapDeleteElem, proto("bpf_map_delete_elem", {A::kConstMapPtr, A::kMapKey}),
               map_delete_elem);
  p.add_helper(kHelperKtimeGetNs, proto("bpf_ktime_get_ns", {}), ktime_get_ns);
  // Like the kernel, only fmt and its size are checked; r3-r5 are passed as they are (a
  // bpf_printk with fewer arguments leaves them unset).
  p.add_helper(kHelperTracePrintk, proto("bpf_trace_printk", {A::kReadableMem, A::kMemSize}),
               trace_printk);
  p.add_helper(kHelperGetPrandomU32, proto("bpf_get_prandom_u32", {}), get_prandom_u32);
  p.add_helper(kHelperGetCurrentPidTgid, proto("bpf_get_current_pid_tgid", {}),
               get_current_pid_tgid);
  p.add_helper(kHelperGetCurrentUidGid, proto("bpf_get_current_uid_gid", {}), get_current_uid_gid);
  p.add_helper(kHelperGetCurrentComm, proto("bpf_get_current_comm", {A::kWritableMem, A::kMemSize}),
               get_current_comm);
  p.add_helper(
      kHelperTraceVprintk,
      proto("bpf_trace_vprintk", {A::kReadableMem, A::kMemSize, A::kReadableMem, A::kMemSize}),
      trace_vprintk);
  p.add_helper(kHelperStrncmp, proto("bpf_strncmp", {A::kReadableMem, A::kMemSize, A::kConstStr}),
               strncmp_helper);
  p.add_helper(
      kHelperDynptrRead,
      proto("bpf_dynptr_read", {A::kWritableMem, A::kMemSize, A::kDynptr, A::kScalar, A::kScalar}),
      dynptr_read);
  p.add_helper(
      kHelperDynptrWrite,
      proto("bpf_dynptr_write", {A::kDynptr, A::kScalar, A::kReadableMem, A::kMemSize, A::kScalar}),
      dynptr_write);
  HelperPrototype data =
      proto("bpf_dynptr_data", {A::kDynptr, A::kScalar, A::kScalar}, RetKind::kMemOrNull);
  data.ret_size_arg = 2;
  data.ret_writable = true;
  p.add_helper(kHelperDynptrData, std::move(data), dynptr_data);

  HelperPrototype slice =
      proto("bpf_dynptr_slice", {A::kDynptr, A::kScalar, A::kOptionalWritableMem, A::kMemSize},
            RetKind::kMemOrNull);
  slice.ret_size_arg = 3;
  p.add_kfunc(slice, dynptr_slice);
  slice.name = "bpf_dynptr_slice_rdwr";
  slice.ret_writable = true;
  p.add_kfunc(std::move(slice), dynptr_slice_rdwr);
  return p;
}

}  // namespace fusebpf::bpf
