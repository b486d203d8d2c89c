// Filters in the CLI: loading --filter / --user-filter, and the control-socket commands that
// inspect them at run time (`fusebpf map`, `fusebpf trace`, the filter part of `stats`).
// Map keys and values travel as hex strings of their raw bytes (little-endian host order).
#include <dlfcn.h>
#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "bpf/helpers/helpers.h"
#include "bpf/isa/isa.h"
#include "cli/commands.h"
#include "cli/control.h"

namespace fusebpf::cli {
namespace {

std::string to_hex(const void* p, size_t n) {
  std::string s;
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) s += fmt::format("{:02x}", b[i]);
  return s;
}

// Parses hex (optionally "0x"-prefixed; spaces and colons ignored) into exactly `size` bytes;
// shorter input is zero-padded at the end (little-endian numbers read naturally).
std::optional<std::vector<std::byte>> from_hex(std::string s, size_t size) {
  if (s.rfind("0x", 0) == 0) s = s.substr(2);
  std::replace(s.begin(), s.end(), ':', ' ');
  auto bytes = bpf::isa::parse_hex_bytes(s);
  if (!bytes || bytes->size() > size) return std::nullopt;
  std::vector<std::byte> out(size);
  std::memcpy(out.data(), bytes->data(), bytes->size());
  return out;
}

// bpf_printk lines kept for `fusebpf trace` (bounded; old lines are dropped).
class TraceRing {
 public:
  static TraceRing& get() {
    static auto* r = new TraceRing;
    return *r;
  }
  void add(std::string_view line) {
    std::lock_guard lock(mu_);
    lines_.emplace_back(line);
    if (lines_.size() > kMax) {
      lines_.pop_front();
      ++first_;
    }
  }
  nlohmann::json since(uint64_t seq) {
    std::lock_guard lock(mu_);
    nlohmann::json lines = nlohmann::json::array();
    uint64_t start = std::max(seq, first_);
    for (uint64_t i = start; i < first_ + lines_.size(); ++i) lines.push_back(lines_[i - first_]);
    return {{"next", first_ + lines_.size()},
            {"lines", lines},
            {"dropped", bpf::trace_lines_dropped()}};
  }

 private:
  static constexpr size_t kMax = 10000;
  std::mutex mu_;
  std::deque<std::string> lines_;
  uint64_t first_ = 0;
};

const char* map_type_name(bpf::MapType t) {
  switch (t) {
    case bpf::MapType::kHash:
      return "hash";
    case bpf::MapType::kArray:
      return "array";
    case bpf::MapType::kLruHash:
      return "lru_hash";
    case bpf::MapType::kLpmTrie:
      return "lpm_trie";
  }
  return "?";
}

// A key or value of `size` bytes as the user typed it: with --typed, by its BTF format (a
// string, a decimal or 0x number); else hex. nullopt with `error` set when it does not fit.
std::optional<std::vector<std::byte>> parse_field(const std::string& text, size_t size,
                                                  bpf::TextFormat format, bool typed,
                                                  std::string* error) {
  if (!typed || format == bpf::TextFormat::kBytes) {
    auto bytes = from_hex(text, size);
    if (!bytes) *error = fmt::format("must be at most {} bytes of hex", size);
    return bytes;
  }
  std::vector<std::byte> out(size);
  if (format == bpf::TextFormat::kString) {
    if (text.size() > size) {
      *error = fmt::format("must be a string of at most {} bytes", size);
      return std::nullopt;
    }
    std::memcpy(out.data(), text.data(), text.size());
    return out;
  }
  const bool is_signed = format == bpf::TextFormat::kSigned;
  errno = 0;
  char* end = nullptr;
  uint64_t bits = is_signed ? static_cast<uint64_t>(std::strtoll(text.c_str(), &end, 0))
                            : std::strtoull(text.c_str(), &end, 0);
  const unsigned shift = 64 - 8 * static_cast<unsigned>(size);
  const bool fits = size == 8 || (is_signed ? (static_cast<int64_t>(bits << shift) >> shift) ==
                                                  static_cast<int64_t>(bits)
                                            : (bits >> (8 * size)) == 0);
  if (text.empty() || *end != '\0' || errno != 0 || (!is_signed && text[0] == '-') || !fits) {
    *error = fmt::format("must be a{} {}-byte integer", is_signed ? " signed" : "n unsigned", size);
    return std::nullopt;
  }
  std::memcpy(out.data(), &bits, size);  // little-endian host
  return out;
}

// The text of a key or value: typed by its BTF format with --typed, else hex.
std::string render_field(const void* p, size_t size, bpf::TextFormat format, bool typed) {
  if (!typed || format == bpf::TextFormat::kBytes) return to_hex(p, size);
  if (format == bpf::TextFormat::kString) {
    const char* s = static_cast<const char*>(p);
    return std::string(s, strnlen(s, size));
  }
  uint64_t bits = 0;
  std::memcpy(&bits, p, size);
  if (format == bpf::TextFormat::kUnsigned) return std::to_string(bits);
  const unsigned shift = 64 - 8 * static_cast<unsigned>(size);
  return std::to_string(static_cast<int64_t>(bits << shift) >> shift);
}

const char* format_name(bpf::TextFormat f) {
  switch (f) {
    case bpf::TextFormat::kString:
      return "string";
    case bpf::TextFormat::kUnsigned:
      return "unsigned";
    case bpf::TextFormat::kSigned:
      return "signed";
    case bpf::TextFormat::kBytes:
      break;
  }
  return "hex";
}

nlohmann::json map_command(const nlohmann::json& req, filter::FilterChain& chain) {
  bpf::Object& obj = *chain.object();
  const bool typed = req.value("typed", false);
  std::string op = req.value("op", "");
  if (op == "list") {
    nlohmann::json maps = nlohmann::json::array();
    for (bpf::Map* m : obj.maps()) {
      const auto& s = m->spec();
      maps.push_back({{"name", s.name},
                      {"type", map_type_name(s.type)},
                      {"key_size", s.key_size},
                      {"value_size", s.value_size},
                      {"max_entries", s.max_entries},
                      {"key_format", format_name(s.key_format)},
                      {"value_format", format_name(s.value_format)}});
    }
    return {{"maps", maps}};
  }
  bpf::Map* m = obj.map(req.value("name", ""));
  if (m == nullptr) return {{"error", "no map named " + req.value("name", "")}};
  const auto& spec = m->spec();
  if (op == "dump") {
    nlohmann::json entries = nlohmann::json::array();
    std::vector<std::byte> key(spec.key_size), next(spec.key_size);
    const void* prev = nullptr;
    while (entries.size() < 100000 && m->next_key(prev, next.data()) == 0) {
      key = next;
      prev = key.data();
      if (void* v = m->lookup(key.data())) {
        entries.push_back({{"key", render_field(key.data(), key.size(), spec.key_format, typed)},
                           {"value", render_field(v, spec.value_size, spec.value_format, typed)}});
      }
    }
    return {{"entries", entries}};
  }
  std::string problem;
  auto key = parse_field(req.value("key", ""), spec.key_size, spec.key_format, typed, &problem);
  if (!key) return {{"error", "key " + problem}};
  if (op == "get") {
    void* v = m->lookup(key->data());
    if (v == nullptr) return {{"error", "no such key"}};
    return {{"value", render_field(v, spec.value_size, spec.value_format, typed)}};
  }
  if (op == "set") {
    auto value =
        parse_field(req.value("value", ""), spec.value_size, spec.value_format, typed, &problem);
    if (!value) return {{"error", "value " + problem}};
    Errno e = chain.map_update(spec.name, *key, *value);
    if (e != Errno::kOk) return {{"error", std::string("update failed: ") + strerror(int(e))}};
    return {{"ok", true}};
  }
  if (op == "delete") {
    Errno e = chain.map_delete(spec.name, *key);
    if (e != Errno::kOk) return {{"error", std::string("delete failed: ") + strerror(int(e))}};
    return {{"ok", true}};
  }
  return {{"error", "unknown map operation: " + op}};
}

// "OBJ.o[:OPS]" -> (OBJ.o, OPS); a colon inside the path is kept when no table name follows.
std::pair<std::string, std::string> split_spec(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos || spec.find('/', colon) != std::string::npos) return {spec, ""};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

}  // namespace

Result<std::unique_ptr<filter::FilterChain>, std::string> load_filters(const MountConfig& config) {
  if (config.filter.empty() && config.user_filter.empty()) {
    return std::unique_ptr<filter::FilterChain>();
  }
  filter::FilterConfig fc;
  fc.engine = config.engine;
  if (!config.filter.empty()) std::tie(fc.bpf_object, fc.ops_name) = split_spec(config.filter);
  if (!config.user_filter.empty()) {
    // lib.so:ARG, where ARG may hold any character (a path, a ':' list).
    auto so = config.user_filter.find(".so:");
    auto [lib, arg] = so == std::string::npos ? split_spec(config.user_filter)
                                              : std::pair(config.user_filter.substr(0, so + 3),
                                                          config.user_filter.substr(so + 4));
    void* handle = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return fail(std::string("--user-filter: ") + dlerror());
    auto factory =
        reinterpret_cast<filter::UserFilterFactory>(dlsym(handle, filter::kUserFilterFactory));
    if (factory == nullptr) {
      dlclose(handle);
      return fail(fmt::format("--user-filter {}: no symbol {}", lib, filter::kUserFilterFactory));
    }
    fc.user.reset(factory(arg.c_str()));
    fc.user_library = handle;
    if (!fc.user) return fail(fmt::format("--user-filter {}: the factory returned null", lib));
  }
  auto chain = filter::FilterChain::create(std::move(fc));
  if (!chain) return fail("--filter " + chain.error());
  return std::move(*chain);
}

void install_trace_buffer() {
  bpf::set_trace_sink([](std::string_view line) { TraceRing::get().add(line); });
}

nlohmann::json filter_control(const nlohmann::json& req, filter::FilterChain* filters) {
  std::string cmd = req.value("cmd", "");
  if (cmd == "trace") return TraceRing::get().since(req.value("since", uint64_t{0}));
  if (filters == nullptr || filters->object() == nullptr) {
    return {{"error", "this mount has no BPF filter"}};
  }
  return map_command(req, *filters);
}

nlohmann::json filter_stats_json(const filter::FilterChain* filters) {
  nlohmann::json ops = nlohmann::json::object();
  if (filters == nullptr) return ops;
  for (const auto& s : filters->stats()) {
    ops[std::string(s.name)] = {
        {"bpf", s.bpf}, {"cxx", s.cxx}, {"backing", s.backing}, {"failed", s.failed}};
  }
  return ops;
}

int run_map(const std::string& mountpoint, const std::vector<std::string>& args, bool typed) {
  static const std::map<std::string, size_t> arity{
      {"list", 1}, {"dump", 2}, {"get", 3}, {"set", 4}, {"delete", 3}};
  auto it = args.empty() ? arity.end() : arity.find(args[0]);
  if (it == arity.end() || args.size() != it->second) {
    std::cerr << "fusebpf map: usage: list | dump NAME | get NAME KEY | set NAME KEY VALUE | "
                 "delete NAME KEY (KEY/VALUE in hex, or typed by BTF with --typed)\n";
    return 2;
  }
  nlohmann::json req{{"cmd", "map"}, {"op", args[0]}, {"typed", typed}};
  if (args.size() > 1) req["name"] = args[1];
  if (args.size() > 2) req["key"] = args[2];
  if (args.size() > 3) req["value"] = args[3];
  auto reply = control_request(mountpoint, req);
  if (!reply || reply->contains("error")) {
    std::cerr << "fusebpf map: " << (reply ? (*reply)["error"].get<std::string>() : reply.error())
              << "\n";
    return 1;
  }
  const auto& r = *reply;
  if (args[0] == "list") {
    for (const auto& m : r["maps"]) {
      std::cout << fmt::format("{:<24} {:<9} key {:>3} ({:<8}) value {:>5} ({:<8}) max {}\n",
                               m["name"].get<std::string>(), m["type"].get<std::string>(),
                               m["key_size"].get<int>(), m["key_format"].get<std::string>(),
                               m["value_size"].get<int>(), m["value_format"].get<std::string>(),
                               m["max_entries"].get<int>());
    }
  } else if (args[0] == "dump") {
    for (const auto& e : r["entries"]) {
      std::cout << e["key"].get<std::string>() << " " << e["value"].get<std::string>() << "\n";
    }
  } else if (args[0] == "get") {
    std::cout << r["value"].get<std::string>() << "\n";
  }
  return 0;
}

int run_trace(const std::string& mountpoint, double seconds) {
  uint64_t since = 0;
  bool first = true;
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    auto reply = control_request(mountpoint, {{"cmd", "trace"}, {"since", since}});
    if (!reply || reply->contains("error")) {
      std::cerr << "fusebpf trace: "
                << (reply ? (*reply)["error"].get<std::string>() : reply.error()) << "\n";
      return 1;
    }
    // Lines already buffered before we attached are skipped, like trace_pipe.
    if (!first) {
      for (const auto& l : (*reply)["lines"]) std::cout << l.get<std::string>() << "\n";
      std::cout.flush();
    }
    first = false;
    since = (*reply)["next"].get<uint64_t>();
    if (seconds > 0 && std::chrono::steady_clock::now() >= end) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace fusebpf::cli
