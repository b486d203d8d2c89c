// Internal pieces of the loader that read BTF (through libbpf's btf__* API) and .BTF.ext.
#pragma once

#include <bpf/btf.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/elf/elf_object.h"
#include "bpf/elf/internal/elf_file.h"

namespace fusebpf::bpf::elf_internal {

struct BtfDeleter {
  void operator()(struct btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<struct btf, BtfDeleter>;

// btf__new on a copy of bytes, with a readable error.
Result<BtfPtr, std::string> open_btf(std::span<const std::byte> bytes);

// Follows typedef/const/volatile/restrict/type_tag; nullptr on a bad id or a cycle.
const struct btf_type* skip_mods(const struct btf* btf, uint32_t id, uint32_t* out_id = nullptr);
// Name of a type or member, "" when absent or invalid.
std::string btf_name(const struct btf* btf, uint32_t name_off);

// .BTF.ext records, grouped by section name. insn_off is a byte offset in that section.
struct LineRec {
  uint32_t insn_off, file_name_off, line_off, line_col;
};
struct CoreRec {
  uint32_t insn_off, type_id, access_str_off, kind;
};
struct BtfExt {
  std::map<std::string, std::vector<LineRec>, std::less<>> lines;
  std::map<std::string, std::vector<CoreRec>, std::less<>> core;
};
// Validates with libbpf's btf_ext__new, then walks the line_info and core_relo records
// (libbpf 1.1 has no public accessor for them) with our own bounds checks.
Result<BtfExt, std::string> parse_btf_ext(std::span<const std::byte> bytes, const struct btf* btf);

// BTF-defined maps of the `.maps` section; each with the offset of its symbol.
struct PlacedMap {
  MapSpec spec;
  uint64_t offset;
};
Result<std::vector<PlacedMap>, std::string> parse_btf_maps(const ElfFile& elf, uint32_t sec,
                                                           const struct btf* btf);

// struct_ops variables of section `sec`. program_at(section, byte offset) names the program
// whose first instruction is there ("" if none).
using ProgramAt = std::function<std::string(uint32_t section, uint64_t offset)>;
Result<std::vector<StructOps>, std::string> parse_struct_ops(const ElfFile& elf, uint32_t sec,
                                                             const struct btf* btf,
                                                             const ProgramAt& program_at);

// Applies one CO-RE relocation to insns[0] (and insns[1] for lddw). `where` names the
// program and pc for messages.
Result<void, std::string> apply_core(std::span<Insn> insns, const struct btf* local,
                                     const CoreRec& rec, const std::vector<CoreType>& target,
                                     const std::string& where);

}  // namespace fusebpf::bpf::elf_internal
