// ELF loader: turns a clang-compiled BPF object (`clang -O2 -g -target bpf -c x.c`) into
// relocated RawPrograms, map specs and struct_ops tables. Every input is treated as hostile:
// all offsets, sizes and indexes are bounds-checked and any problem becomes an error string that
// names the section, symbol or pc involved.
//
//   FUSEBPF_TRY(obj, load_elf_file("filter.o"));
//   for (const RawProgram& p : obj.programs) ...          // one per function outside .text
//   const StructOps* ops = obj.struct_ops_by_type("fuse_ops");
//
// What the loader does to the instructions:
//   - map references (`&my_map`)           -> lddw src=kPseudoMapFd, imm = index in prog.maps
//   - global data (.rodata/.data/.bss)     -> lddw src=kPseudoMapValue, imm = map, imm2 = offset
//   - calls to noinline functions          -> the callee is appended after the program,
//                                             call src=kPseudoCall with a pc-relative imm
//   - calls to `extern ... __ksym` kfuncs  -> call src=kPseudoKfuncCall, imm = kfunc_names index
//   - CO-RE field relocations              -> patched against LoadOptions::core_types (if given)
//   - helper calls keep their kernel id; BTF line info becomes RawProgram::lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bpf/program.h"

namespace fusebpf::bpf {

// One member of a struct_ops variable: either a program pointer or raw data bytes.
struct StructOpsMember {
  std::string name;
  uint32_t offset = 0;          // byte offset inside the variable
  std::string program;          // function name of the program the pointer refers to
  std::vector<std::byte> data;  // non-pointer members: their bytes as initialised in the ELF
};

// A `SEC(".struct_ops") struct fuse_ops x = {...}` variable.
struct StructOps {
  std::string type_name;                 // "fuse_ops"
  std::string var_name;                  // "x"
  std::string section;                   // ".struct_ops" or ".struct_ops.link"
  std::vector<std::byte> data;           // the whole variable as initialised
  std::vector<StructOpsMember> members;  // every member that is set: programs and data

  const StructOpsMember* member(std::string_view name) const;
  // The program bound to `member`, or "" when it is unset.
  std::string_view program(std::string_view member) const;
  // A char-array member (e.g. `name`) up to its first NUL.
  std::string string_member(std::string_view member) const;
};

// Target type description for CO-RE relocations: what the host says a struct looks like.
// Nested structs and arrays are described by `type` / `elem_size`; anonymous members are
// flattened into their parent (offsets are then from the start of the parent).
struct CoreField {
  std::string name;
  uint32_t offset = 0;  // bytes from the start of the struct
  uint32_t size = 0;    // bytes
  bool is_signed = false;
  std::string type;        // struct/union name when the member is one (for nested access)
  uint32_t elem_size = 0;  // array members: element size
};
struct CoreType {
  std::string name;  // without any ___flavor suffix
  uint32_t size = 0;
  std::vector<CoreField> fields;
};

struct LoadOptions {
  // Types CO-RE relocations resolve against. Null: relocations keep the values clang computed
  // from the program's own BTF (the object is assumed to match the host).
  const std::vector<CoreType>* core_types = nullptr;
};

struct ElfObject {
  std::vector<RawProgram> programs;  // every function in an executable section except .text
  std::vector<MapSpec> maps;         // .maps, legacy `maps`, then global data sections
  std::vector<StructOps> struct_ops;
  std::string license;

  const RawProgram* program(std::string_view name) const;
  const MapSpec* map(std::string_view name) const;
  const StructOps* struct_ops_by_type(std::string_view type_name) const;
};

Result<ElfObject, std::string> load_elf(std::span<const std::byte> bytes,
                                        const LoadOptions& options = {});
Result<ElfObject, std::string> load_elf_file(const std::string& path,
                                             const LoadOptions& options = {});

// CoreTypes for every named struct/union of a BTF blob: either raw BTF (as in
// /sys/kernel/btf/vmlinux) or an ELF object with a .BTF section.
Result<std::vector<CoreType>, std::string> core_types_from_btf(std::span<const std::byte> bytes);

}  // namespace fusebpf::bpf
