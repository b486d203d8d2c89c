// Parser of the golden .data format (see golden_case.h).
#include "golden_case.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "bpf/isa/isa.h"

namespace fusebpf::bpf::testing {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  bool neg = s.starts_with('-');
  if (neg) s.remove_prefix(1);
  int base = 10;
  if (s.starts_with("0x")) {
    base = 16;
    s.remove_prefix(2);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return neg ? 0 - v : v;
}

struct Section {
  std::string name;
  std::string arg;  // text after "name:" on the header line
  std::string body;
  uint32_t line = 0;
};

Result<void, std::string> apply(GoldenCase& c, const Section& s) {
  auto where = [&](std::string_view what) {
    return fmt::format("{} (section '{}' at line {}): {}", c.name, s.name, s.line, what);
  };
  if (s.name == "asm") {
    auto insns = isa::assemble(s.body);
    if (!insns)
      return fail(where(fmt::format("asm line {}: {}", insns.error().line, insns.error().message)));
    c.insns = std::move(*insns);
  } else if (s.name == "raw") {
    auto bytes = parse_hex_bytes(s.body);
    if (!bytes || bytes->size() % sizeof(Insn) != 0) return fail(where("bad raw bytes"));
    c.insns.resize(bytes->size() / sizeof(Insn));
    std::memcpy(c.insns.data(), bytes->data(), bytes->size());
  } else if (s.name == "mem") {
    auto bytes = parse_hex_bytes(s.body);
    if (!bytes) return fail(where(bytes.error()));
    c.memory = std::move(*bytes);
  } else if (s.name == "result") {
    c.result = parse_u64(s.body);
    if (!c.result) return fail(where("bad result"));
  } else if (s.name == "budget") {
    c.budget = parse_u64(s.body);
    if (!c.budget) return fail(where("bad budget"));
  } else if (s.name == "error") {
    c.error = std::string(trim(s.body));
  } else if (s.name == "no-jit") {
    c.no_jit = std::string(trim(s.arg));
    if (c.no_jit->empty()) return fail(where("no-jit needs a reason"));
  } else {
    return fail(where("unknown section"));
  }
  return {};
}

Result<void, std::string> finish(GoldenCase& c, std::vector<Section>& sections,
                                 std::vector<GoldenCase>& out) {
  if (sections.empty()) return {};
  for (const Section& s : sections) FUSEBPF_TRY_VOID(apply(c, s));
  sections.clear();
  if (c.insns.empty()) return fail(c.name + ": no program");
  if (c.result.has_value() == c.error.has_value())
    return fail(c.name + ": needs exactly one of 'result' and 'error'");
  out.push_back(std::move(c));
  return {};
}

}  // namespace

Result<std::vector<GoldenCase>, std::string> parse_golden(std::string_view text,
                                                          std::string_view file) {
  std::vector<GoldenCase> out;
  std::vector<Section> sections;
  GoldenCase current{std::string(file), 1};
  uint32_t lineno = 0;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    ++lineno;
    std::string_view t = trim(line);
    if (t.starts_with("===")) {
      FUSEBPF_TRY_VOID(finish(current, sections, out));
      current = GoldenCase{fmt::format("{}:{}", file, trim(t.substr(3))), lineno};
    } else if (t.starts_with("-- ")) {
      std::string_view header = trim(t.substr(3));
      size_t colon = header.find(':');
      sections.push_back(Section{std::string(trim(header.substr(0, colon))),
                                 colon == std::string_view::npos
                                     ? std::string()
                                     : std::string(trim(header.substr(colon + 1))),
                                 "", lineno});
    } else if (t.starts_with('#')) {
      continue;  // comments anywhere
    } else if (!sections.empty()) {
      sections.back().body += line;
      sections.back().body += '\n';
    } else if (!t.empty()) {
      return fail(fmt::format("{}:{}: text outside a section", file, lineno));
    }
  }
  FUSEBPF_TRY_VOID(finish(current, sections, out));
  return out;
}

Result<std::vector<GoldenCase>, std::string> load_golden_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return fail("cannot open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_golden(ss.str(), path.filename().string());
}

}  // namespace fusebpf::bpf::testing
