// Assembler for the ubpf-style text of tests/bpf/*.data (src/bpf/README.md, "Assembly"). Row
// selection (imm vs reg form, call kinds, lddw kinds) is by operand shape; encodings come from
// abi/bpf_isa.def through make().
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>

#include "bpf/isa/isa.h"

namespace fusebpf::bpf::isa {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<uint8_t> parse_reg(std::string_view s) {
  if (s.starts_with('%')) s.remove_prefix(1);
  if (!s.starts_with('r') || s.size() < 2) return std::nullopt;
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data() + 1, s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 15) return std::nullopt;
  return static_cast<uint8_t>(v);
}

std::optional<int64_t> parse_int(std::string_view s) {
  bool neg = false;
  if (s.starts_with('+') || s.starts_with('-')) {
    neg = s.front() == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) {
    base = 16;
    s.remove_prefix(2);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

std::optional<int32_t> parse_imm32(std::string_view s) {
  auto v = parse_int(s);
  if (!v || *v < INT32_MIN || *v > int64_t{UINT32_MAX}) return std::nullopt;
  return static_cast<int32_t>(static_cast<uint32_t>(*v));
}

std::optional<int16_t> parse_off16(std::string_view s) {
  auto v = parse_int(s);
  if (!v || *v < INT16_MIN || *v > INT16_MAX) return std::nullopt;
  return static_cast<int16_t>(*v);
}

struct MemOperand {
  uint8_t reg;
  int16_t off;
};
// "[r2+4]", "[r10-8]", "[r1]".
std::optional<MemOperand> parse_mem(std::string_view s) {
  if (!s.starts_with('[') || !s.ends_with(']')) return std::nullopt;
  s = trim(s.substr(1, s.size() - 2));
  size_t sign = s.find_first_of("+-");
  auto reg = parse_reg(trim(s.substr(0, sign)));
  if (!reg) return std::nullopt;
  if (sign == std::string_view::npos) return MemOperand{*reg, 0};
  std::string rest(trim(s.substr(sign)));
  rest.erase(std::remove(rest.begin(), rest.end(), ' '), rest.end());
  auto off = parse_off16(rest);
  if (!off) return std::nullopt;
  return MemOperand{*reg, *off};
}

// "map[3]" or "map[3]+16".
std::optional<std::pair<int32_t, int32_t>> parse_map_ref(std::string_view s, bool* has_offset) {
  if (!s.starts_with("map[")) return std::nullopt;
  size_t close = s.find(']');
  if (close == std::string_view::npos) return std::nullopt;
  auto index = parse_imm32(s.substr(4, close - 4));
  if (!index) return std::nullopt;
  std::string_view rest = s.substr(close + 1);
  *has_offset = !rest.empty();
  if (rest.empty()) return std::pair{*index, 0};
  auto off = parse_imm32(rest);
  if (!off) return std::nullopt;
  return std::pair{*index, *off};
}

std::vector<std::string_view> split_operands(std::string_view s) {
  std::vector<std::string_view> out;
  while (!trim(s).empty()) {
    size_t comma = s.find(',');
    out.push_back(trim(s.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

class Assembler {
 public:
  Result<std::vector<Insn>, AsmError> run(std::string_view text);

 private:
  struct Fixup {
    uint32_t pc;
    std::string label;
    uint32_t line;
  };
  Result<void, AsmError> line(std::string_view mnemonic, std::string_view rest);
  Result<void, AsmError> instruction(const OpInfo& row, const std::vector<std::string_view>& ops);
  Result<void, AsmError> alu_or_jump(Op op, const std::vector<std::string_view>& ops);
  Result<void, AsmError> memory(Op op, const std::vector<std::string_view>& ops);
  Result<void, AsmError> call(std::string_view rest);
  Result<void, AsmError> lddw(const std::vector<std::string_view>& ops);
  // Sets the jump field of the instruction about to be emitted (out_.size()).
  Result<int32_t, AsmError> target(std::string_view s);
  Unexpected<AsmError> error(std::string message) {
    return fail(AsmError{line_, std::move(message)});
  }

  std::vector<Insn> out_;
  std::map<std::string, uint32_t, std::less<>> labels_;
  std::vector<Fixup> fixups_;
  uint32_t line_ = 0;
};

Result<int32_t, AsmError> Assembler::target(std::string_view s) {
  if (s.starts_with('+') || s.starts_with('-')) {
    auto v = parse_imm32(s);
    if (!v) return error(fmt::format("bad jump offset '{}'", s));
    return *v;
  }
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_'))
    return error(fmt::format("bad jump target '{}'", s));
  fixups_.push_back(Fixup{static_cast<uint32_t>(out_.size()), std::string(s), line_});
  return 0;
}

Result<void, AsmError> Assembler::call(std::string_view rest) {
  std::vector<std::string_view> words;
  for (size_t pos = 0; pos < rest.size();) {
    size_t end = rest.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = rest.size();
    if (end > pos) words.push_back(rest.substr(pos, end - pos));
    pos = end + 1;
  }
  if (words.size() == 2 && words[0] == "local") {
    FUSEBPF_TRY(rel, target(words[1]));
    out_.push_back(make(Op::kCallLocal, 0, 0, 0, rel));
    return {};
  }
  Op op = Op::kCall;
  if (words.size() == 2 && (words[0] == "kfunc" || words[0] == "runtime"))
    op = Op::kCallKfunc;
  else if (words.size() == 2 && words[0] != "helper")
    return error("call kinds: helper, local, kfunc");
  if (words.empty() || words.size() > 2) return error("call takes [helper|local|kfunc] <n>");
  auto imm = parse_imm32(words.back());
  if (!imm) return error(fmt::format("bad call number '{}'", words.back()));
  out_.push_back(make(op, 0, 0, 0, *imm));
  return {};
}

Result<void, AsmError> Assembler::lddw(const std::vector<std::string_view>& ops) {
  if (ops.size() != 2) return error("lddw takes 2 operands");
  auto dst = parse_reg(ops[0]);
  if (!dst) return error(fmt::format("bad register '{}'", ops[0]));
  bool has_offset = false;
  if (auto ref = parse_map_ref(ops[1], &has_offset)) {
    Op op = has_offset ? Op::kLddwMapValue : Op::kLddwMap;
    out_.push_back(make(op, *dst, 0, 0, ref->first));
    Insn hi;
    hi.imm = ref->second;
    out_.push_back(hi);
    return {};
  }
  auto v = parse_int(ops[1]);
  if (!v) return error(fmt::format("bad 64-bit immediate '{}'", ops[1]));
  for (const Insn& insn : make_lddw(*dst, static_cast<uint64_t>(*v))) out_.push_back(insn);
  return {};
}

Result<void, AsmError> Assembler::memory(Op op, const std::vector<std::string_view>& ops) {
  const OpInfo& row = info(op);
  if (ops.size() != 2) return error(fmt::format("{} takes 2 operands", row.mnemonic));
  const bool load = row.form == Form::kLoad || row.form == Form::kLoadSx;
  auto mem = parse_mem(load ? ops[1] : ops[0]);
  if (!mem) return error(fmt::format("bad memory operand '{}'", load ? ops[1] : ops[0]));
  std::string_view other = load ? ops[0] : ops[1];
  if (row.form == Form::kStoreImm) {
    auto imm = parse_imm32(other);
    if (!imm) return error(fmt::format("bad immediate '{}'", other));
    out_.push_back(make(op, mem->reg, 0, mem->off, *imm));
    return {};
  }
  auto reg = parse_reg(other);
  if (!reg) return error(fmt::format("bad register '{}'", other));
  out_.push_back(load ? make(op, *reg, mem->reg, mem->off) : make(op, mem->reg, *reg, mem->off));
  return {};
}

Result<void, AsmError> Assembler::alu_or_jump(Op op, const std::vector<std::string_view>& ops) {
  const OpInfo& row = info(op);
  const size_t want = row.form == Form::kJcc                               ? 3
                      : row.form == Form::kJa                              ? 1
                      : (row.form == Form::kNeg || row.form == Form::kEnd) ? 1
                                                                           : 2;
  if (ops.size() != want) return error(fmt::format("{} takes {} operand(s)", row.mnemonic, want));
  if (row.form == Form::kJa) {
    FUSEBPF_TRY(rel, target(ops[0]));
    if (op == Op::kJa32) {
      out_.push_back(make(op, 0, 0, 0, rel));
      return {};
    }
    if (rel < INT16_MIN || rel > INT16_MAX) return error("jump offset out of range");
    out_.push_back(make(op, 0, 0, static_cast<int16_t>(rel)));
    return {};
  }
  auto dst = parse_reg(ops[0]);
  if (!dst) return error(fmt::format("bad register '{}'", ops[0]));
  uint8_t src = 0;
  int32_t imm = 0;
  if (want >= 2) {
    if (row.source == SrcKind::kX) {
      auto r = parse_reg(ops[1]);
      if (!r) return error(fmt::format("bad register '{}'", ops[1]));
      src = *r;
    } else {
      auto v = parse_imm32(ops[1]);
      if (!v) return error(fmt::format("bad immediate '{}'", ops[1]));
      imm = *v;
    }
  }
  int16_t off = 0;
  if (row.form == Form::kJcc) {
    FUSEBPF_TRY(rel, target(ops[2]));
    if (rel < INT16_MIN || rel > INT16_MAX) return error("jump offset out of range");
    off = static_cast<int16_t>(rel);
  }
  out_.push_back(make(op, *dst, src, off, imm));
  return {};
}

Result<void, AsmError> Assembler::line(std::string_view mnemonic, std::string_view rest) {
  if (mnemonic == "call") return call(rest);
  std::vector<std::string_view> ops = split_operands(rest);
  if (mnemonic == "lddw") return lddw(ops);
  // Rows sharing a mnemonic differ in their source kind: pick by the shape of operand 2.
  const bool reg_operand = ops.size() >= 2 && parse_reg(ops[1]).has_value();
  const OpInfo* pick = nullptr;
  for (const OpInfo& row : kOps) {
    if (row.mnemonic != mnemonic) continue;
    if (!pick || (row.source == SrcKind::kX) == reg_operand) pick = &row;
  }
  if (!pick) return error(fmt::format("unknown mnemonic '{}'", mnemonic));
  switch (pick->form) {
    case Form::kLoad:
    case Form::kLoadSx:
    case Form::kStoreImm:
    case Form::kStoreReg:
    case Form::kAtomic:
      return memory(pick->op, ops);
    case Form::kExit:
      if (!ops.empty()) return error("exit takes no operands");
      out_.push_back(make(Op::kExit));
      return {};
    default:
      return alu_or_jump(pick->op, ops);
  }
}

Result<std::vector<Insn>, AsmError> Assembler::run(std::string_view text) {
  while (!text.empty()) {
    ++line_;
    size_t nl = text.find('\n');
    std::string_view body = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    body = trim(body.substr(0, body.find_first_of("#;")));
    size_t colon = body.find(':');
    if (colon != std::string_view::npos && body.find('[') > colon) {
      std::string_view label = trim(body.substr(0, colon));
      if (!labels_.emplace(std::string(label), out_.size()).second)
        return error(fmt::format("duplicate label '{}'", label));
      body = trim(body.substr(colon + 1));
    }
    if (body.empty()) continue;
    size_t space = body.find_first_of(" \t");
    std::string_view mnemonic = body.substr(0, space);
    std::string_view rest = space == std::string_view::npos ? "" : trim(body.substr(space));
    FUSEBPF_TRY_VOID(line(mnemonic, rest));
  }
  for (const Fixup& f : fixups_) {
    auto it = labels_.find(f.label);
    if (it == labels_.end())
      return fail(AsmError{f.line, fmt::format("unknown label '{}'", f.label)});
    int64_t rel = int64_t{it->second} - f.pc - 1;
    Insn& insn = out_[f.pc];
    if (insn.opcode == info(Op::kJa32).opcode || insn.opcode == info(Op::kCallLocal).opcode) {
      insn.imm = static_cast<int32_t>(rel);
    } else {
      if (rel < INT16_MIN || rel > INT16_MAX)
        return fail(AsmError{f.line, fmt::format("label '{}' too far", f.label)});
      insn.off = static_cast<int16_t>(rel);
    }
  }
  return std::move(out_);
}

}  // namespace

Result<std::vector<Insn>, AsmError> assemble(std::string_view text) {
  return Assembler().run(text);
}

Result<std::vector<uint8_t>, std::string> parse_hex_bytes(std::string_view text) {
  std::vector<uint8_t> out;
  int high = -1;
  for (char ch : text) {
    if (std::isspace(static_cast<unsigned char>(ch))) continue;
    int v = std::isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
            : (ch >= 'a' && ch <= 'f')                   ? ch - 'a' + 10
            : (ch >= 'A' && ch <= 'F')                   ? ch - 'A' + 10
                                                         : -1;
    if (v < 0) return fail(fmt::format("invalid hex character '{}'", ch));
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0) return fail(std::string("odd number of hex digits"));
  return out;
}

}  // namespace fusebpf::bpf::isa
