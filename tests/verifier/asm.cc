// Test-local assembler (see asm.h). Rows come from abi/bpf_isa.def, so a mnemonic the table
// does not know cannot be written; `raw` writes any encoding for invalid-instruction cases.
#include "asm.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <optional>
#include <sstream>

namespace fusebpf::bpf::testing {
namespace {

enum class Cls : uint8_t { kLd, kLdx, kSt, kStx, kAlu, kJmp, kJmp32, kAlu64 };
enum class Src : uint8_t { kK, kX };
enum class Form : uint8_t {
  kAlu,
  kNeg,
  kMovsx,
  kEnd,
  kJa,
  kJcc,
  kCall,
  kCallLocal,
  kCallKfunc,
  kExit,
  kLddw,
  kLoad,
  kLoadSx,
  kStoreImm,
  kStoreReg,
  kAtomic,
};
struct Rule {
  bool eq;
  int32_t value;
};
struct Row {
  uint8_t opcode;
  std::string_view mnemonic;
  Cls cls;
  Src src_kind;
  Form form;
  Rule dst, src, off, imm;
};
constexpr Rule Zero{false, 0}, Any{false, 0}, Rd{false, 0}, Wr{false, 0};
constexpr Rule Eq(int32_t v) { return Rule{true, v}; }
constexpr Row kRows[] = {
#define FUSEBPF_ISA(name, opcode, mnem, cls, src, width, form, d, s, o, i) \
  Row{opcode, mnem, Cls::cls, Src::src, Form::form, d, s, o, i},
#include "abi/bpf_isa.def"
#undef FUSEBPF_ISA
};

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::optional<int64_t> number(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2), base = 16;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

std::optional<uint8_t> reg(const std::string& s) {
  if (s.size() < 2 || (s[0] != 'r' && s[0] != 'w')) return std::nullopt;
  auto n = number(s.substr(1));
  if (!n || *n < 0 || *n > 15) return std::nullopt;
  return static_cast<uint8_t>(*n);
}

struct Line {
  std::string mnemonic;
  std::vector<std::string> ops;
  size_t source_line;
  uint32_t pc;
};

class Assembler {
 public:
  std::string error;
  std::vector<Insn> out;

  bool parse(const std::vector<std::string>& text) {
    uint32_t pc = 0;
    for (size_t n = 0; n < text.size(); ++n) {
      std::string t = trim(text[n].substr(0, text[n].find(';')));
      if (t.empty()) continue;
      if (t.back() == ':') {
        labels_[t.substr(0, t.size() - 1)] = pc;
        continue;
      }
      Line l{"", {}, n + 1, pc};
      const auto sp = t.find_first_of(" \t");
      l.mnemonic = t.substr(0, sp);
      std::stringstream rest(sp == std::string::npos ? "" : t.substr(sp));
      for (std::string op; std::getline(rest, op, ',');) l.ops.push_back(trim(op));
      pc += l.mnemonic == "lddw" ? 2 : 1;
      lines_.push_back(l);
    }
    for (const Line& l : lines_)
      if (!encode(l)) return false;
    return true;
  }

 private:
  bool fail(const Line& l, const std::string& why) {
    error = fmt::format("line {}: {}", l.source_line, why);
    return false;
  }

  std::optional<int64_t> target(const Line& l, const std::string& s) {
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
      auto n = number(s);
      return n ? std::optional<int64_t>(*n) : std::nullopt;
    }
    auto it = labels_.find(s);
    if (it == labels_.end()) return std::nullopt;
    return int64_t{it->second} - l.pc - 1;
  }

  // "[r1+4]" -> (1, 4)
  bool mem(const std::string& s, uint8_t& r, int16_t& off) {
    if (s.size() < 4 || s.front() != '[' || s.back() != ']') return false;
    const std::string in = s.substr(1, s.size() - 2);
    const auto pos = in.find_first_of("+-");
    auto rr = reg(trim(in.substr(0, pos)));
    if (!rr) return false;
    r = *rr;
    off = 0;
    if (pos == std::string::npos) return true;
    auto n = number(trim(in.substr(pos)));
    if (!n) return false;
    off = static_cast<int16_t>(*n);
    return true;
  }

  const Row* find(const Line& l, Form want_call, bool reg_src) {
    for (const Row& r : kRows) {
      if (r.mnemonic != l.mnemonic) continue;
      if (l.mnemonic == "call" && r.form != want_call) continue;
      if ((r.form == Form::kAlu || r.form == Form::kJcc) && (r.src_kind == Src::kX) != reg_src)
        continue;
      return &r;
    }
    return nullptr;
  }

  bool encode(const Line& l) {
    if (l.mnemonic == "raw") return encode_raw(l);
    if (l.mnemonic == "lddw") return encode_lddw(l);
    Form call_form = Form::kCall;
    std::vector<std::string> ops = l.ops;
    if (l.mnemonic == "call" && !ops.empty()) {
      const auto sp = ops[0].find(' ');
      const std::string kw = ops[0].substr(0, sp);
      if (kw == "local" || kw == "kfunc") {
        call_form = kw == "local" ? Form::kCallLocal : Form::kCallKfunc;
        ops[0] = trim(ops[0].substr(sp + 1));
      }
    }
    const bool reg_src = ops.size() >= 2 && reg(ops[1]).has_value();
    const Row* row = find(l, call_form, reg_src);
    if (row == nullptr)
      return fail(l, fmt::format("unknown mnemonic '{}' for these operands", l.mnemonic));
    Insn in;
    in.opcode = row->opcode;
    if (!operands(l, *row, ops, in)) return fail(l, "bad operands");
    if (row->dst.eq) in.dst = static_cast<uint8_t>(row->dst.value);
    if (row->src.eq) in.src = static_cast<uint8_t>(row->src.value);
    if (row->off.eq) in.off = static_cast<int16_t>(row->off.value);
    if (row->imm.eq) in.imm = row->imm.value;
    out.push_back(in);
    return true;
  }

  bool operands(const Line& l, const Row& row, const std::vector<std::string>& ops, Insn& in) {
    auto need = [&](size_t n) { return ops.size() == n; };
    auto set_reg = [&](const std::string& s, auto& field) {
      auto r = reg(s);
      if (r) field = *r;
      return r.has_value();
    };
    uint8_t dst = 0, src = 0;
    switch (row.form) {
      case Form::kAlu:
        if (!need(2) || !set_reg(ops[0], dst)) return false;
        in.dst = dst;
        if (row.src_kind == Src::kX) return set_reg(ops[1], src) && (in.src = src, true);
        if (auto n = number(ops[1])) return in.imm = static_cast<int32_t>(*n), true;
        return false;
      case Form::kNeg:
      case Form::kEnd:
        return need(1) && set_reg(ops[0], dst) && (in.dst = dst, true);
      case Form::kMovsx:
        return need(2) && set_reg(ops[0], dst) && set_reg(ops[1], src) &&
               (in.dst = dst, in.src = src, true);
      case Form::kJa: {
        auto t = need(1) ? target(l, ops[0]) : std::nullopt;
        if (!t) return false;
        if (row.cls == Cls::kJmp32)
          in.imm = static_cast<int32_t>(*t);
        else
          in.off = static_cast<int16_t>(*t);
        return true;
      }
      case Form::kJcc: {
        auto t = ops.size() == 3 ? target(l, ops[2]) : std::nullopt;
        if (!t || !set_reg(ops[0], dst)) return false;
        in.dst = dst;
        in.off = static_cast<int16_t>(*t);
        if (row.src_kind == Src::kX) return set_reg(ops[1], src) && (in.src = src, true);
        if (auto n = number(ops[1])) return in.imm = static_cast<int32_t>(*n), true;
        return false;
      }
      case Form::kCallLocal: {
        auto t = need(1) ? target(l, ops[0]) : std::nullopt;
        return t && (in.imm = static_cast<int32_t>(*t), true);
      }
      case Form::kCall:
      case Form::kCallKfunc: {
        auto n = need(1) ? number(ops[0]) : std::nullopt;
        return n && (in.imm = static_cast<int32_t>(*n), true);
      }
      case Form::kExit:
        return need(0);
      case Form::kLoad:
      case Form::kLoadSx: {
        int16_t off = 0;
        if (!need(2) || !set_reg(ops[0], dst) || !mem(ops[1], src, off)) return false;
        in.dst = dst, in.src = src, in.off = off;
        return true;
      }
      case Form::kStoreImm:
      case Form::kStoreReg:
      case Form::kAtomic: {
        int16_t off = 0;
        if (!need(2) || !mem(ops[0], dst, off)) return false;
        in.dst = dst, in.off = off;
        if (row.form != Form::kStoreImm) return set_reg(ops[1], src) && (in.src = src, true);
        if (auto n = number(ops[1])) return in.imm = static_cast<int32_t>(*n), true;
        return false;
      }
      case Form::kLddw:
        return false;
    }
    return false;
  }

  bool encode_lddw(const Line& l) {
    uint8_t dst = 0;
    auto r = l.ops.size() == 2 ? reg(l.ops[0]) : std::nullopt;
    if (!r) return fail(l, "lddw needs 'reg, value'");
    dst = *r;
    const std::string& v = l.ops[1];
    Insn a, b;
    a.opcode = 0x18;
    a.dst = dst;
    if (v.rfind("map:", 0) == 0 || v.rfind("mapval:", 0) == 0) {
      const bool val = v[3] != ':';
      const std::string rest = v.substr(val ? 7 : 4);
      const auto plus = rest.find('+');
      auto idx = number(rest.substr(0, plus));
      auto off =
          plus == std::string::npos ? std::optional<int64_t>(0) : number(rest.substr(plus + 1));
      if (!idx || !off) return fail(l, "bad map operand");
      a.src = val ? kPseudoMapValue : kPseudoMapFd;
      a.imm = static_cast<int32_t>(*idx);
      b.imm = static_cast<int32_t>(*off);
    } else {
      auto n = number(v);
      if (!n) return fail(l, "bad lddw value");
      a.imm = static_cast<int32_t>(static_cast<uint64_t>(*n));
      b.imm = static_cast<int32_t>(static_cast<uint64_t>(*n) >> 32);
    }
    out.push_back(a);
    out.push_back(b);
    return true;
  }

  bool encode_raw(const Line& l) {
    // raw opcode dst src off imm (space separated in the first operand)
    std::stringstream ss(l.ops.empty() ? "" : l.ops[0]);
    std::vector<int64_t> f;
    for (std::string t; ss >> t;) {
      auto n = number(t);
      if (!n) return fail(l, "raw needs five numbers");
      f.push_back(*n);
    }
    if (f.size() != 5) return fail(l, "raw needs five numbers: opcode dst src off imm");
    Insn in;
    in.opcode = static_cast<uint8_t>(f[0]);
    in.dst = static_cast<uint8_t>(f[1]);
    in.src = static_cast<uint8_t>(f[2]);
    in.off = static_cast<int16_t>(f[3]);
    in.imm = static_cast<int32_t>(f[4]);
    out.push_back(in);
    return true;
  }

  std::vector<Line> lines_;
  std::map<std::string, uint32_t> labels_;
};

}  // namespace

AsmResult assemble(const std::vector<std::string>& lines) {
  Assembler a;
  AsmResult r;
  if (!a.parse(lines)) r.error = a.error;
  r.insns = std::move(a.out);
  return r;
}

}  // namespace fusebpf::bpf::testing
