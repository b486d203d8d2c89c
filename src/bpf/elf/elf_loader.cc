// load_elf: sections -> functions, maps, struct_ops; then one relocated, linked RawProgram per
// program function. See elf_object.h for what happens to each kind of instruction.
#include <bpf/libbpf.h>
#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <unordered_map>

#include "base/sys.h"
#include "bpf/elf/elf_object.h"
#include "bpf/elf/internal/btf_parts.h"
#include "bpf/elf/internal/elf_file.h"

namespace fusebpf::bpf {
using namespace elf_internal;

const StructOpsMember* StructOps::member(std::string_view name) const {
  for (const auto& m : members)
    if (m.name == name) return &m;
  return nullptr;
}
std::string_view StructOps::program(std::string_view name) const {
  const StructOpsMember* m = member(name);
  return m ? std::string_view(m->program) : std::string_view();
}
std::string StructOps::string_member(std::string_view name) const {
  const StructOpsMember* m = member(name);
  if (m == nullptr) return {};
  std::string s(reinterpret_cast<const char*>(m->data.data()), m->data.size());
  return s.substr(0, s.find('\0'));
}
const RawProgram* ElfObject::program(std::string_view name) const {
  for (const auto& p : programs)
    if (p.name == name) return &p;
  return nullptr;
}
const MapSpec* ElfObject::map(std::string_view name) const {
  for (const auto& m : maps)
    if (m.name == name) return &m;
  return nullptr;
}
const StructOps* ElfObject::struct_ops_by_type(std::string_view type_name) const {
  for (const auto& s : struct_ops)
    if (s.type_name == type_name) return &s;
  return nullptr;
}

namespace {

constexpr uint8_t kLddw = 0x18;
constexpr uint8_t kCall = 0x85;
constexpr size_t kMaxProgramInsns = 1u << 20;

struct Func {
  std::string name;
  uint32_t sec;
  uint64_t start;  // bytes
  uint64_t size;   // bytes
  bool is_program;
};

bool is_data_section(const Section& s) {
  auto starts = [&](std::string_view p) {
    return s.name == p ||
           (s.name.size() > p.size() && s.name.starts_with(p) && s.name[p.size()] == '.');
  };
  return (s.flags & SHF_ALLOC) && !(s.flags & SHF_EXECINSTR) &&
         (starts(".rodata") || starts(".data") || starts(".bss"));
}

class Loader {
 public:
  Loader(const ElfFile& elf, const LoadOptions& opts) : elf_(elf), opts_(opts) {}

  Result<ElfObject, std::string> run() {
    if (uint32_t s = elf_.find_section(".BTF")) {
      FUSEBPF_TRY(b, open_btf(elf_.sections()[s].bytes));
      btf_ = std::move(b);
      if (uint32_t e = elf_.find_section(".BTF.ext")) {
        FUSEBPF_TRY(x, parse_btf_ext(elf_.sections()[e].bytes, btf_.get()));
        ext_ = std::move(x);
      }
    }
    FUSEBPF_TRY_VOID(collect_functions());
    FUSEBPF_TRY_VOID(collect_maps());
    for (size_t i = 0; i < funcs_.size(); ++i) {
      if (!funcs_[i].is_program) continue;
      if (obj_.program(funcs_[i].name) != nullptr)
        return fail(fmt::format("two programs are named '{}'", funcs_[i].name));
      FUSEBPF_TRY(p, link_program(i));
      obj_.programs.push_back(std::move(p));
    }
    for (uint32_t i = 1; i < elf_.sections().size(); ++i) {
      const Section& s = elf_.sections()[i];
      if (s.name == "license") {
        std::string l(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size());
        obj_.license = l.substr(0, l.find('\0'));
      }
      if (s.name != ".struct_ops" && s.name != ".struct_ops.link") continue;
      FUSEBPF_TRY(ops, parse_struct_ops(elf_, i, btf_.get(),
                                        [&](uint32_t sec, uint64_t off) -> std::string {
                                          for (const Func& f : funcs_)
                                            if (f.sec == sec && f.start == off && f.is_program)
                                              return f.name;
                                          return {};
                                        }));
      for (auto& o : ops) obj_.struct_ops.push_back(std::move(o));
    }
    return std::move(obj_);
  }

 private:
  const Section& sec(uint32_t i) const { return elf_.sections()[i]; }

  Result<void, std::string> collect_functions() {
    for (uint32_t i = 1; i < elf_.sections().size(); ++i) {
      const Section& s = sec(i);
      if (s.type != SHT_PROGBITS || !(s.flags & SHF_EXECINSTR)) continue;
      if (s.size % 8 != 0)
        return fail(fmt::format("section '{}': size {} is not a multiple of 8", s.name, s.size));
      for (const Reloc& r : elf_.relocs_for(i)) {
        if (r.offset % 8 != 0 || r.offset >= s.size)
          return fail(fmt::format("section '{}': relocation at offset {} is not on an instruction",
                                  s.name, r.offset));
        relocs_[{i, r.offset}] = &r;
      }
      std::vector<const Symbol*> syms;
      for (const Symbol& sym : elf_.symbols())
        if (sym.shndx == i && !sym.special && sym.type == STT_FUNC) syms.push_back(&sym);
      std::sort(syms.begin(), syms.end(),
                [](const Symbol* a, const Symbol* b) { return a->value < b->value; });
      bool is_program = s.name != ".text";
      if (syms.empty() && is_program && s.size > 0) {
        funcs_.push_back({s.name, i, 0, s.size, true});
        continue;
      }
      uint64_t prev_end = 0;
      for (size_t j = 0; j < syms.size(); ++j) {
        const Symbol& sym = *syms[j];
        uint64_t size = sym.size;
        if (size == 0) size = (j + 1 < syms.size() ? syms[j + 1]->value : s.size) - sym.value;
        if (sym.value % 8 != 0 || size % 8 != 0 || size == 0 || sym.value < prev_end ||
            sym.value > s.size || size > s.size - sym.value)
          return fail(fmt::format("function '{}' in '{}': bad bounds {}+{}", sym.name, s.name,
                                  sym.value, size));
        prev_end = sym.value + size;
        funcs_.push_back({sym.name, i, sym.value, size, is_program});
      }
    }
    return {};
  }

  Result<void, std::string> add_map(MapSpec spec, uint32_t section, uint64_t offset) {
    if (obj_.map(spec.name) != nullptr)
      return fail(fmt::format("two maps are named '{}'", spec.name));
    map_at_[{section, offset}] = obj_.maps.size();
    obj_.maps.push_back(std::move(spec));
    return {};
  }

  Result<void, std::string> collect_maps() {
    for (uint32_t i = 1; i < elf_.sections().size(); ++i) {
      const Section& s = sec(i);
      if (s.name == ".maps") {
        FUSEBPF_TRY(maps, parse_btf_maps(elf_, i, btf_.get()));
        for (auto& m : maps) FUSEBPF_TRY_VOID(add_map(std::move(m.spec), i, m.offset));
      } else if (s.name == "maps") {
        // Legacy struct bpf_map_def { u32 type, key_size, value_size, max_entries, map_flags; }.
        for (const Symbol& sym : elf_.symbols()) {
          if (sym.shndx != i || sym.special || sym.type != STT_OBJECT) continue;
          if (sym.value > s.bytes.size() || s.bytes.size() - sym.value < 16)
            return fail(
                fmt::format("legacy map '{}': definition outside section 'maps'", sym.name));
          uint32_t def[5] = {};
          std::memcpy(def, s.bytes.data() + sym.value,
                      std::min<size_t>(sizeof def, s.bytes.size() - sym.value));
          MapSpec spec{.name = sym.name,
                       .type = static_cast<MapType>(def[0]),
                       .key_size = def[1],
                       .value_size = def[2],
                       .max_entries = def[3],
                       .flags = def[4]};
          FUSEBPF_TRY_VOID(add_map(std::move(spec), i, sym.value));
        }
      } else if (is_data_section(s) && s.size > 0) {
        if (s.size > UINT32_MAX) return fail(fmt::format("section '{}' is too large", s.name));
        MapSpec spec{.name = s.name,
                     .type = MapType::kArray,
                     .key_size = 4,
                     .value_size = static_cast<uint32_t>(s.size),
                     .max_entries = 1};
        if (s.type != SHT_NOBITS) spec.initial_value.assign(s.bytes.begin(), s.bytes.end());
        spec.frozen = s.name.starts_with(".rodata");
        data_map_[i] = obj_.maps.size();
        FUSEBPF_TRY_VOID(add_map(std::move(spec), i, UINT64_MAX));
      }
    }
    return {};
  }

  // The function starting at instruction `index` of section `s`, or -1.
  int64_t func_at(uint32_t s, int64_t index) const {
    for (size_t i = 0; i < funcs_.size(); ++i)
      if (funcs_[i].sec == s && static_cast<int64_t>(funcs_[i].start / 8) == index) return i;
    return -1;
  }

  Result<RawProgram, std::string> link_program(size_t root) {
    RawProgram p;
    p.name = funcs_[root].name;
    p.section = sec(funcs_[root].sec).name;
    std::vector<int64_t> placed(funcs_.size(), -1);
    std::vector<bool> queued(funcs_.size(), false);
    std::deque<size_t> queue{root};
    queued[root] = true;
    std::vector<std::pair<size_t, size_t>> calls;  // (pc, callee function)
    std::map<size_t, int32_t> prog_map;            // object map index -> p.maps index
    auto map_index = [&](size_t obj_index) {
      auto [it, added] = prog_map.try_emplace(obj_index, static_cast<int32_t>(p.maps.size()));
      if (added) p.maps.push_back(obj_.maps[obj_index]);
      return it->second;
    };
    auto call_target = [&](uint32_t s, int64_t index,
                           const std::string& where) -> Result<size_t, std::string> {
      int64_t f = func_at(s, index);
      if (f < 0)
        return fail(fmt::format("{}: call target {}+{} is not the start of a function", where,
                                sec(s).name, index * 8));
      if (!queued[f]) queue.push_back(f), queued[f] = true;
      return static_cast<size_t>(f);
    };

    while (!queue.empty()) {
      size_t fi = queue.front();
      queue.pop_front();
      const Func& f = funcs_[fi];
      const Section& s = sec(f.sec);
      size_t base = p.insns.size();
      size_t count = f.size / 8;
      if (base + count > kMaxProgramInsns)
        return fail(fmt::format("program '{}' is too large", p.name));
      placed[fi] = base;
      p.insns.resize(base + count);
      std::memcpy(p.insns.data() + base, s.bytes.data() + f.start, f.size);
      for (size_t i = 0; i < count; ++i) {
        size_t pc = base + i;
        uint64_t off = f.start + i * 8;
        Insn& in = p.insns[pc];
        auto where = [&] {
          return fmt::format("program '{}' pc {} ({}+{})", p.name, pc, s.name, off);
        };
        if (in.opcode == kLddw && i + 1 >= count)
          return fail(where() + ": lddw is cut off by the end of the function");
        auto rit = relocs_.find({f.sec, off});
        if (rit != relocs_.end()) {
          const Symbol& sym = elf_.symbols()[rit->second->sym];
          bool undefined = sym.shndx == 0 && !sym.special;
          if (in.opcode == kCall) {
            if (undefined) {
              auto& names = p.kfunc_names;
              auto k = std::find(names.begin(), names.end(), sym.name);
              if (k == names.end()) k = names.insert(names.end(), sym.name);
              in.src = kPseudoKfuncCall;
              in.imm = static_cast<int32_t>(k - names.begin());
            } else if (!sym.special && (sec(sym.shndx).flags & SHF_EXECINSTR)) {
              int64_t target = static_cast<int64_t>(sym.value / 8) + in.imm + 1;
              FUSEBPF_TRY(callee, call_target(sym.shndx, target, where()));
              calls.emplace_back(pc, callee);
            } else {
              return fail(fmt::format("{}: call relocation against '{}' is not a function", where(),
                                      sym.name));
            }
          } else if (in.opcode == kLddw) {
            Insn& next = p.insns[pc + 1];
            uint64_t key = sym.value + (sym.type == STT_SECTION ? in.imm : 0);
            if (undefined)
              return fail(
                  fmt::format("{}: extern variable '{}' is not supported (only __ksym "
                              "functions are)",
                              where(), sym.name));
            if (sym.special)
              return fail(
                  fmt::format("{}: relocation against absolute symbol '{}'", where(), sym.name));
            if (auto d = data_map_.find(sym.shndx); d != data_map_.end()) {
              int64_t value_off = static_cast<int64_t>(sym.value) + in.imm;
              if (value_off < 0 || static_cast<uint64_t>(value_off) > sec(sym.shndx).size)
                return fail(fmt::format("{}: offset {} is outside '{}'", where(), value_off,
                                        sec(sym.shndx).name));
              in.src = kPseudoMapValue;
              in.imm = map_index(d->second);
              next.imm = static_cast<int32_t>(value_off);
            } else if (auto m = map_at_.find({sym.shndx, key}); m != map_at_.end()) {
              in.src = kPseudoMapFd;
              in.imm = map_index(m->second);
              next.imm = 0;
            } else if (sec(sym.shndx).flags & SHF_EXECINSTR) {
              return fail(
                  fmt::format("{}: function pointers ('{}') are not supported", where(), sym.name));
            } else {
              return fail(
                  fmt::format("{}: relocation against '{}' in section '{}' is not "
                              "supported",
                              where(), sym.name, sec(sym.shndx).name));
            }
          } else {
            return fail(
                fmt::format("{}: relocation against '{}' on an instruction that is "
                            "neither lddw nor call",
                            where(), sym.name));
          }
        } else if (in.opcode == kCall && in.src == kPseudoCall) {
          // A local call clang resolved itself: pc-relative inside this section.
          int64_t target = static_cast<int64_t>(off / 8) + in.imm + 1;
          FUSEBPF_TRY(callee, call_target(f.sec, target, where()));
          calls.emplace_back(pc, callee);
        } else if (in.opcode == kCall && in.src != 0) {
          return fail(fmt::format("{}: call with pseudo source {} and no relocation", where(),
                                  static_cast<int>(in.src)));
        } else if (in.opcode == kLddw && in.src != 0) {
          return fail(fmt::format("{}: lddw with pseudo source {} and no relocation", where(),
                                  static_cast<int>(in.src)));
        }
        if (in.opcode == kLddw) ++i;  // second half
      }
      FUSEBPF_TRY_VOID(add_ext_info(p, f, base));
    }
    for (auto [pc, callee] : calls) {
      p.insns[pc].src = kPseudoCall;
      p.insns[pc].imm = static_cast<int32_t>(placed[callee] - static_cast<int64_t>(pc) - 1);
    }
    std::stable_sort(p.lines.begin(), p.lines.end(),
                     [](const LineInfo& a, const LineInfo& b) { return a.pc < b.pc; });
    return p;
  }

  // Line info and CO-RE relocations of function f, now placed at `base`.
  Result<void, std::string> add_ext_info(RawProgram& p, const Func& f, size_t base) {
    const std::string& sname = sec(f.sec).name;
    auto in_func = [&](uint32_t insn_off) {
      return insn_off % 8 == 0 && insn_off >= f.start && insn_off < f.start + f.size;
    };
    if (auto it = ext_.lines.find(sname); it != ext_.lines.end()) {
      for (const LineRec& r : it->second) {
        if (!in_func(r.insn_off)) continue;
        p.lines.push_back(LineInfo{static_cast<uint32_t>(base + (r.insn_off - f.start) / 8),
                                   btf_name(btf_.get(), r.file_name_off), r.line_col >> 10,
                                   btf_name(btf_.get(), r.line_off)});
      }
    }
    if (opts_.core_types == nullptr) return {};
    if (auto it = ext_.core.find(sname); it != ext_.core.end()) {
      for (const CoreRec& r : it->second) {
        if (!in_func(r.insn_off)) continue;
        size_t pc = base + (r.insn_off - f.start) / 8;
        std::string where = fmt::format("program '{}' pc {}", p.name, pc);
        FUSEBPF_TRY_VOID(
            apply_core(std::span(p.insns).subspan(pc, std::min<size_t>(2, p.insns.size() - pc)),
                       btf_.get(), r, *opts_.core_types, where));
      }
    }
    return {};
  }

  const ElfFile& elf_;
  const LoadOptions& opts_;
  BtfPtr btf_;
  BtfExt ext_;
  std::vector<Func> funcs_;
  ElfObject obj_;
  std::map<std::pair<uint32_t, uint64_t>, const Reloc*> relocs_;  // exec sections only
  std::map<std::pair<uint32_t, uint64_t>, size_t> map_at_;        // (section, offset) -> map
  std::map<uint32_t, size_t> data_map_;                           // data section -> map
};

int silent_libbpf(enum libbpf_print_level, const char*, va_list) { return 0; }

}  // namespace

Result<ElfObject, std::string> load_elf(std::span<const std::byte> bytes,
                                        const LoadOptions& options) {
  // libbpf would print its own complaints about malformed BTF to stderr; we return ours.
  static const bool quiet = (libbpf_set_print(silent_libbpf), true);
  (void)quiet;
  FUSEBPF_TRY(elf, ElfFile::parse(bytes));
  Loader loader(elf, options);
  return loader.run();
}

Result<ElfObject, std::string> load_elf_file(const std::string& path, const LoadOptions& options) {
  auto data = sys::read_file(AT_FDCWD, path.c_str());
  if (!data) return fail(fmt::format("{}: {}", path, errno_message(data.error())));
  auto r = load_elf(std::as_bytes(std::span(data->data(), data->size())), options);
  if (!r) return fail(fmt::format("{}: {}", path, r.error()));
  return r;
}

}  // namespace fusebpf::bpf
