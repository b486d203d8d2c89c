// Malformed and hostile ELF input: every case must end in a clear error, never a crash.
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "bpf/elf/elf_object.h"
#include "prog_file.h"

namespace fusebpf::bpf {
namespace {

using Bytes = std::vector<std::byte>;

template <typename T>
T get(const Bytes& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}
template <typename T>
void put(Bytes& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

// Offset of section header `index`.
size_t shdr_off(const Bytes& b, size_t index) {
  return get<Elf64_Ehdr>(b, 0).e_shoff + index * sizeof(Elf64_Shdr);
}

// Index of the first section whose name is `name`, or whose type is `type` when name is empty.
size_t find_section(const Bytes& b, const char* name, uint32_t type = 0) {
  auto eh = get<Elf64_Ehdr>(b, 0);
  auto strtab = get<Elf64_Shdr>(b, shdr_off(b, eh.e_shstrndx));
  for (size_t i = 1; i < eh.e_shnum; ++i) {
    auto sh = get<Elf64_Shdr>(b, shdr_off(b, i));
    const char* n = reinterpret_cast<const char*>(b.data() + strtab.sh_offset + sh.sh_name);
    if (name != nullptr ? std::strcmp(n, name) == 0 : sh.sh_type == type) return i;
  }
  ADD_FAILURE() << "no section " << (name ? name : "");
  return 0;
}

std::string error_of(const Bytes& b) {
  auto r = load_elf(b);
  return r.has_value() ? std::string("<loaded>") : r.error();
}

class HostileElf : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = test::prog_bytes("struct_ops");
    ASSERT_GT(base_.size(), sizeof(Elf64_Ehdr));
    ASSERT_TRUE(load_elf(base_).has_value());
  }
  Bytes base_;
};

TEST_F(HostileElf, NotElf) {
  EXPECT_NE(error_of({}).find("not an ELF file"), std::string::npos);
  Bytes junk(100, std::byte{0x41});
  EXPECT_NE(error_of(junk).find("not an ELF file"), std::string::npos);
  Bytes x86 = base_;
  put<uint16_t>(x86, offsetof(Elf64_Ehdr, e_machine), EM_X86_64);
  EXPECT_NE(error_of(x86).find("not BPF"), std::string::npos);
  Bytes exec = base_;
  put<uint16_t>(exec, offsetof(Elf64_Ehdr, e_type), ET_EXEC);
  EXPECT_NE(error_of(exec).find("relocatable"), std::string::npos);
}

TEST_F(HostileElf, EveryTruncationFails) {
  for (size_t len = 0; len < base_.size(); len += 3) {
    Bytes cut(base_.begin(), base_.begin() + len);
    auto r = load_elf(cut);
    EXPECT_FALSE(r.has_value()) << "length " << len;
    if (!r) {
      EXPECT_FALSE(r.error().empty());
    }
  }
}

TEST_F(HostileElf, SectionOutsideTheFile) {
  Bytes b = base_;
  size_t i = find_section(b, "struct_ops/open_prefilter");
  put<uint64_t>(b, shdr_off(b, i) + offsetof(Elf64_Shdr, sh_offset), 0xfffffffff0ull);
  std::string e = error_of(b);
  EXPECT_NE(e.find("outside the file"), std::string::npos) << e;
  EXPECT_NE(e.find("struct_ops/open_prefilter"), std::string::npos) << e;

  b = base_;
  put<uint64_t>(b, shdr_off(b, i) + offsetof(Elf64_Shdr, sh_size), ~0ull - 4);
  EXPECT_NE(error_of(b).find("outside the file"), std::string::npos);
}

TEST_F(HostileElf, HugeCounts) {
  Bytes b = base_;
  put<uint16_t>(b, offsetof(Elf64_Ehdr, e_shnum), 0xfff0);
  EXPECT_NE(error_of(b).find("outside the file"), std::string::npos);
  b = base_;
  put<uint64_t>(b, offsetof(Elf64_Ehdr, e_shoff), ~0ull - 100);
  EXPECT_NE(error_of(b).find("outside the file"), std::string::npos);
  // A symbol table claiming to be larger than the file.
  b = base_;
  size_t sym = find_section(b, nullptr, SHT_SYMTAB);
  put<uint64_t>(b, shdr_off(b, sym) + offsetof(Elf64_Shdr, sh_size), 1ull << 40);
  EXPECT_NE(error_of(b).find("outside the file"), std::string::npos);
}

TEST_F(HostileElf, BadRelocations) {
  size_t rel = find_section(base_, ".relstruct_ops/lookup_prefilter");
  size_t rel_off = get<Elf64_Shdr>(base_, shdr_off(base_, rel)).sh_offset;

  Bytes b = base_;  // symbol index out of range
  put<uint64_t>(b, rel_off + offsetof(Elf64_Rel, r_info), ELF64_R_INFO(0xffffff, 10));
  std::string e = error_of(b);
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;

  b = base_;  // not on an instruction boundary
  put<uint64_t>(b, rel_off + offsetof(Elf64_Rel, r_offset), 3);
  EXPECT_NE(error_of(b).find("not on an instruction"), std::string::npos);

  b = base_;  // past the end of the section
  put<uint64_t>(b, rel_off + offsetof(Elf64_Rel, r_offset), 1 << 20);
  EXPECT_NE(error_of(b).find("not on an instruction"), std::string::npos);

  b = base_;  // a relocation section whose target does not exist
  put<uint32_t>(b, shdr_off(b, rel) + offsetof(Elf64_Shdr, sh_info), 5000);
  EXPECT_NE(error_of(b).find("bad target section"), std::string::npos);
}

TEST_F(HostileElf, BadBtfExtIsRejected) {
  Bytes b = base_;
  size_t ext = find_section(b, ".BTF.ext");
  size_t off = get<Elf64_Shdr>(b, shdr_off(b, ext)).sh_offset;
  // Header: magic, version, flags, hdr_len, func_info_off/len, line_info_off/len, ...
  put<uint32_t>(b, off + 20, 0x7ffffff0);  // line_info_len far past the section
  std::string e = error_of(b);
  EXPECT_NE(e.find(".BTF.ext"), std::string::npos) << e;
}

TEST_F(HostileElf, BadBtfIsRejected) {
  Bytes b = base_;
  size_t btf = find_section(b, ".BTF");
  size_t off = get<Elf64_Shdr>(b, shdr_off(b, btf)).sh_offset;
  put<uint32_t>(b, off + 12, 0x7ffffff0);  // type_len
  std::string e = error_of(b);
  EXPECT_NE(e.find(".BTF"), std::string::npos) << e;
}

// Random byte mutations of every test object: the loader may accept or reject each mutant, but
// it must neither crash nor hang (run under ASan in the fuzz build for memory errors).
TEST(HostileElfMutants, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  int rejected = 0, total = 0;
  for (const char* name : {"struct_ops", "maps", "globals", "loops", "legacy_maps"}) {
    Bytes base = test::prog_bytes(name);
    ASSERT_FALSE(base.empty()) << name;
    for (int i = 0; i < 400; ++i) {
      Bytes b = base;
      int flips = 1 + rng() % 8;
      for (int f = 0; f < flips; ++f) b[rng() % b.size()] = static_cast<std::byte>(rng());
      auto r = load_elf(b);
      ++total;
      if (!r) {
        ++rejected;
        EXPECT_FALSE(r.error().empty());
      }
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(total, 2000);
}

}  // namespace
}  // namespace fusebpf::bpf
