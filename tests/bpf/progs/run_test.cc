// Loads the compiled test programs through the runtime facade (loader -> maps -> verifier ->
// engine) and runs them on the interpreter and, when built, the JIT.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <thread>

#include "bpf/helpers/helpers.h"
#include "bpf/maps/maps.h"
#include "bpf/runtime.h"
#include "prog_file.h"

namespace fusebpf::bpf {
namespace {

ContextDescriptor raw_ctx(uint32_t size) {
  return ContextDescriptor{.name = "raw", .size = size, .raw_memory = true};
}

std::vector<Engine> engines() {
  std::vector<Engine> e{Engine::kInterpreter};
  if (jit_available()) e.push_back(Engine::kJit);
  return e;
}

Object open(const std::string& name, const LoadOptions& opts = {}) {
  auto o = Object::open(test::prog_path(name), opts);
  EXPECT_TRUE(o.has_value()) << (o ? "" : o.error());
  return std::move(o).value();
}

std::optional<Executable> load(const Object& obj, std::string_view prog,
                               const ContextDescriptor& ctx, Engine engine,
                               const Platform* platform = nullptr) {
  auto e = obj.load(prog, ctx, engine, platform);
  if (!e) {
    ADD_FAILURE() << e.error();
    return std::nullopt;
  }
  return std::move(e).value();
}

uint64_t run(const Executable& exe, void* ctx, uint64_t size) {
  auto r = exe.run(ctx, size);
  EXPECT_TRUE(r.has_value()) << (r ? "" : run_error_name(r.error()));
  return r.value_or(~0ull);
}

TEST(ProgsRun, LoopsAndSubprograms) {
  Object obj = open("loops");
  for (Engine e : engines()) {
    auto exe = load(obj, "loops", raw_ctx(8), e);
    ASSERT_TRUE(exe);
    uint64_t n = 6;  // 1+4+9+16+25+36 = 91; collatz(6) takes 8 steps
    EXPECT_EQ(run(*exe, &n, 8), 99u) << engine_name(e);
    n = 100;  // sum of squares 338350; collatz(100): 25 steps
    EXPECT_EQ(static_cast<uint32_t>(run(*exe, &n, 8)), 338350u + 25u) << engine_name(e);
    auto sq = load(obj, "just_square", raw_ctx(8), e);
    ASSERT_TRUE(sq);
    n = 12;
    EXPECT_EQ(run(*sq, &n, 8), 145u) << engine_name(e);
  }
}

TEST(ProgsRun, MapsSharedBetweenProgramAndHost) {
  Object obj = open("maps");
  Map* counts = obj.map("counts");
  Map* slots = obj.map("slots");
  ASSERT_TRUE(counts && slots);
  uint32_t key = 7;
  uint64_t preset = 41;
  ASSERT_EQ(counts->update(&key, &preset, kBpfAny), 0);
  for (Engine e : engines()) {
    auto exe = load(obj, "count", raw_ctx(8), e);
    ASSERT_TRUE(exe);
    uint64_t ctx = key;
    uint64_t got = run(*exe, &ctx, 8);
    EXPECT_EQ(got, preset + 1) << engine_name(e);
    preset = got;
    uint32_t slot = key & 3;
    EXPECT_EQ(*static_cast<uint64_t*>(slots->lookup(&slot)), got);
    ctx = 1000;  // a new key starts at 1
    EXPECT_EQ(run(*exe, &ctx, 8), 1u + (e == Engine::kJit ? 1 : 0)) << engine_name(e);
  }
}

TEST(ProgsRun, ConcurrentRunsCountExactly) {
  Object obj = open("maps");
  auto exe = load(obj, "count", raw_ctx(8), Engine::kInterpreter);
  ASSERT_TRUE(exe);
  uint32_t key = 5;
  uint64_t zero = 0;
  ASSERT_EQ(obj.map("counts")->update(&key, &zero, kBpfAny), 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        uint64_t ctx = key;
        (void)exe->run(&ctx, 8);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(*static_cast<uint64_t*>(obj.map("counts")->lookup(&key)), 8000u);  // atomic add
}

TEST(ProgsRun, LpmRules) {
  Object obj = open("maps");
  struct Key {
    uint32_t prefixlen;
    char path[32];
  };
  Key rule{.prefixlen = 8 * 5, .path = "/home"};
  uint32_t value = 77;
  ASSERT_EQ(obj.map("rules")->update(&rule, &value, kBpfAny), 0);
  for (Engine e : engines()) {
    auto exe = load(obj, "match_rule", raw_ctx(sizeof(Key)), e);
    ASSERT_TRUE(exe);
    Key q{.prefixlen = 8 * 32, .path = "/home/user/file"};
    EXPECT_EQ(run(*exe, &q, sizeof q), 77u) << engine_name(e);
    Key miss{.prefixlen = 8 * 32, .path = "/etc/passwd"};
    EXPECT_EQ(run(*exe, &miss, sizeof miss), 0u) << engine_name(e);
  }
  uint64_t stamp = 8 * 32, next[1];
  EXPECT_NE(obj.map("recent")->lookup(&stamp), nullptr);  // written by the program
  EXPECT_EQ(obj.map("recent")->next_key(nullptr, next), 0);
}

TEST(ProgsRun, GlobalDataAndPrintk) {
  Object obj = open("globals");
  std::vector<std::string> lines;
  set_trace_sink([&](std::string_view l) { lines.emplace_back(l); });
  auto exe = load(obj, "globals", raw_ctx(8), Engine::kInterpreter);
  ASSERT_TRUE(exe);
  uint64_t x = 2;
  EXPECT_EQ(run(*exe, &x, 8), 2u * 3 + 11);  // calls: 10 -> 11
  x = 5;                                     // hidden[1] = 5 is written before it is read
  EXPECT_EQ(run(*exe, &x, 8), 5u * 3 + 12 + 5);
  set_trace_sink(nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "x=2 calls=11");
  uint32_t zero = 0;
  auto* data = static_cast<uint64_t*>(obj.map(".data")->lookup(&zero));
  EXPECT_EQ(*data, 12u);  // the host sees the program's global
  auto* bss = static_cast<uint64_t*>(obj.map(".bss")->lookup(&zero));
  EXPECT_EQ(bss[0], 5u);  // last_input
}

// The struct_ops programs with a FUSE-like context: ctx[0] = meta, ctx[1] = argument.
struct FakeBuffer {
  uint32_t size;
};
uint64_t return_len(uint64_t buf, uint64_t, uint64_t, uint64_t, uint64_t) {
  return reinterpret_cast<FakeBuffer*>(buf)->size;
}

TEST(ProgsRun, StructOpsWithKfuncAndCore) {
  // The host's fuse_open_in differs from the program's: open_flags moved to offset 8.
  std::vector<CoreType> host = {
      {"fuse_open_in", 16, {{"flags", 0, 4, false, "", 0}, {"open_flags", 8, 4, false, "", 0}}}};
  Object obj = open("struct_ops", LoadOptions{.core_types = &host});
  Platform platform = Platform::standard();
  HelperPrototype proto{
      .name = "bpf_fuse_return_len", .args = {ArgKind::kCtxObject}, .object_type = "fuse_buffer"};
  platform.add_kfunc(proto, return_len);
  ContextField meta{
      .offset = 0, .size = 8, .kind = FieldKind::kPtrToMem, .pointee_size = 24, .name = "meta"};
  ContextDescriptor open_ctx{.name = "open_prefilter", .size = 16, .fields = {meta}};
  open_ctx.fields.push_back(ContextField{
      .offset = 8, .size = 8, .kind = FieldKind::kPtrToMem, .pointee_size = 16, .name = "in"});
  ContextDescriptor lookup_ctx{.name = "lookup_prefilter", .size = 16, .fields = {meta}};
  lookup_ctx.fields.push_back(ContextField{.offset = 8,
                                           .size = 8,
                                           .kind = FieldKind::kPtrToObject,
                                           .object_type = "fuse_buffer",
                                           .name = "name"});
  const StructOps* ops = obj.elf().struct_ops_by_type("fuse_ops");
  ASSERT_NE(ops, nullptr);
  uint8_t meta_mem[24] = {};
  for (Engine e : engines()) {
    auto open_exe = load(obj, ops->program("open_prefilter"), open_ctx, e, &platform);
    ASSERT_TRUE(open_exe);
    uint32_t in[4] = {1, 0, 41, 0};
    uint64_t ctx[2] = {reinterpret_cast<uintptr_t>(meta_mem), reinterpret_cast<uintptr_t>(in)};
    EXPECT_EQ(run(*open_exe, ctx, sizeof ctx), 42u) << engine_name(e);

    auto lookup = load(obj, ops->program("lookup_prefilter"), lookup_ctx, e, &platform);
    ASSERT_TRUE(lookup);
    FakeBuffer buf{.size = 6};
    uint64_t ctx2[2] = {reinterpret_cast<uintptr_t>(meta_mem), reinterpret_cast<uintptr_t>(&buf)};
    EXPECT_EQ(run(*lookup, ctx2, sizeof ctx2), 106u) << engine_name(e);
  }
  // Without the kfunc the verifier refuses the program and says why.
  auto missing = obj.load("lookup_prefilter", lookup_ctx);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("bpf_fuse_return_len"), std::string::npos) << missing.error();
}

TEST(ProgsRun, DescribeAndDisassemble) {
  Object obj = open("struct_ops");
  std::string d = describe(obj);
  EXPECT_NE(d.find("struct fuse_ops test_ops [.struct_ops]"), std::string::npos) << d;
  EXPECT_NE(d.find(".open_prefilter = open_prefilter"), std::string::npos) << d;
  EXPECT_NE(d.find(".name = \"test_ops\""), std::string::npos) << d;
  EXPECT_NE(d.find("kfuncs: bpf_fuse_return_len"), std::string::npos) << d;
  std::string text = disassemble(*obj.program("open_prefilter"));
  EXPECT_NE(text.find("struct_ops.c:"), std::string::npos) << text;
  EXPECT_NE(text.find("in->open_flags"), std::string::npos) << text;
  EXPECT_NE(text.find("exit"), std::string::npos) << text;

  Object maps = open("maps");
  std::string md = describe(maps);
  EXPECT_NE(md.find("rules: lpm_trie key 36 value 4 max_entries 16 flags 0x1"), std::string::npos)
      << md;
  auto report = verify_all(maps, Object::default_platform(),
                           [](const RawProgram& p) -> const ContextDescriptor* {
                             static const ContextDescriptor ctx = raw_ctx(36);
                             return p.name == "count" ? &ctx : nullptr;
                           });
  EXPECT_FALSE(report.ok);
  EXPECT_NE(report.text.find("count [socket]: ok"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("match_rule [socket]: no context"), std::string::npos) << report.text;
}

}  // namespace
}  // namespace fusebpf::bpf
