// BTF-described objects: `.maps` definitions and struct_ops variables.
#include <elf.h>
#include <fmt/format.h>

#include <cstring>

#include "bpf/elf/internal/btf_parts.h"

namespace fusebpf::bpf::elf_internal {

Result<BtfPtr, std::string> open_btf(std::span<const std::byte> bytes) {
  BtfPtr b(btf__new(bytes.data(), bytes.size()));
  if (!b) return fail(fmt::format("invalid .BTF section ({})", strerror(errno)));
  return b;
}

const struct btf_type* skip_mods(const struct btf* btf, uint32_t id, uint32_t* out_id) {
  for (int depth = 0; depth < 32; ++depth) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    if (t == nullptr) return nullptr;
    if (!btf_is_mod(t) && !btf_is_typedef(t)) {
      if (out_id) *out_id = id;
      return t;
    }
    id = t->type;
  }
  return nullptr;
}

std::string btf_name(const struct btf* btf, uint32_t name_off) {
  const char* s = btf__name_by_offset(btf, name_off);
  return s ? s : "";
}

namespace {

// Finds the VAR `name` of DATASEC `sec_name`; nullptr when absent.
const struct btf_type* find_var(const struct btf* btf, const std::string& sec_name,
                                const std::string& name) {
  int32_t sec_id = btf__find_by_name_kind(btf, sec_name.c_str(), BTF_KIND_DATASEC);
  if (sec_id <= 0) return nullptr;
  const struct btf_type* sec = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vi = btf_var_secinfos(sec);
  for (uint32_t i = 0; i < btf_vlen(sec); ++i) {
    const struct btf_type* var = btf__type_by_id(btf, vi[i].type);
    if (var != nullptr && btf_is_var(var) && btf_name(btf, var->name_off) == name) return var;
  }
  return nullptr;
}

// __uint(name, N) is declared as `int (*name)[N]`.
Result<uint32_t, std::string> uint_attr(const struct btf* btf, const struct btf_member& m,
                                        const std::string& where) {
  const struct btf_type* p = skip_mods(btf, m.type);
  const struct btf_type* arr = p && btf_is_ptr(p) ? skip_mods(btf, p->type) : nullptr;
  if (arr == nullptr || !btf_is_array(arr))
    return fail(fmt::format("{}: attribute is not a __uint() (pointer to array)", where));
  return btf_array(arr)->nelems;
}

// __type(key, T) is declared as `T *key`.
Result<uint32_t, std::string> type_size_attr(const struct btf* btf, const struct btf_member& m,
                                             const std::string& where) {
  const struct btf_type* p = skip_mods(btf, m.type);
  if (p == nullptr || !btf_is_ptr(p))
    return fail(fmt::format("{}: attribute is not a __type() (pointer)", where));
  int64_t size = btf__resolve_size(btf, p->type);
  if (size <= 0 || size > UINT32_MAX) return fail(fmt::format("{}: cannot size the type", where));
  return static_cast<uint32_t>(size);
}

// The TextFormat of the type `T` of a __type(key|value, T) attribute (declared `T *key`).
TextFormat text_format(const struct btf* btf, const struct btf_member& m) {
  const struct btf_type* p = skip_mods(btf, m.type);
  const struct btf_type* t = p && btf_is_ptr(p) ? skip_mods(btf, p->type) : nullptr;
  if (t != nullptr && btf_is_struct(t) && btf_vlen(t) == 1 && btf_members(t)[0].offset == 0) {
    const struct btf_type* only = skip_mods(btf, btf_members(t)[0].type);
    if (only != nullptr && btf_is_array(only)) t = only;  // struct { char name[N]; }
  }
  if (t == nullptr) return TextFormat::kBytes;
  if (btf_is_array(t)) {
    const struct btf_type* elem = skip_mods(btf, btf_array(t)->type);
    return elem != nullptr && btf_is_int(elem) && elem->size == 1 ? TextFormat::kString
                                                                  : TextFormat::kBytes;
  }
  if (btf_is_int(t) && t->size >= 1 && t->size <= 8) {
    return (btf_int_encoding(t) & BTF_INT_SIGNED) ? TextFormat::kSigned : TextFormat::kUnsigned;
  }
  if (btf_is_enum(t)) return TextFormat::kUnsigned;
  return TextFormat::kBytes;
}

const Symbol* object_symbol(const ElfFile& elf, uint32_t sec, const std::string& name) {
  for (const Symbol& s : elf.symbols())
    if (s.shndx == sec && !s.special && s.name == name && s.type == STT_OBJECT) return &s;
  return nullptr;
}

}  // namespace

Result<std::vector<PlacedMap>, std::string> parse_btf_maps(const ElfFile& elf, uint32_t sec,
                                                           const struct btf* btf) {
  std::vector<PlacedMap> out;
  if (btf == nullptr) return fail(std::string("section .maps needs BTF (compile with -g)"));
  int32_t sec_id = btf__find_by_name_kind(btf, ".maps", BTF_KIND_DATASEC);
  if (sec_id <= 0) return fail(std::string("section .maps has no BTF DATASEC"));
  const struct btf_type* ds = btf__type_by_id(btf, sec_id);
  const struct btf_var_secinfo* vi = btf_var_secinfos(ds);
  for (uint32_t i = 0; i < btf_vlen(ds); ++i) {
    const struct btf_type* var = btf__type_by_id(btf, vi[i].type);
    if (var == nullptr || !btf_is_var(var)) return fail(std::string(".maps: entry is not a VAR"));
    MapSpec spec;
    spec.name = btf_name(btf, var->name_off);
    std::string where = fmt::format("map '{}'", spec.name);
    const struct btf_type* def = skip_mods(btf, var->type);
    if (def == nullptr || !btf_is_struct(def)) return fail(where + ": definition is not a struct");
    // BTF VAR offsets in an object file are not final: the symbol has the real one.
    const Symbol* sym = object_symbol(elf, sec, spec.name);
    if (sym == nullptr) return fail(where + ": no symbol in .maps");
    bool has_type = false;
    const struct btf_member* m = btf_members(def);
    for (uint32_t j = 0; j < btf_vlen(def); ++j) {
      std::string name = btf_name(btf, m[j].name_off);
      std::string mwhere = fmt::format("{} attribute '{}'", where, name);
      // __uint(name, N) attributes and __type(name, T) attributes (sized by T).
      struct Attr {
        const char* name;
        bool sized_type;
        uint32_t* field;
      };
      uint32_t type_number = 0;
      const Attr attrs[] = {
          {"type", false, &type_number},           {"max_entries", false, &spec.max_entries},
          {"map_flags", false, &spec.flags},       {"key_size", false, &spec.key_size},
          {"value_size", false, &spec.value_size}, {"key", true, &spec.key_size},
          {"value", true, &spec.value_size}};
      const Attr* attr = nullptr;
      for (const Attr& a : attrs)
        if (name == a.name) attr = &a;
      if (attr != nullptr) {
        FUSEBPF_TRY(
            v, attr->sized_type ? type_size_attr(btf, m[j], mwhere) : uint_attr(btf, m[j], mwhere));
        *attr->field = v;
        if (attr->field == &spec.key_size && attr->sized_type) {
          spec.key_format = text_format(btf, m[j]);
        }
        if (attr->field == &spec.value_size && attr->sized_type) {
          spec.value_format = text_format(btf, m[j]);
        }
        if (attr->field == &type_number) {
          spec.type = static_cast<MapType>(v);
          has_type = true;
        }
      } else if (name == "pinning" || name == "numa_node") {
        // Pinning has no meaning for an in-process map; NUMA placement is ignored.
      } else {
        return fail(mwhere + ": not supported");
      }
    }
    if (!has_type) return fail(where + ": no map type");
    switch (spec.type) {
      case MapType::kHash:
      case MapType::kArray:
      case MapType::kLruHash:
      case MapType::kLpmTrie:
        break;
      default:
        return fail(
            fmt::format("{}: unsupported map type {}", where, static_cast<uint32_t>(spec.type)));
    }
    out.push_back({std::move(spec), sym->value});
  }
  return out;
}

Result<std::vector<StructOps>, std::string> parse_struct_ops(const ElfFile& elf, uint32_t sec,
                                                             const struct btf* btf,
                                                             const ProgramAt& program_at) {
  const Section& s = elf.sections()[sec];
  if (btf == nullptr) return fail(fmt::format("section {} needs BTF (compile with -g)", s.name));
  std::vector<StructOps> out;
  for (const Symbol& sym : elf.symbols()) {
    if (sym.shndx != sec || sym.special || sym.type != STT_OBJECT) continue;
    StructOps ops;
    ops.var_name = sym.name;
    ops.section = s.name;
    std::string where = fmt::format("struct_ops '{}' in {}", sym.name, s.name);
    if (sym.value > s.bytes.size() || sym.size > s.bytes.size() - sym.value)
      return fail(where + ": symbol lies outside its section");
    const struct btf_type* var = find_var(btf, s.name, sym.name);
    if (var == nullptr) return fail(where + ": no BTF variable");
    const struct btf_type* st = skip_mods(btf, var->type);
    if (st == nullptr || !btf_is_struct(st)) return fail(where + ": type is not a struct");
    ops.type_name = btf_name(btf, st->name_off);
    if (st->size > sym.size) return fail(where + ": symbol is smaller than its type");
    auto var_bytes = s.bytes.subspan(sym.value, st->size);
    ops.data.assign(var_bytes.begin(), var_bytes.end());

    const struct btf_member* m = btf_members(st);
    for (uint32_t j = 0; j < btf_vlen(st); ++j) {
      uint32_t bit_off = btf_member_bit_offset(st, j);
      if (bit_off % 8 != 0 || btf_member_bitfield_size(st, j) != 0) continue;  // bitfields
      StructOpsMember member;
      member.name = btf_name(btf, m[j].name_off);
      member.offset = bit_off / 8;
      const struct btf_type* mt = skip_mods(btf, m[j].type);
      const struct btf_type* pointee = mt && btf_is_ptr(mt) ? skip_mods(btf, mt->type) : nullptr;
      if (pointee != nullptr && btf_is_func_proto(pointee)) {
        uint64_t at = sym.value + member.offset;
        for (const Reloc& r : elf.relocs_for(sec)) {
          if (r.offset != at) continue;
          const Symbol& target = elf.symbols()[r.sym];
          uint64_t off = target.value;
          if (target.type == STT_SECTION && at + 8 <= s.bytes.size()) {
            uint64_t addend;  // REL: the addend is stored at the patched location
            std::memcpy(&addend, s.bytes.data() + at, 8);
            off += addend;
          }
          member.program = program_at(target.shndx, off);
          if (member.program.empty())
            return fail(fmt::format("{}: member '{}' points at '{}', which is not a program", where,
                                    member.name, target.name));
        }
        if (member.program.empty()) continue;  // unset callback
      } else {
        int64_t size = btf__resolve_size(btf, m[j].type);
        if (size < 0 || member.offset > st->size || size > st->size - member.offset)
          return fail(fmt::format("{}: member '{}' has a bad size", where, member.name));
        auto b = var_bytes.subspan(member.offset, size);
        member.data.assign(b.begin(), b.end());
      }
      ops.members.push_back(std::move(member));
    }
    out.push_back(std::move(ops));
  }
  return out;
}

}  // namespace fusebpf::bpf::elf_internal
