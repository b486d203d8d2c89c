// Test assembler (asm.h): `raw` lines become placeholder slots that are patched after
// isa::assemble has resolved labels, so labels keep counting them.
#include "asm.h"

#include <fmt/format.h>

#include <sstream>

#include "bpf/isa/isa.h"

namespace fusebpf::bpf::testing {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

bool parse_raw(const std::string& line, Insn& out) {
  std::stringstream ss(line.substr(3));
  long long f[5];
  for (long long& v : f) {
    std::string t;
    if (!(ss >> t)) return false;
    v = std::stoll(t, nullptr, 0);
  }
  out.opcode = static_cast<uint8_t>(f[0]);
  out.dst = static_cast<uint8_t>(f[1]);
  out.src = static_cast<uint8_t>(f[2]);
  out.off = static_cast<int16_t>(f[3]);
  out.imm = static_cast<int32_t>(f[4]);
  return true;
}

}  // namespace

AsmResult assemble(const std::vector<std::string>& lines) {
  AsmResult r;
  std::string text;
  std::vector<std::pair<size_t, Insn>> raws;
  size_t slot = 0;
  for (size_t n = 0; n < lines.size(); ++n) {
    const std::string t = trim(lines[n].substr(0, lines[n].find(';')));
    if (t.empty() || t.back() == ':') {
      text += t + "\n";
      continue;
    }
    if (t.rfind("raw ", 0) == 0) {
      Insn in;
      if (!parse_raw(t, in)) {
        r.error = fmt::format("line {}: raw needs OPCODE DST SRC OFF IMM", n + 1);
        return r;
      }
      raws.emplace_back(slot++, in);
      text += "exit\n";
      continue;
    }
    slot += t.rfind("lddw", 0) == 0 ? 2 : 1;
    text += t + "\n";
  }
  auto a = isa::assemble(text);
  if (!a) {
    r.error = fmt::format("line {}: {}", a.error().line, a.error().message);
    return r;
  }
  r.insns = std::move(*a);
  for (const auto& [at, in] : raws) r.insns[at] = in;
  return r;
}

}  // namespace fusebpf::bpf::testing
