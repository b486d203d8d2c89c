// Loads the clang-compiled test programs and checks what the loader made of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "bpf/elf/elf_object.h"
#include "bpf/maps/maps.h"
#include "prog_file.h"

namespace fusebpf::bpf {
namespace {

using test::prog_bytes;
using test::prog_path;

ElfObject load(const std::string& name, const LoadOptions& opts = {}) {
  auto r = load_elf_file(prog_path(name), opts);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error());
  return r ? std::move(r).value() : ElfObject{};
}

constexpr uint8_t kCall = 0x85, kLddw = 0x18, kExit = 0x95;

// pcs of calls with the given src in p.
std::vector<uint32_t> calls(const RawProgram& p, uint8_t src) {
  std::vector<uint32_t> out;
  for (uint32_t pc = 0; pc < p.insns.size(); ++pc)
    if (p.insns[pc].opcode == kCall && p.insns[pc].src == src) out.push_back(pc);
  return out;
}

TEST(ElfLoader, SubprogramsAreAppendedAndCallsFixed) {
  ElfObject obj = load("loops");
  ASSERT_EQ(obj.programs.size(), 2u);
  EXPECT_EQ(obj.license, "GPL");
  const RawProgram* p = obj.program("loops");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->section, "socket");
  EXPECT_EQ(obj.program("sum_squares"), nullptr);  // .text functions are subprograms only
  EXPECT_EQ(obj.program("square"), nullptr);
  // loops -> sum_squares -> square: both appended, each call lands on an appended function.
  auto c = calls(*p, kPseudoCall);
  ASSERT_EQ(c.size(), 2u);
  std::vector<int64_t> targets;
  for (uint32_t pc : c) {
    int64_t target = int64_t{pc} + p->insns[pc].imm + 1;
    ASSERT_GT(target, 0);
    ASSERT_LT(target, static_cast<int64_t>(p->insns.size()));
    targets.push_back(target);
  }
  // The main function comes first (27 instructions), then sum_squares, then square.
  EXPECT_EQ(targets[0], 27);
  EXPECT_LT(c[0], 27u);
  EXPECT_EQ(p->insns[27].opcode, 0xbf);  // sum_squares: r6 = r1
  EXPECT_EQ(p->insns[27].dst, 6);
  EXPECT_EQ(targets[1] + 3, static_cast<int64_t>(p->insns.size()));  // square is last
  EXPECT_EQ(p->insns[targets[1] + 1].opcode, 0x2f);
  EXPECT_EQ(p->insns.back().opcode, kExit);
  const RawProgram* sq = obj.program("just_square");
  ASSERT_NE(sq, nullptr);
  EXPECT_EQ(sq->section, "socket/two");
  auto c2 = calls(*sq, kPseudoCall);
  ASSERT_EQ(c2.size(), 1u);
  // square is 3 instructions: r0 = r1; r0 *= r0; exit.
  int64_t t = int64_t{c2[0]} + sq->insns[c2[0]].imm + 1;
  EXPECT_EQ(sq->insns.size(), static_cast<size_t>(t + 3));
  EXPECT_EQ(sq->insns[t + 1].opcode, 0x2f);  // mul64 reg
}

TEST(ElfLoader, LineInfoFromBtfExt) {
  ElfObject obj = load("loops");
  const RawProgram* p = obj.program("loops");
  ASSERT_NE(p, nullptr);
  ASSERT_FALSE(p->lines.empty());
  EXPECT_TRUE(std::is_sorted(p->lines.begin(), p->lines.end(),
                             [](const LineInfo& a, const LineInfo& b) { return a.pc < b.pc; }));
  EXPECT_NE(p->lines[0].file.find("loops.c"), std::string::npos);
  bool saw_sum = false, saw_subprog_line = false;
  for (const LineInfo& l : p->lines) {
    if (l.text.find("sum_squares(n)") != std::string::npos) saw_sum = true;
    if (l.text.find("total += square(i)") != std::string::npos) saw_subprog_line = true;
  }
  EXPECT_TRUE(saw_sum);
  EXPECT_TRUE(saw_subprog_line);  // lines of appended subprograms are kept, at their new pcs
  const LineInfo* last = p->line_at(static_cast<uint32_t>(p->insns.size() - 1));
  ASSERT_NE(last, nullptr);
  EXPECT_NE(last->text.find("square"), std::string::npos);
}

TEST(ElfLoader, BtfMapsOfEachType) {
  ElfObject obj = load("maps");
  struct Want {
    const char* name;
    MapType type;
    uint32_t key, value, entries, flags;
  } want[] = {{"counts", MapType::kHash, 4, 8, 64, 0},
              {"slots", MapType::kArray, 4, 8, 4, 0},
              {"recent", MapType::kLruHash, 8, 16, 128, 0},
              {"rules", MapType::kLpmTrie, 36, 4, 16, 1}};
  for (const auto& w : want) {
    const MapSpec* m = obj.map(w.name);
    ASSERT_NE(m, nullptr) << w.name;
    EXPECT_EQ(m->type, w.type) << w.name;
    EXPECT_EQ(m->key_size, w.key) << w.name;
    EXPECT_EQ(m->value_size, w.value) << w.name;
    EXPECT_EQ(m->max_entries, w.entries) << w.name;
    EXPECT_EQ(m->flags, w.flags) << w.name;
    EXPECT_TRUE(create_map(*m).has_value()) << w.name;
  }
  const RawProgram* p = obj.program("count");
  ASSERT_NE(p, nullptr);
  std::vector<std::string> referenced;
  for (size_t pc = 0; pc < p->insns.size(); ++pc) {
    const Insn& in = p->insns[pc];
    if (in.opcode != kLddw) continue;
    ASSERT_EQ(in.src, kPseudoMapFd);
    ASSERT_GE(in.imm, 0);
    ASSERT_LT(static_cast<size_t>(in.imm), p->maps.size());
    EXPECT_EQ(p->insns[pc + 1].imm, 0);
    referenced.push_back(p->maps[in.imm].name);
    ++pc;
  }
  std::sort(referenced.begin(), referenced.end());
  referenced.erase(std::unique(referenced.begin(), referenced.end()), referenced.end());
  EXPECT_EQ(referenced, (std::vector<std::string>{"counts", "slots"}));
  EXPECT_EQ(p->maps.size(), 2u);  // only what the program uses
  std::vector<int32_t> helpers;
  for (uint32_t pc : calls(*p, 0)) helpers.push_back(p->insns[pc].imm);
  EXPECT_NE(std::find(helpers.begin(), helpers.end(), 1), helpers.end());
  EXPECT_NE(std::find(helpers.begin(), helpers.end(), 2), helpers.end());
}

TEST(ElfLoader, GlobalDataBecomesArrayMaps) {
  ElfObject obj = load("globals");
  const MapSpec* ro = obj.map(".rodata");
  const MapSpec* data = obj.map(".data");
  const MapSpec* bss = obj.map(".bss");
  ASSERT_NE(ro, nullptr);
  ASSERT_NE(data, nullptr);
  ASSERT_NE(bss, nullptr);
  for (const MapSpec* m : {ro, data, bss}) {
    EXPECT_EQ(m->type, MapType::kArray);
    EXPECT_EQ(m->key_size, 4u);
    EXPECT_EQ(m->max_entries, 1u);
  }
  EXPECT_TRUE(ro->frozen);
  EXPECT_FALSE(data->frozen);
  EXPECT_FALSE(bss->frozen);
  std::string ro_text(reinterpret_cast<const char*>(ro->initial_value.data()),
                      ro->initial_value.size());
  EXPECT_NE(ro_text.find("hello"), std::string::npos);
  EXPECT_NE(ro_text.find("x=%llu calls=%llu"), std::string::npos);
  ASSERT_EQ(data->initial_value.size(), 8u);
  EXPECT_EQ(data->initial_value[0], std::byte{10});
  EXPECT_EQ(bss->value_size, 8u + 16u);  // last_input, hidden[4]
  EXPECT_TRUE(bss->initial_value.empty());

  const RawProgram* p = obj.program("globals");
  ASSERT_NE(p, nullptr);
  std::vector<std::string> sections;
  for (size_t pc = 0; pc < p->insns.size(); ++pc) {
    const Insn& in = p->insns[pc];
    if (in.opcode != kLddw) continue;
    ASSERT_EQ(in.src, kPseudoMapValue);
    const MapSpec& m = p->maps.at(in.imm);
    EXPECT_LT(static_cast<uint32_t>(p->insns[pc + 1].imm), m.value_size) << m.name;
    sections.push_back(m.name);
    ++pc;
  }
  for (const char* s : {".rodata", ".data", ".bss"})
    EXPECT_NE(std::find(sections.begin(), sections.end(), s), sections.end()) << s;
}

TEST(ElfLoader, StructOpsTableKfuncsAndCore) {
  ElfObject obj = load("struct_ops");
  ASSERT_EQ(obj.struct_ops.size(), 2u);
  const StructOps* ops = obj.struct_ops_by_type("fuse_ops");
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(ops->var_name, "test_ops");
  EXPECT_EQ(ops->section, ".struct_ops");
  EXPECT_EQ(ops->program("open_prefilter"), "open_prefilter");
  EXPECT_EQ(ops->program("lookup_prefilter"), "lookup_prefilter");
  EXPECT_EQ(ops->program("default_filter"), "default_filter");
  EXPECT_EQ(ops->string_member("name"), "test_ops");
  ASSERT_NE(ops->member("lookup_prefilter"), nullptr);
  EXPECT_EQ(ops->member("lookup_prefilter")->offset, 16u);
  EXPECT_EQ(ops->member("name")->offset, 24u);
  EXPECT_EQ(ops->data.size(), 40u);
  const StructOps& link = obj.struct_ops[1];
  EXPECT_EQ(link.section, ".struct_ops.link");
  EXPECT_EQ(link.var_name, "link_ops");
  EXPECT_EQ(link.program("default_filter"), "default_filter");
  EXPECT_EQ(link.program("open_prefilter"), "");  // unset members have no program
  EXPECT_EQ(link.string_member("name"), "link_ops");

  const RawProgram* lookup = obj.program("lookup_prefilter");
  ASSERT_NE(lookup, nullptr);
  EXPECT_EQ(lookup->section, "struct_ops/lookup_prefilter");
  ASSERT_EQ(lookup->kfunc_names, std::vector<std::string>{"bpf_fuse_return_len"});
  auto k = calls(*lookup, kPseudoKfuncCall);
  ASSERT_EQ(k.size(), 1u);
  EXPECT_EQ(lookup->insns[k[0]].imm, 0);

  // Without target types the CO-RE access keeps clang's offset (open_flags at 4).
  const RawProgram* open = obj.program("open_prefilter");
  ASSERT_NE(open, nullptr);
  auto ldx_of = [](const RawProgram& p) -> const Insn* {
    for (const Insn& in : p.insns)
      if ((in.opcode & 7) == 1 && in.dst == 0) return &in;  // r0 = *(u32 *)(rX + off)
    return nullptr;
  };
  ASSERT_NE(ldx_of(*open), nullptr);
  EXPECT_EQ(ldx_of(*open)->off, 4);
}

TEST(ElfLoader, CoreRelocationsUseTargetTypes) {
  std::vector<CoreType> host = {
      {"fuse_open_in", 16, {{"open_flags", 8, 4, false, "", 0}, {"flags", 0, 4, false, "", 0}}}};
  ElfObject obj = load("struct_ops", LoadOptions{.core_types = &host});
  const RawProgram* open = obj.program("open_prefilter");
  ASSERT_NE(open, nullptr);
  bool found = false;
  for (const Insn& in : open->insns) {
    if ((in.opcode & 7) == 1 && in.dst == 0) {
      EXPECT_EQ(in.off, 8);
      EXPECT_EQ(in.opcode, 0x61);  // still a 4-byte load
      found = true;
    }
  }
  EXPECT_TRUE(found);

  host[0].fields[0] = {"open_flags", 8, 8, false, "", 0};  // widened in the host: load 8 bytes
  obj = load("struct_ops", LoadOptions{.core_types = &host});
  for (const Insn& in : obj.program("open_prefilter")->insns)
    if ((in.opcode & 7) == 1 && in.dst == 0) {
      EXPECT_EQ(in.opcode, 0x79);
    }

  host[0].fields.erase(host[0].fields.begin());  // no open_flags at all
  auto r = load_elf_file(prog_path("struct_ops"), LoadOptions{.core_types = &host});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("fuse_open_in.open_flags"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("open_prefilter"), std::string::npos) << r.error();

  std::vector<CoreType> none;
  r = load_elf_file(prog_path("struct_ops"), LoadOptions{.core_types = &none});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("type 'fuse_open_in'"), std::string::npos) << r.error();
}

TEST(ElfLoader, CoreTypesFromBtf) {
  auto types = core_types_from_btf(prog_bytes("struct_ops"));
  ASSERT_TRUE(types.has_value()) << types.error();
  const CoreType* open_in = nullptr;
  for (const auto& t : *types)
    if (t.name == "fuse_open_in") open_in = &t;
  ASSERT_NE(open_in, nullptr);
  EXPECT_EQ(open_in->size, 8u);
  ASSERT_EQ(open_in->fields.size(), 2u);
  EXPECT_EQ(open_in->fields[1].name, "open_flags");
  EXPECT_EQ(open_in->fields[1].offset, 4u);
  EXPECT_EQ(open_in->fields[1].size, 4u);
  // Loading against the object's own types changes nothing.
  ElfObject a = load("struct_ops"), b = load("struct_ops", LoadOptions{.core_types = &*types});
  const RawProgram* pa = a.program("open_prefilter");
  const RawProgram* pb = b.program("open_prefilter");
  ASSERT_TRUE(pa && pb);
  ASSERT_EQ(pa->insns.size(), pb->insns.size());
  EXPECT_EQ(std::memcmp(pa->insns.data(), pb->insns.data(), pa->insns.size() * 8), 0);
}

TEST(ElfLoader, LegacyMapsSection) {
  ElfObject obj = load("legacy_maps");
  const MapSpec* m = obj.map("old_style");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->type, MapType::kHash);
  EXPECT_EQ(m->key_size, 4u);
  EXPECT_EQ(m->value_size, 8u);
  EXPECT_EQ(m->max_entries, 32u);
  const RawProgram* p = obj.program("legacy");
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->maps.size(), 1u);
  EXPECT_EQ(p->maps[0].name, "old_style");
}

TEST(ElfLoader, MissingFileNamesThePath) {
  auto r = load_elf_file("/nonexistent/x.o");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("/nonexistent/x.o"), std::string::npos);
}

}  // namespace
}  // namespace fusebpf::bpf
