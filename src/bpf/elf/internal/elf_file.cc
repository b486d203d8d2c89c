// ElfFile: libelf reads the headers and string tables; we check every range against the file.
#include "bpf/elf/internal/elf_file.h"

#include <fmt/format.h>
#include <gelf.h>
#include <libelf.h>

#include <cstring>
#include <memory>

namespace fusebpf::bpf::elf_internal {
namespace {

struct ElfCloser {
  void operator()(Elf* e) const { elf_end(e); }
};

bool in_file(uint64_t offset, uint64_t size, uint64_t file_size) {
  return offset <= file_size && size <= file_size - offset;
}

std::string elf_error() {
  const char* m = elf_errmsg(-1);
  return m ? m : "unknown libelf error";
}

}  // namespace

uint32_t ElfFile::find_section(std::string_view name) const {
  for (uint32_t i = 1; i < sections_.size(); ++i)
    if (sections_[i].name == name) return i;
  return 0;
}

Result<ElfFile, std::string> ElfFile::parse(std::span<const std::byte> bytes) {
  // Our own header checks first: libelf accepts anything that looks like ELF.
  Elf64_Ehdr eh;
  if (bytes.size() < sizeof eh) return fail(fmt::format("not an ELF file: {} bytes", bytes.size()));
  std::memcpy(&eh, bytes.data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return fail(std::string("not an ELF file"));
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return fail(std::string("not a 64-bit little-endian ELF file"));
  if (eh.e_machine != EM_BPF)
    return fail(fmt::format("ELF machine {} is not BPF ({})", eh.e_machine, EM_BPF));
  if (eh.e_type != ET_REL) return fail(std::string("not a relocatable object (ET_REL)"));
  if (eh.e_shentsize != sizeof(Elf64_Shdr))
    return fail(fmt::format("bad section header size {}", eh.e_shentsize));
  if (!in_file(eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr), bytes.size()))
    return fail(fmt::format("section header table ({} entries at {}) is outside the file",
                            eh.e_shnum, eh.e_shoff));

  if (elf_version(EV_CURRENT) == EV_NONE) return fail("libelf: " + elf_error());
  // elf_memory wants a mutable buffer; it only reads it with ELF_C_READ_MMAP semantics, but
  // we do not rely on that: the caller's bytes stay const and libelf gets a private copy.
  auto copy = std::make_unique<char[]>(bytes.size());
  std::memcpy(copy.get(), bytes.data(), bytes.size());
  std::unique_ptr<Elf, ElfCloser> elf(elf_memory(copy.get(), bytes.size()));
  if (!elf) return fail("libelf: " + elf_error());

  size_t shnum = 0, shstrndx = 0;
  if (elf_getshdrnum(elf.get(), &shnum) != 0 || elf_getshdrstrndx(elf.get(), &shstrndx) != 0)
    return fail("bad section table: " + elf_error());
  if (shnum == 0 || shnum > 65535 || shnum > bytes.size() / sizeof(Elf64_Shdr))
    return fail(fmt::format("bad section count {}", shnum));
  if (shstrndx >= shnum) return fail(fmt::format("bad section name table index {}", shstrndx));

  ElfFile f;
  f.sections_.resize(shnum);
  f.relocs_.resize(shnum);
  for (size_t i = 1; i < shnum; ++i) {
    Elf_Scn* scn = elf_getscn(elf.get(), i);
    GElf_Shdr sh;
    if (scn == nullptr || gelf_getshdr(scn, &sh) == nullptr)
      return fail(fmt::format("section {}: unreadable header: {}", i, elf_error()));
    Section& s = f.sections_[i];
    const char* name = elf_strptr(elf.get(), shstrndx, sh.sh_name);
    if (name == nullptr) return fail(fmt::format("section {}: bad name offset {}", i, sh.sh_name));
    s.name = name;
    s.type = sh.sh_type;
    s.flags = sh.sh_flags;
    s.size = sh.sh_size;
    s.link = sh.sh_link;
    s.info = sh.sh_info;
    if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL) {
      if (!in_file(sh.sh_offset, sh.sh_size, bytes.size()))
        return fail(fmt::format("section {} '{}': bytes {}+{} are outside the file ({} bytes)", i,
                                s.name, sh.sh_offset, sh.sh_size, bytes.size()));
      s.bytes = bytes.subspan(sh.sh_offset, sh.sh_size);
    }
  }

  // Symbols: the one SHT_SYMTAB section.
  for (size_t i = 1; i < shnum; ++i) {
    const Section& s = f.sections_[i];
    if (s.type != SHT_SYMTAB) continue;
    if (!f.symbols_.empty()) return fail(std::string("more than one symbol table"));
    if (s.link == 0 || s.link >= shnum || f.sections_[s.link].type != SHT_STRTAB)
      return fail(fmt::format("symbol table '{}': bad string table link {}", s.name, s.link));
    size_t count = s.size / sizeof(Elf64_Sym);
    f.symbols_.reserve(count);
    for (size_t j = 0; j < count; ++j) {
      Elf64_Sym raw;
      std::memcpy(&raw, s.bytes.data() + j * sizeof raw, sizeof raw);
      Symbol sym;
      const char* name = elf_strptr(elf.get(), s.link, raw.st_name);
      if (name == nullptr)
        return fail(fmt::format("symbol {}: bad name offset {}", j, raw.st_name));
      sym.name = name;
      sym.value = raw.st_value;
      sym.size = raw.st_size;
      sym.type = ELF64_ST_TYPE(raw.st_info);
      sym.bind = ELF64_ST_BIND(raw.st_info);
      if (raw.st_shndx >= SHN_LORESERVE || raw.st_shndx >= shnum) {
        if (raw.st_shndx < SHN_LORESERVE)
          return fail(
              fmt::format("symbol '{}': section index {} out of range", sym.name, raw.st_shndx));
        sym.special = true;
      } else {
        sym.shndx = raw.st_shndx;
      }
      f.symbols_.push_back(std::move(sym));
    }
  }

  // Relocations, grouped by the section they patch.
  for (size_t i = 1; i < shnum; ++i) {
    const Section& s = f.sections_[i];
    if (s.type == SHT_RELA) {
      if (s.info < shnum && (f.sections_[s.info].flags & SHF_EXECINSTR))
        return fail(fmt::format("section '{}': RELA relocations are not used by BPF", s.name));
      continue;
    }
    if (s.type != SHT_REL) continue;
    if (s.info == 0 || s.info >= shnum)
      return fail(fmt::format("relocation section '{}': bad target section {}", s.name, s.info));
    auto& out = f.relocs_[s.info];
    size_t count = s.size / sizeof(Elf64_Rel);
    for (size_t j = 0; j < count; ++j) {
      Elf64_Rel raw;
      std::memcpy(&raw, s.bytes.data() + j * sizeof raw, sizeof raw);
      Reloc r{raw.r_offset, static_cast<uint32_t>(ELF64_R_SYM(raw.r_info)),
              static_cast<uint32_t>(ELF64_R_TYPE(raw.r_info))};
      if (r.sym >= f.symbols_.size())
        return fail(fmt::format("relocation section '{}' entry {}: symbol {} out of range", s.name,
                                j, r.sym));
      out.push_back(r);
    }
  }
  return f;
}

}  // namespace fusebpf::bpf::elf_internal
