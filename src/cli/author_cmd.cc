// `fusebpf compile` and `fusebpf verify`; see author_cmd.h.
#include "cli/author_cmd.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include "bpf/runtime.h"
#include "filter/chain.h"

namespace fusebpf::cli {
namespace {

struct AuthorArgs {
  std::string source;
  std::string output;
  std::vector<std::string> includes;
  std::vector<std::string> defines;
  bool no_verify = false;
  std::string object;
};

bool is_file(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Where fuse_bpf.h lives: next to an installed binary (PREFIX/bin -> PREFIX/include/fusebpf),
// else the source tree this binary was built from.
std::string filter_include_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto installed = exe.parent_path().parent_path() / "include" / "fusebpf";
    if (is_file((installed / "fuse_bpf.h").string())) return installed.string();
  }
  return FUSEBPF_SOURCE_INCLUDE_DIR;
}

// $FUSEBPF_CLANG, else clang-14, else clang (the first found in PATH).
std::string find_clang() {
  if (const char* c = getenv("FUSEBPF_CLANG"); c != nullptr && *c) return c;
  const char* path = getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (const char* name : {"clang-14", "clang"}) {
    size_t start = 0;
    while (start <= dirs.size()) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return "";
}

// Runs argv, waits; returns its exit status (127 if it could not start).
int run_program(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_verify(const std::string& path) {
  auto obj = bpf::Object::open(path);
  if (!obj) {
    std::cerr << "fusebpf verify: " << obj.error() << "\n";
    return 1;
  }
  // Per program: the verifier's verdict against the hook it is bound to. Programs no table
  // binds are never loaded by a mount, so they cannot make it fail.
  bool ok = true;
  std::cout << "programs:\n";
  for (const bpf::RawProgram& p : obj->programs()) {
    const bpf::ContextDescriptor* ctx = filter::program_context(*obj, p);
    if (ctx == nullptr) {
      std::cout << fmt::format("{} [{}]: not bound to a filter hook (a mount does not load it)\n",
                               p.name, p.section);
      continue;
    }
    auto verified = obj->verify(p.name, *ctx, &filter::filter_platform());
    if (verified) {
      std::cout << fmt::format("{} [{}]: ok ({} insns, stack {} bytes)\n", p.name, p.section,
                               verified->insns().size(), verified->stack_size());
    } else {
      ok = false;
      std::cout << verified.error() << "\n";
    }
  }
  std::cout << "maps:";
  if (obj->maps().empty()) std::cout << " none";
  std::cout << "\n";
  for (bpf::Map* m : obj->maps()) {
    const auto& s = m->spec();
    std::cout << fmt::format("  {}: key {} value {} max_entries {}{}\n", s.name, s.key_size,
                             s.value_size, s.max_entries, s.frozen ? " read-only" : "");
  }
  if (!ok) {
    std::cout << "verdict: REJECTED (fusebpf mount --filter would refuse this object)\n";
    return 1;
  }
  // The tables as a mount would load them.
  filter::FilterConfig config;
  config.bpf_object = path;
  config.engine = bpf::Engine::kInterpreter;
  auto chain = filter::FilterChain::create(std::move(config));
  if (!chain) {
    std::cout << "verdict: REJECTED\n" << chain.error() << "\n";
    return 1;
  }
  auto consequences = [](const filter::BpfOps* ops) {
    if (ops == nullptr) return;
    std::cout << "  names/attributes: "
              << (!ops->filters_names() ? "not filtered"
                  : ops->per_caller()   ? "filtered per caller (never cached by the kernel)"
                                        : "filtered (cached; host map writes invalidate)")
              << "\n  file data: "
              << (ops->filters_data() ? "filtered (files served by the daemon)"
                                      : "not filtered (kernel passthrough kept)")
              << "\n";
  };
  for (const auto& table : obj->struct_ops()) {
    if (table.type_name != "fuse_ops") continue;
    std::string name = table.string_member("name");
    if (name.empty()) name = table.var_name;
    std::cout << fmt::format("fuse_ops {}:", name);
    for (const auto& m : table.members) {
      if (!m.program.empty()) std::cout << " " << m.name;
    }
    std::cout << "\n";
    consequences((*chain)->ops_by_name(name));
  }
  for (const auto& p : obj->programs()) {
    if (p.section.rfind("fuse/", 0) != 0) continue;
    std::string name = p.section.substr(5);
    std::cout << fmt::format("{} (Android single-program form): every op\n", name);
    consequences((*chain)->ops_by_name(name));
  }
  std::cout << "verdict: ok\n";
  return 0;
}

int run_compile(const AuthorArgs& args) {
  if (!is_file(args.source)) {
    std::cerr << "fusebpf compile: " << args.source << ": no such file\n";
    return 1;
  }
  std::string out = args.output;
  if (out.empty()) {
    std::string base = args.source;
    if (base.size() > 2 && base.ends_with(".c")) base.resize(base.size() - 2);
    out = base + ".o";
  }
  std::string clang = find_clang();
  if (clang.empty()) {
    std::cerr << "fusebpf compile: clang not found (install clang-14 or set FUSEBPF_CLANG)\n";
    return 1;
  }
  // Compile to a temporary name and rename, so a failed build never leaves a stale object.
  std::string tmp = out + ".tmp" + std::to_string(getpid());
  std::vector<std::string> argv = {
      clang, "-O2", "-g", "-target", "bpf", "-Wall", "-I" + filter_include_dir()};
  for (const auto& i : args.includes) argv.push_back("-I" + i);
  for (const auto& d : args.defines) argv.push_back("-D" + d);
  argv.insert(argv.end(), {"-c", args.source, "-o", tmp});
  int rc = run_program(argv);
  if (rc != 0) {
    ::unlink(tmp.c_str());
    std::cerr << fmt::format("fusebpf compile: {} failed (exit {})\n", clang, rc);
    return 1;
  }
  if (::rename(tmp.c_str(), out.c_str()) != 0) {
    ::unlink(tmp.c_str());
    std::cerr << "fusebpf compile: cannot write " << out << ": " << strerror(errno) << "\n";
    return 1;
  }
  std::cout << "wrote " << out << "\n";
  return args.no_verify ? 0 : run_verify(out);
}

}  // namespace

std::function<int()> add_author_commands(CLI::App& app) {
  auto args = std::make_shared<AuthorArgs>();
  auto* compile = app.add_subcommand(
      "compile", "compile a BPF filter with clang and our headers, then verify it");
  compile->add_option("source", args->source, "FILTER.bpf.c")->required();
  compile->add_option("-o,--output", args->output, "object file (default: FILTER.bpf.o)");
  compile->add_option("-I", args->includes, "extra include directory");
  compile->add_option("-D", args->defines, "preprocessor definition NAME[=VALUE]");
  compile->add_flag("--no-verify", args->no_verify, "only compile");
  auto* verify = app.add_subcommand(
      "verify", "check a filter object as `mount --filter` would: ops, maps, verdict");
  verify->add_option("object", args->object, "FILTER.bpf.o")->required();
  return [args, compile, verify]() -> int {
    if (*compile) return run_compile(*args);
    if (*verify) return run_verify(args->object);
    return -1;
  };
}

}  // namespace fusebpf::cli
