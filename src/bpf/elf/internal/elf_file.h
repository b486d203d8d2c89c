// A bounds-checked view of a relocatable BPF ELF file, read with libelf. After parse()
// succeeds every section's bytes lie inside the file, every symbol and relocation index is in
// range, and names are valid strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace fusebpf::bpf::elf_internal {

struct Section {
  std::string name;
  uint32_t type = 0;   // SHT_*
  uint64_t flags = 0;  // SHF_*
  uint64_t size = 0;
  uint32_t link = 0;
  uint32_t info = 0;
  std::span<const std::byte> bytes;  // empty for SHT_NOBITS
};

struct Symbol {
  std::string name;
  uint64_t value = 0;
  uint64_t size = 0;
  uint8_t type = 0;      // STT_*
  uint8_t bind = 0;      // STB_*
  uint32_t shndx = 0;    // SHN_UNDEF (0) for externs; 0 also for SHN_ABS etc. (see is_special)
  bool special = false;  // SHN_ABS / SHN_COMMON / other reserved indexes
};

struct Reloc {
  uint64_t offset = 0;  // inside the target section
  uint32_t sym = 0;     // index into symbols (checked)
  uint32_t type = 0;    // R_BPF_*
};

class ElfFile {
 public:
  static Result<ElfFile, std::string> parse(std::span<const std::byte> bytes);

  const std::vector<Section>& sections() const { return sections_; }
  const std::vector<Symbol>& symbols() const { return symbols_; }
  // Relocations that apply to section `index` (from SHT_REL sections whose sh_info names it).
  const std::vector<Reloc>& relocs_for(uint32_t index) const { return relocs_[index]; }
  // Index of the first section with this name, or 0.
  uint32_t find_section(std::string_view name) const;

 private:
  std::vector<Section> sections_;
  std::vector<Symbol> symbols_;
  std::vector<std::vector<Reloc>> relocs_;
};

}  // namespace fusebpf::bpf::elf_internal
