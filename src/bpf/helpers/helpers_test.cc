#include "bpf/helpers/helpers.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "bpf/maps/maps.h"

namespace fusebpf::bpf {
namespace {

uint64_t u(const void* p) { return reinterpret_cast<uintptr_t>(p); }

uint64_t call(const Platform& p, int32_t id, uint64_t a = 0, uint64_t b = 0, uint64_t c = 0,
              uint64_t d = 0, uint64_t e = 0) {
  const Helper* h = p.helper(id);
  EXPECT_NE(h, nullptr) << id;
  return h->fn(a, b, c, d, e);
}

TEST(Platform, RegistersKernelIdsNamesAndKinds) {
  Platform p = Platform::standard();
  struct Want {
    int32_t id;
    const char* name;
  } want[] = {{1, "bpf_map_lookup_elem"},
              {2, "bpf_map_update_elem"},
              {3, "bpf_map_delete_elem"},
              {5, "bpf_ktime_get_ns"},
              {6, "bpf_trace_printk"},
              {7, "bpf_get_prandom_u32"},
              {14, "bpf_get_current_pid_tgid"},
              {15, "bpf_get_current_uid_gid"},
              {16, "bpf_get_current_comm"},
              {177, "bpf_trace_vprintk"},
              {182, "bpf_strncmp"},
              {201, "bpf_dynptr_read"},
              {202, "bpf_dynptr_write"},
              {203, "bpf_dynptr_data"}};
  for (const auto& w : want) {
    const Helper* h = p.helper(w.id);
    ASSERT_NE(h, nullptr) << w.name;
    EXPECT_EQ(h->proto.name, w.name);
    EXPECT_NE(h->fn, nullptr);
  }
  EXPECT_EQ(p.helper(4), nullptr);
  EXPECT_EQ(p.helper(1)->proto.args[0], ArgKind::kConstMapPtr);
  EXPECT_EQ(p.helper(1)->proto.ret, RetKind::kMapValueOrNull);
  EXPECT_EQ(p.helper(6)->proto.args[2], ArgKind::kNone);
  EXPECT_EQ(p.helper(182)->proto.args[2], ArgKind::kConstStr);
  EXPECT_EQ(p.helper(203)->proto.ret_size_arg, 2);
  const Helper* slice = p.kfunc("bpf_dynptr_slice");
  ASSERT_NE(slice, nullptr);
  EXPECT_EQ(slice->proto.args[2], ArgKind::kOptionalWritableMem);
  EXPECT_FALSE(slice->proto.ret_writable);
  ASSERT_NE(p.kfunc("bpf_dynptr_slice_rdwr"), nullptr);
  EXPECT_TRUE(p.kfunc("bpf_dynptr_slice_rdwr")->proto.ret_writable);
}

TEST(Helpers, MapHelpersUseTheMapPointer) {
  Platform p = Platform::standard();
  auto m = std::move(create_map(MapSpec{.name = "h",
                                        .type = MapType::kHash,
                                        .key_size = 4,
                                        .value_size = 8,
                                        .max_entries = 1}))
               .value();
  uint32_t k = 3, k2 = 4;
  uint64_t v = 99;
  EXPECT_EQ(call(p, 1, u(m.get()), u(&k)), 0u);
  EXPECT_EQ(call(p, 2, u(m.get()), u(&k), u(&v), kBpfAny), 0u);
  EXPECT_EQ(*reinterpret_cast<uint64_t*>(call(p, 1, u(m.get()), u(&k))), 99u);
  EXPECT_EQ(static_cast<int64_t>(call(p, 2, u(m.get()), u(&k2), u(&v), kBpfAny)), -E2BIG);
  EXPECT_EQ(call(p, 3, u(m.get()), u(&k)), 0u);
  EXPECT_EQ(static_cast<int64_t>(call(p, 3, u(m.get()), u(&k))), -ENOENT);
}

TEST(Helpers, InvocationValues) {
  Platform p = Platform::standard();
  EXPECT_EQ(static_cast<int64_t>(call(p, 14)), -EINVAL);  // no program running
  Invocation inv{.pid_tgid = (7ull << 32) | 8, .uid_gid = (1000ull << 32) | 1001};
  std::strcpy(inv.comm.data(), "catfood");
  InvocationScope scope(&inv);
  EXPECT_EQ(call(p, 14), (7ull << 32) | 8);
  EXPECT_EQ(call(p, 15), (1000ull << 32) | 1001);
  char comm[5];
  EXPECT_EQ(call(p, 16, u(comm), sizeof comm), 0u);
  EXPECT_STREQ(comm, "catf");
  uint64_t t1 = call(p, 5), t2 = call(p, 5);
  EXPECT_GT(t1, 0u);
  EXPECT_GE(t2, t1);
  bool differ = false;
  uint64_t r0 = call(p, 7);
  for (int i = 0; i < 8 && !differ; ++i) differ = call(p, 7) != r0;
  EXPECT_TRUE(differ);
  EXPECT_LE(r0, 0xffffffffull);
}

TEST(Trace, FormatsLikeTheKernel) {
  std::string out;
  const char* s = "str";
  uint64_t args[] = {static_cast<uint64_t>(-5), 0xffffffff00000010ull, u(s), 'x', 255};
  ASSERT_EQ(format_trace("a=%d b=%x c=%s d=%c e=%05lu %%", args, out), 0);
  EXPECT_EQ(out, "a=-5 b=10 c=str d=x e=00255 %");
  uint64_t big[] = {static_cast<uint64_t>(-1)};
  ASSERT_EQ(format_trace("%lld %llu", {big, 1}, out), -EINVAL);  // two specs, one argument
  ASSERT_EQ(format_trace("%lld", big, out), 0);
  EXPECT_EQ(out, "-1");
  EXPECT_EQ(format_trace("%n", big, out), -EINVAL);
  EXPECT_EQ(format_trace("%pI4", big, out), -EINVAL);
  EXPECT_EQ(format_trace("%99999d", big, out), -EINVAL);
  EXPECT_EQ(format_trace("trailing %", big, out), -EINVAL);
}

TEST(Trace, BadStringPointerDoesNotCrash) {
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  uint64_t args[] = {u(page), 16};
  std::string out;
  ASSERT_EQ(format_trace("%s|%s", args, out), 0);
  EXPECT_EQ(out, "(fault)|(fault)");
  munmap(page, 4096);
}

TEST(Trace, PrintkGoesToSinkAndIsRateLimited) {
  Platform p = Platform::standard();
  std::vector<std::string> lines;
  set_trace_sink([&](std::string_view l) { lines.emplace_back(l); });
  static const char fmt[] = "pid %d\n";
  int64_t n = static_cast<int64_t>(call(p, 6, u(fmt), sizeof fmt, 42));
  EXPECT_EQ(n, 7);  // the formatted length, newline included
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "pid 42");
  static const char unterminated[] = {'a', 'b'};
  EXPECT_EQ(static_cast<int64_t>(call(p, 6, u(unterminated), 2)), -EINVAL);
  uint64_t data[4] = {1, 2, 3, 4};
  static const char vfmt[] = "%d %d %d %d";
  EXPECT_EQ(call(p, 177, u(vfmt), sizeof vfmt, u(data), sizeof data), 7u);
  EXPECT_EQ(lines.back(), "1 2 3 4");
  EXPECT_EQ(static_cast<int64_t>(call(p, 177, u(vfmt), sizeof vfmt, u(data), 7)), -EINVAL);
  uint64_t before = trace_lines_dropped();
  for (uint32_t i = 0; i < 2 * kTraceLinesPerSecond; ++i) call(p, 6, u(fmt), sizeof fmt, i);
  EXPECT_LT(lines.size(), 2 * kTraceLinesPerSecond + 2);
  EXPECT_GT(trace_lines_dropped(), before);
  set_trace_sink(nullptr);
}

TEST(Helpers, Strncmp) {
  Platform p = Platform::standard();
  const char a[] = "hello", b[] = "help";
  EXPECT_LT(static_cast<int64_t>(call(p, 182, u(a), 4, u(b))), 0);
  EXPECT_EQ(call(p, 182, u(a), 3, u(b)), 0u);
}

TEST(Dynptr, ReadWriteDataSlice) {
  Platform p = Platform::standard();
  char buf[8] = "abcdefg";
  Dynptr rw, ro, bad;
  init_dynptr(&rw, buf, 8, false);
  init_dynptr(&ro, buf, 8, true);
  invalidate_dynptr(&bad);
  char out[4] = {1, 1, 1, 1};
  EXPECT_EQ(call(p, 201, u(out), 3, u(&ro), 2, 0), 0u);
  EXPECT_EQ(std::string(out, 3), "cde");
  EXPECT_EQ(static_cast<int64_t>(call(p, 201, u(out), 4, u(&ro), 6, 0)), -E2BIG);
  EXPECT_EQ(out[0], 0);  // zeroed on failure
  EXPECT_EQ(static_cast<int64_t>(call(p, 201, u(out), 1, u(&bad), 0, 0)), -EINVAL);
  EXPECT_EQ(static_cast<int64_t>(call(p, 201, u(out), 1, u(&ro), 0, 1)), -EINVAL);
  EXPECT_EQ(static_cast<int64_t>(call(p, 201, u(out), 1, u(&ro), ~0ull, 0)), -E2BIG);
  EXPECT_EQ(call(p, 202, u(&rw), 0, u("XY"), 2, 0), 0u);
  EXPECT_EQ(std::string(buf, 3), "XYc");
  EXPECT_EQ(static_cast<int64_t>(call(p, 202, u(&ro), 0, u("Z"), 1, 0)), -EINVAL);
  EXPECT_EQ(static_cast<int64_t>(call(p, 202, u(&rw), 7, u("ZZ"), 2, 0)), -E2BIG);
  EXPECT_EQ(call(p, 203, u(&rw), 1, 2), u(buf + 1));
  EXPECT_EQ(call(p, 203, u(&ro), 1, 2), 0u);  // read-only: no writable pointer
  EXPECT_EQ(call(p, 203, u(&rw), 7, 2), 0u);
  const Helper* slice = p.kfunc("bpf_dynptr_slice");
  const Helper* slice_rw = p.kfunc("bpf_dynptr_slice_rdwr");
  EXPECT_EQ(slice->fn(u(&ro), 4, 0, 4, 0), u(buf + 4));
  EXPECT_EQ(slice->fn(u(&ro), 5, 0, 4, 0), 0u);
  EXPECT_EQ(slice_rw->fn(u(&ro), 0, 0, 1, 0), 0u);
  EXPECT_EQ(slice_rw->fn(u(&rw), 0, 0, 8, 0), u(buf));
}

}  // namespace
}  // namespace fusebpf::bpf
