// CO-RE: patching field offsets/sizes against target type descriptions, and building those
// descriptions from BTF.
#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "bpf/elf/internal/btf_parts.h"

namespace fusebpf::bpf::elf_internal {
namespace {

enum CoreKind : uint32_t {
  kFieldByteOffset = 0,
  kFieldByteSize = 1,
  kFieldExists = 2,
  kFieldSigned = 3,
  kTypeExists = 8,
  kTypeSize = 9,
};

std::string_view strip_flavor(std::string_view name) {
  size_t p = name.find("___");
  return p == std::string_view::npos ? name : name.substr(0, p);
}

const CoreType* find_type(const std::vector<CoreType>& types, std::string_view name) {
  for (const CoreType& t : types)
    if (t.name == name) return &t;
  return nullptr;
}

const CoreField* find_field(const CoreType& t, std::string_view name) {
  for (const CoreField& f : t.fields)
    if (f.name == name) return &f;
  return nullptr;
}

Result<std::vector<uint32_t>, std::string> parse_access(const std::string& s) {
  std::vector<uint32_t> out;
  uint64_t cur = 0;
  bool digit = false;
  for (char c : s + ":") {
    if (c == ':') {
      if (!digit) return fail(fmt::format("bad CO-RE access string '{}'", s));
      out.push_back(static_cast<uint32_t>(cur));
      cur = 0, digit = false;
    } else if (c >= '0' && c <= '9' && cur < UINT32_MAX) {
      cur = cur * 10 + (c - '0'), digit = true;
    } else {
      return fail(fmt::format("bad CO-RE access string '{}'", s));
    }
  }
  if (out.size() > 64) return fail(fmt::format("CO-RE access string '{}' is too deep", s));
  return out;
}

Result<void, std::string> patch(std::span<Insn> insns, uint32_t kind, uint64_t value,
                                uint32_t local_size, uint32_t target_size,
                                const std::string& where) {
  Insn& in = insns[0];
  uint8_t cls = in.opcode & 7;
  if (in.opcode == 0x18) {
    if (insns.size() < 2) return fail(where + ": CO-RE relocation on a truncated lddw");
    in.imm = static_cast<int32_t>(value);
    insns[1].imm = static_cast<int32_t>(value >> 32);
  } else if ((cls == 4 || cls == 7) && (in.opcode & 0x08) == 0) {  // ALU/ALU64 with immediate
    if (value > INT32_MAX) return fail(where + ": CO-RE value does not fit the immediate");
    in.imm = static_cast<int32_t>(value);
  } else if (cls >= 1 && cls <= 3 && kind == kFieldByteOffset) {  // LDX, ST, STX
    if (value > INT16_MAX) return fail(where + ": CO-RE offset does not fit the instruction");
    in.off = static_cast<int16_t>(value);
    static constexpr uint8_t kSizeCode[9] = {0, 0x10, 0x08, 0, 0x00, 0, 0, 0, 0x18};
    static constexpr uint32_t kCodeSize[4] = {4, 2, 1, 8};
    uint32_t insn_size = kCodeSize[(in.opcode >> 3) & 3];
    if (target_size != insn_size && local_size == insn_size) {
      if (target_size > 8 ||
          (target_size != 8 && target_size != 4 && target_size != 2 && target_size != 1))
        return fail(where + ": CO-RE field size cannot be loaded directly");
      in.opcode = static_cast<uint8_t>((in.opcode & ~0x18) | kSizeCode[target_size]);
    }
  } else {
    return fail(
        fmt::format("{}: CO-RE relocation on unsupported instruction 0x{:02x}", where, in.opcode));
  }
  return {};
}

}  // namespace

Result<void, std::string> apply_core(std::span<Insn> insns, const struct btf* local,
                                     const CoreRec& rec, const std::vector<CoreType>& target,
                                     const std::string& where) {
  uint32_t root_id = 0;
  const struct btf_type* cur = skip_mods(local, rec.type_id, &root_id);
  if (cur == nullptr) return fail(fmt::format("{}: CO-RE relocation with bad type id", where));
  std::string root_name(strip_flavor(btf_name(local, cur->name_off)));
  FUSEBPF_TRY(access, parse_access(btf_name(local, rec.access_str_off)));
  const CoreType* tt = find_type(target, root_name);
  bool exists_kind = rec.kind == kFieldExists || rec.kind == kTypeExists;

  if (rec.kind == kTypeExists || rec.kind == kTypeSize) {
    if (tt == nullptr && !exists_kind)
      return fail(fmt::format("{}: CO-RE: type '{}' is not in the target types", where, root_name));
    return patch(insns, rec.kind, rec.kind == kTypeExists ? tt != nullptr : tt->size, 0, 0, where);
  }
  if (rec.kind > kFieldSigned)
    return fail(fmt::format("{}: CO-RE relocation kind {} on '{}' is not supported", where,
                            rec.kind, root_name));
  if (tt == nullptr) {
    if (exists_kind) return patch(insns, rec.kind, 0, 0, 0, where);
    return fail(fmt::format("{}: CO-RE: type '{}' is not in the target types", where, root_name));
  }

  std::string path = root_name;
  uint64_t off = uint64_t{access[0]} * tt->size;
  const CoreField* field = nullptr;
  CoreField array_elem;  // what `field` points at after indexing an array
  uint32_t local_size = 0;
  for (size_t i = 1; i < access.size(); ++i) {
    if (btf_is_composite(cur)) {
      if (access[i] >= btf_vlen(cur))
        return fail(
            fmt::format("{}: CO-RE access {} out of range in '{}'", where, access[i], path));
      const struct btf_member& m = btf_members(cur)[access[i]];
      std::string name = btf_name(local, m.name_off);
      const struct btf_type* mt = skip_mods(local, m.type);
      if (mt == nullptr) return fail(where + ": CO-RE: bad member type");
      int64_t lsize = btf__resolve_size(local, m.type);
      local_size = lsize > 0 ? static_cast<uint32_t>(lsize) : 0;
      cur = mt;
      if (name.empty()) continue;  // anonymous member: the target flattens it into its parent
      path += "." + name;
      if (tt == nullptr)
        return fail(fmt::format("{}: CO-RE: field {} has no target type to look in", where, path));
      field = find_field(*tt, name);
      if (field == nullptr) {
        if (exists_kind) return patch(insns, rec.kind, 0, 0, 0, where);
        return fail(fmt::format("{}: CO-RE: field {} is not in the target types", where, path));
      }
      off += field->offset;
      tt = field->type.empty() ? nullptr : find_type(target, field->type);
    } else if (btf_is_array(cur)) {
      if (field == nullptr || field->elem_size == 0)
        return fail(fmt::format("{}: CO-RE: {} is not an array in the target types", where, path));
      off += uint64_t{access[i]} * field->elem_size;
      path += fmt::format("[{}]", access[i]);
      const struct btf_type* et = skip_mods(local, btf_array(cur)->type);
      int64_t lsize = btf__resolve_size(local, btf_array(cur)->type);
      local_size = lsize > 0 ? static_cast<uint32_t>(lsize) : 0;
      if (et == nullptr) return fail(where + ": CO-RE: bad array element type");
      cur = et;
      // tt stays the element struct (CoreField::type names it for arrays of structs).
      CoreField elem{.name = path,
                     .offset = 0,
                     .size = field->elem_size,
                     .is_signed = field->is_signed,
                     .type = field->type};
      array_elem = std::move(elem);
      field = &array_elem;
    } else {
      return fail(fmt::format("{}: CO-RE: cannot index into {}", where, path));
    }
  }
  uint64_t value = 0;
  uint32_t target_size = field ? field->size : tt ? tt->size : 0;
  switch (rec.kind) {
    case kFieldByteOffset:
      value = off;
      break;
    case kFieldByteSize:
      value = target_size;
      break;
    case kFieldExists:
      value = 1;
      break;
    case kFieldSigned:
      value = field ? field->is_signed : 0;
      break;
  }
  return patch(insns, rec.kind, value, local_size, target_size, where);
}

namespace {

void add_fields(const struct btf* btf, const struct btf_type* st, uint32_t base,
                std::vector<CoreField>& out, int depth) {
  if (depth > 8) return;
  const struct btf_member* m = btf_members(st);
  for (uint32_t j = 0; j < btf_vlen(st); ++j) {
    uint32_t bit_off = btf_member_bit_offset(st, j);
    const struct btf_type* mt = skip_mods(btf, m[j].type);
    if (mt == nullptr) continue;
    std::string name = btf_name(btf, m[j].name_off);
    if (name.empty()) {
      if (btf_is_composite(mt)) add_fields(btf, mt, base + bit_off / 8, out, depth + 1);
      continue;
    }
    if (bit_off % 8 != 0 || btf_member_bitfield_size(st, j) != 0) continue;  // bitfields
    CoreField f;
    f.name = std::move(name);
    f.offset = base + bit_off / 8;
    int64_t size = btf__resolve_size(btf, m[j].type);
    f.size = size > 0 ? static_cast<uint32_t>(size) : 0;
    const struct btf_type* elem = mt;
    if (btf_is_array(mt)) {
      int64_t es = btf__resolve_size(btf, btf_array(mt)->type);
      f.elem_size = es > 0 ? static_cast<uint32_t>(es) : 0;
      elem = skip_mods(btf, btf_array(mt)->type);
    }
    if (elem != nullptr && btf_is_int(elem)) f.is_signed = btf_int_encoding(elem) & BTF_INT_SIGNED;
    if (elem != nullptr && btf_is_composite(elem)) f.type = btf_name(btf, elem->name_off);
    out.push_back(std::move(f));
  }
}

}  // namespace
}  // namespace fusebpf::bpf::elf_internal

namespace fusebpf::bpf {
using namespace elf_internal;

Result<std::vector<CoreType>, std::string> core_types_from_btf(std::span<const std::byte> bytes) {
  std::span<const std::byte> raw = bytes;
  std::optional<ElfFile> elf;
  if (bytes.size() >= 4 && std::memcmp(bytes.data(),
                                       "\x7f"
                                       "ELF",
                                       4) == 0) {
    FUSEBPF_TRY(f, ElfFile::parse(bytes));
    elf.emplace(std::move(f));
    uint32_t sec = elf->find_section(".BTF");
    if (sec == 0) return fail(std::string("ELF file has no .BTF section"));
    raw = elf->sections()[sec].bytes;
  }
  FUSEBPF_TRY(btf, open_btf(raw));
  std::vector<CoreType> out;
  for (uint32_t id = 1; id < btf__type_cnt(btf.get()); ++id) {
    const struct btf_type* t = btf__type_by_id(btf.get(), id);
    if (t == nullptr || !btf_is_composite(t)) continue;
    std::string name(strip_flavor(btf_name(btf.get(), t->name_off)));
    if (name.empty() || find_type(out, name) != nullptr) continue;
    CoreType ct{.name = std::move(name), .size = t->size, .fields = {}};
    add_fields(btf.get(), t, 0, ct.fields, 0);
    out.push_back(std::move(ct));
  }
  return out;
}

}  // namespace fusebpf::bpf
