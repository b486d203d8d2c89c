// Classification and decoding driven by the rows of abi/bpf_isa.def (see isa.h).
#include "bpf/isa/isa.h"

#include <fmt/format.h>

namespace fusebpf::bpf::isa {
namespace {

// For each opcode byte: the first row with that byte and how many rows share it.
struct OpcodeIndex {
  std::array<uint8_t, 256> first{};
  std::array<uint8_t, 256> count{};
};

constexpr OpcodeIndex build_index() {
  OpcodeIndex index;
  for (size_t i = 0; i < kOpCount; ++i) {
    uint8_t opc = kOps[i].opcode;
    if (index.count[opc] == 0) index.first[opc] = static_cast<uint8_t>(i);
    index.count[opc]++;
  }
  return index;
}
constexpr OpcodeIndex kIndex = build_index();

// The table promises that rows sharing an opcode byte are adjacent; check it at compile time.
constexpr bool rows_grouped_by_opcode() {
  for (size_t i = 0; i < kOpCount; ++i) {
    uint8_t opc = kOps[i].opcode;
    if (i < kIndex.first[opc] || i >= size_t{kIndex.first[opc]} + kIndex.count[opc]) return false;
  }
  return true;
}
static_assert(rows_grouped_by_opcode(), "bpf_isa.def: rows with one opcode must be adjacent");
static_assert(kOpCount < 256, "Op must fit in uint8_t");

constexpr bool row_order_matches_enum() {
  for (size_t i = 0; i < kOpCount; ++i)
    if (static_cast<size_t>(kOps[i].op) != i) return false;
  return true;
}
static_assert(row_order_matches_enum());

bool matches(const OpInfo& row, const Insn& insn) {
  return row.dst.accepts(insn.dst) && row.src.accepts(insn.src) && row.off.accepts(insn.off) &&
         row.imm.accepts(insn.imm);
}

// The field a row pins with Eq(n), used to tell rows that share an opcode apart.
std::string_view selector_field(const OpInfo& row, int32_t* value) {
  if (row.src.kind == FieldRule::kEqual) return *value = row.src.value, "src";
  if (row.off.kind == FieldRule::kEqual) return *value = row.off.value, "off";
  if (row.imm.kind == FieldRule::kEqual) return *value = row.imm.value, "imm";
  return "";
}

std::string describe_rule_violation(const OpInfo& row, const Insn& insn) {
  struct Field {
    std::string_view name;
    const FieldRule& rule;
    int32_t value;
  };
  const Field fields[] = {{"dst", row.dst, insn.dst},
                          {"src", row.src, insn.src},
                          {"off", row.off, insn.off},
                          {"imm", row.imm, insn.imm}};
  for (const Field& f : fields) {
    if (f.rule.accepts(f.value)) continue;
    switch (f.rule.kind) {
      case FieldRule::kReadReg:
      case FieldRule::kWriteReg:
        return fmt::format("invalid {} register r{} for {}", f.name, f.value, row.mnemonic);
      case FieldRule::kZero:
        return fmt::format("{} must be 0 for {} (is {})", f.name, row.mnemonic, f.value);
      default:
        return fmt::format("invalid {} {} for {}", f.name, f.value, row.mnemonic);
    }
  }
  return "valid";
}

}  // namespace

std::optional<Op> classify(const Insn& insn) {
  const uint8_t first = kIndex.first[insn.opcode];
  const uint8_t count = kIndex.count[insn.opcode];
  for (uint8_t i = 0; i < count; ++i) {
    const OpInfo& row = kOps[first + i];
    if (matches(row, insn)) return row.op;
  }
  return std::nullopt;
}

std::string explain_invalid(const Insn& insn) {
  const uint8_t first = kIndex.first[insn.opcode];
  const uint8_t count = kIndex.count[insn.opcode];
  if (count == 0) return fmt::format("unknown opcode {:#04x}", insn.opcode);
  // Prefer the row whose selector (the Eq field) matches; its other fields are what is wrong.
  for (uint8_t i = 0; i < count; ++i) {
    const OpInfo& row = kOps[first + i];
    int32_t want = 0;
    std::string_view field = selector_field(row, &want);
    int32_t have = field == "src" ? insn.src : field == "off" ? insn.off : insn.imm;
    if (field.empty() || have == want) return describe_rule_violation(row, insn);
  }
  int32_t want = 0;
  std::string_view field = selector_field(kOps[first], &want);
  int32_t have = field == "src" ? insn.src : field == "off" ? insn.off : insn.imm;
  return fmt::format("invalid {} {} for opcode {:#04x}", field, have, insn.opcode);
}

namespace {

Unexpected<IsaError> error_at(uint32_t pc, std::string message) {
  return fail(IsaError{pc, fmt::format("{} at pc {}", message, pc)});
}

// First pass: classify every slot, pairing each lddw with its second slot.
Result<std::vector<DecodedInsn>, IsaError> decode_slots(std::span<const Insn> insns,
                                                        std::vector<bool>* second_slot) {
  std::vector<DecodedInsn> out;
  out.reserve(insns.size());
  for (uint32_t pc = 0; pc < insns.size(); ++pc) {
    const Insn& insn = insns[pc];
    std::optional<Op> op = classify(insn);
    if (!op) return error_at(pc, explain_invalid(insn));
    DecodedInsn d{*op, pc, insn, 0, -1};
    if (info(*op).form == Form::kLddw) {
      if (pc + 1 >= insns.size()) return error_at(pc, "lddw is missing its second slot");
      const Insn& hi = insns[pc + 1];
      if (hi.opcode != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0)
        return error_at(pc + 1, "malformed second slot of lddw");
      if (*op == Op::kLddwMap && hi.imm != 0)
        return error_at(pc + 1, "second slot of lddw map must be 0");
      d.next_imm = hi.imm;
      (*second_slot)[pc + 1] = true;
      out.push_back(d);
      ++pc;
      continue;
    }
    out.push_back(d);
  }
  return out;
}

}  // namespace

Result<std::vector<DecodedInsn>, IsaError> decode(std::span<const Insn> insns) {
  if (insns.empty()) return error_at(0, "empty program");
  if (insns.size() > (1u << 24)) return error_at(0, "program too large");
  std::vector<bool> second_slot(insns.size(), false);
  FUSEBPF_TRY(out, decode_slots(insns, &second_slot));
  const int64_t n = static_cast<int64_t>(insns.size());
  for (DecodedInsn& d : out) {
    Form form = info(d.op).form;
    if (form != Form::kJa && form != Form::kJcc && form != Form::kCallLocal) continue;
    d.target = branch_target(d.op, d.pc, d.insn);
    if (d.target < 0 || d.target >= n)
      return error_at(d.pc, fmt::format("jump target {} out of range", d.target));
    if (second_slot[d.target])
      return error_at(d.pc, fmt::format("jump into the middle of lddw at pc {}", d.target));
  }
  Form last = info(out.back().op).form;
  if (last != Form::kExit && last != Form::kJa)
    return error_at(out.back().pc, "last instruction falls through off the end");
  return out;
}

Result<uint64_t, std::string> lddw_value(const DecodedInsn& d, std::span<Map* const> maps) {
  const uint64_t lo = static_cast<uint32_t>(d.insn.imm);
  if (d.op == Op::kLddw) return lo | (uint64_t{static_cast<uint32_t>(d.next_imm)} << 32);
  const uint32_t index = static_cast<uint32_t>(d.insn.imm);
  if (index >= maps.size() || maps[index] == nullptr)
    return fail(
        fmt::format("lddw references map {} but only {} maps are bound", index, maps.size()));
  Map* map = maps[index];
  if (d.op == Op::kLddwMap) return reinterpret_cast<uint64_t>(map);
  std::byte* base = map->array_base();
  // Like the kernel, the offset must fall inside the first value.
  const uint32_t offset = static_cast<uint32_t>(d.next_imm);
  if (base == nullptr || offset >= map->spec().value_size)
    return fail(
        fmt::format("lddw map value {}+{} is not inside an array map value", index, offset));
  return reinterpret_cast<uint64_t>(base + offset);
}

}  // namespace fusebpf::bpf::isa
