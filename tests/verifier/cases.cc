// Parser of the golden case format (cases.h) and the default test platform.
#include "cases.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fusebpf::bpf::testing {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<std::string> words(const std::string& s) {
  std::stringstream ss(s);
  std::vector<std::string> out;
  for (std::string w; ss >> w;) out.push_back(w);
  return out;
}

// "key=value" options after positional words.
std::map<std::string, std::string> options(const std::vector<std::string>& ws, size_t from) {
  std::map<std::string, std::string> out;
  for (size_t i = from; i < ws.size(); ++i) {
    const auto eq = ws[i].find('=');
    out[ws[i].substr(0, eq)] = eq == std::string::npos ? "" : ws[i].substr(eq + 1);
  }
  return out;
}

uint32_t num(const std::map<std::string, std::string>& o, const std::string& k, uint32_t def = 0) {
  auto it = o.find(k);
  return it == o.end() ? def : static_cast<uint32_t>(std::stoul(it->second, nullptr, 0));
}

bool parse_arg(const std::string& s, ArgKind& out) {
  static const std::map<std::string, ArgKind> kinds = {{"any", ArgKind::kAnything},
                                                       {"scalar", ArgKind::kScalar},
                                                       {"map", ArgKind::kConstMapPtr},
                                                       {"key", ArgKind::kMapKey},
                                                       {"value", ArgKind::kMapValue},
                                                       {"rmem", ArgKind::kReadableMem},
                                                       {"wmem", ArgKind::kWritableMem},
                                                       {"size", ArgKind::kMemSize},
                                                       {"str", ArgKind::kConstStr},
                                                       {"dynptr-uninit", ArgKind::kDynptrUninit},
                                                       {"dynptr", ArgKind::kDynptr},
                                                       {"object", ArgKind::kCtxObject},
                                                       {"opt-wmem", ArgKind::kOptionalWritableMem}};
  auto it = kinds.find(s);
  if (it == kinds.end()) return false;
  out = it->second;
  return true;
}

// "NAME ARGS -> RET opts" -> prototype
bool parse_proto(const std::vector<std::string>& ws, size_t from, HelperPrototype& p) {
  if (ws.size() < from + 4 || ws[from + 2] != "->") return false;
  p.name = ws[from];
  if (ws[from + 1] != "-") {
    std::stringstream ss(ws[from + 1]);
    int i = 0;
    for (std::string a; std::getline(ss, a, ',') && i < 5; ++i)
      if (!parse_arg(a, p.args[i])) return false;
  }
  static const std::map<std::string, RetKind> rets = {
      {"scalar", RetKind::kScalar},
      {"void", RetKind::kVoid},
      {"map-value-or-null", RetKind::kMapValueOrNull},
      {"mem-or-null", RetKind::kMemOrNull}};
  auto r = rets.find(ws[from + 3]);
  if (r == rets.end()) return false;
  p.ret = r->second;
  const auto o = options(ws, from + 4);
  if (o.count("size-arg")) p.ret_size_arg = static_cast<int>(num(o, "size-arg"));
  p.ret_writable = o.count("writable") > 0;
  if (o.count("object")) p.object_type = o.at("object");
  return true;
}

std::vector<std::byte> hex_bytes(const std::string& hex) {
  std::vector<std::byte> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<std::byte>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

bool parse_map(const std::vector<std::string>& ws, MapSpec& m) {
  static const std::map<std::string, MapType> types = {{"hash", MapType::kHash},
                                                       {"array", MapType::kArray},
                                                       {"lru_hash", MapType::kLruHash},
                                                       {"lpm_trie", MapType::kLpmTrie}};
  if (ws.size() < 3 || !types.count(ws[2])) return false;
  const auto o = options(ws, 3);
  m.name = ws[1];
  m.type = types.at(ws[2]);
  m.key_size = num(o, "key");
  m.value_size = num(o, "value");
  m.max_entries = num(o, "entries", 1);
  m.frozen = o.count("frozen") > 0;
  if (o.count("init")) m.initial_value = hex_bytes(o.at("init"));
  return true;
}

bool parse_field(const std::vector<std::string>& ws, ContextField& f) {
  if (ws.size() < 2) return false;
  const auto o = options(ws, 2);
  f.name = ws[1];
  f.offset = num(o, "off");
  f.size = num(o, "size", 8);
  f.writable = o.count("rw") > 0;
  f.nullable = o.count("nullable") > 0;
  if (o.count("ptr-mem")) {
    f.kind = FieldKind::kPtrToMem;
    f.pointee_size = num(o, "ptr-mem");
    f.pointee_writable = o.count("mem-rw") > 0;
  }
  if (o.count("object")) {
    f.kind = FieldKind::kPtrToObject;
    f.object_type = o.at("object");
  }
  return true;
}

// One "key: value" setup or expectation line.
bool parse_directive(VerifierCase& c, const std::string& key, const std::string& value) {
  const std::vector<std::string> ws = words(value);
  if (key == "ctx") {
    if (ws.size() >= 2 && ws[0] == "raw") {
      c.ctx = ContextDescriptor{"raw",
                                static_cast<uint32_t>(std::stoul(ws[1])),
                                {},
                                true,
                                ws.size() > 2 && ws[2] == "r2-size"};
      return true;
    }
    if (ws.size() != 3 || ws[0] != "fields") return false;
    c.ctx = ContextDescriptor{ws[1], static_cast<uint32_t>(std::stoul(ws[2])), {}, false, false};
    return true;
  }
  if (key == "field") {
    ContextField f;
    std::vector<std::string> w2{"field"};
    w2.insert(w2.end(), ws.begin(), ws.end());
    if (!parse_field(w2, f)) return false;
    c.ctx.fields.push_back(f);
    return true;
  }
  if (key == "map") {
    MapSpec m;
    std::vector<std::string> w2{"map"};
    w2.insert(w2.end(), ws.begin(), ws.end());
    if (!parse_map(w2, m)) return false;
    c.maps.push_back(m);
    return true;
  }
  if (key == "helper") {
    HelperPrototype p;
    if (ws.empty() || !parse_proto(ws, 1, p)) return false;
    c.helpers.emplace_back(std::stoi(ws[0]), p);
    return true;
  }
  if (key == "kfunc") {
    HelperPrototype p;
    if (!parse_proto(ws, 0, p)) return false;
    c.kfuncs.push_back(p);
    return true;
  }
  if (key == "kfuncs") return c.kfunc_names = ws, true;
  if (key == "line") {
    if (ws.size() < 3) return false;
    std::string text;
    for (size_t i = 3; i < ws.size(); ++i) text += (i > 3 ? " " : "") + ws[i];
    c.lines.push_back({static_cast<uint32_t>(std::stoul(ws[0])), ws[1],
                       static_cast<uint32_t>(std::stoul(ws[2])), text});
    return true;
  }
  if (key == "option" && value == "no-loops") return c.no_loops = true;
  if (key == "option" && value == "allow-dead-code") return c.allow_dead_code = true;
  if (key == "expect") return value == "accept" && (c.expect_accept = true);
  if (key == "expect-reject") return !value.empty() && (c.reject_substring = value, true);
  if (key == "pc") return c.pc = static_cast<uint32_t>(std::stoul(value)), true;
  if (key == "diag") return c.diag_code = value, true;
  if (key == "stack") return c.stack = static_cast<uint32_t>(std::stoul(value)), true;
  return false;
}

void parse_file(const std::string& path, std::vector<VerifierCase>& out) {
  std::ifstream in(path);
  const std::string file = std::filesystem::path(path).filename().string();
  VerifierCase* c = nullptr;
  bool in_code = false;
  size_t n = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++n;
    const std::string t = trim(raw);
    if (t.rfind("===", 0) == 0) {
      out.push_back(VerifierCase{});
      c = &out.back();
      c->file = file;
      c->name = trim(t.substr(3));
      c->line = n;
      c->ctx = default_context();
      in_code = false;
      continue;
    }
    if (c == nullptr || t.empty() || t[0] == '#') continue;
    if (t == "code:") {
      in_code = true;
      continue;
    }
    const auto colon = t.find(':');
    const std::string key = colon == std::string::npos ? "" : t.substr(0, colon);
    if (in_code && key != "expect" && key != "expect-reject") {
      c->code.push_back(t);
      continue;
    }
    in_code = false;
    if (colon == std::string::npos || !parse_directive(*c, key, trim(t.substr(colon + 1))))
      c->parse_error = fmt::format("{}:{}: cannot parse '{}'", file, n, t);
  }
}

}  // namespace

uint64_t dummy_helper(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t) { return 0; }

ContextDescriptor default_context() {
  ContextDescriptor c{"test_ctx", 32, {}, false, false};
  c.fields.push_back({0, 4, false, FieldKind::kScalar, 0, false, false, "", "len"});
  c.fields.push_back({4, 4, true, FieldKind::kScalar, 0, false, false, "", "flags"});
  c.fields.push_back({8, 8, false, FieldKind::kPtrToMem, 64, false, false, "", "data"});
  c.fields.push_back({16, 8, false, FieldKind::kPtrToMem, 16, true, true, "", "out"});
  c.fields.push_back({24, 8, false, FieldKind::kPtrToObject, 0, false, true, "fuse_buffer", "buf"});
  return c;
}

Platform make_platform(const VerifierCase& c) {
  using A = ArgKind;
  Platform p;
  auto helper = [&](int32_t id, std::string name, std::array<ArgKind, 5> args, RetKind ret,
                    int size_arg = -1, bool writable = false) {
    p.add_helper(id, HelperPrototype{std::move(name), args, ret, size_arg, writable, ""},
                 dummy_helper);
  };
  helper(1, "bpf_map_lookup_elem", {A::kConstMapPtr, A::kMapKey}, RetKind::kMapValueOrNull);
  helper(2, "bpf_map_update_elem", {A::kConstMapPtr, A::kMapKey, A::kMapValue, A::kScalar},
         RetKind::kScalar);
  helper(3, "bpf_map_delete_elem", {A::kConstMapPtr, A::kMapKey}, RetKind::kScalar);
  helper(4, "bpf_probe_read", {A::kWritableMem, A::kMemSize, A::kAnything}, RetKind::kScalar);
  helper(5, "bpf_ktime_get_ns", {}, RetKind::kScalar);
  helper(6, "bpf_trace_printk",
         {A::kReadableMem, A::kMemSize, A::kAnything, A::kAnything, A::kAnything},
         RetKind::kScalar);
  helper(182, "bpf_strncmp", {A::kReadableMem, A::kMemSize, A::kConstStr}, RetKind::kScalar);
  helper(197, "bpf_dynptr_from_mem", {A::kWritableMem, A::kMemSize, A::kScalar, A::kDynptrUninit},
         RetKind::kScalar);
  helper(201, "bpf_dynptr_read", {A::kWritableMem, A::kMemSize, A::kDynptr, A::kScalar, A::kScalar},
         RetKind::kScalar);
  helper(202, "bpf_dynptr_write",
         {A::kDynptr, A::kScalar, A::kReadableMem, A::kMemSize, A::kScalar}, RetKind::kScalar);
  helper(203, "bpf_dynptr_data", {A::kDynptr, A::kScalar, A::kScalar}, RetKind::kMemOrNull, 2,
         true);
  p.add_kfunc({"bpf_dynptr_slice",
               {A::kDynptr, A::kScalar, A::kOptionalWritableMem, A::kMemSize},
               RetKind::kMemOrNull,
               3,
               false,
               ""},
              dummy_helper);
  p.add_kfunc({"bpf_dynptr_slice_rdwr",
               {A::kDynptr, A::kScalar, A::kOptionalWritableMem, A::kMemSize},
               RetKind::kMemOrNull,
               3,
               true,
               ""},
              dummy_helper);
  p.add_kfunc({"fuse_buf_size", {A::kCtxObject}, RetKind::kScalar, -1, false, "fuse_buffer"},
              dummy_helper);
  for (const auto& [id, proto] : c.helpers) p.add_helper(id, proto, dummy_helper);
  for (const auto& proto : c.kfuncs) p.add_kfunc(proto, dummy_helper);
  return p;
}

std::vector<VerifierCase> load_cases(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::vector<VerifierCase> out;
  for (const auto& f : files) parse_file(f, out);
  return out;
}

}  // namespace fusebpf::bpf::testing
