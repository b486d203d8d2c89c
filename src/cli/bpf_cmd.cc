// `fusebpf bpf exec|disasm|verify`; see bpf_cmd.h.
#include "cli/bpf_cmd.h"

#include <iostream>
#include <memory>

#include "bpf/runtime.h"
#include "cli/bpf_exec.h"
#include "filter/chain.h"

namespace fusebpf::cli {
namespace {

struct BpfArgs {
  bool jit = false;
  bool interp = false;
  std::string memory_hex;
  std::string object;
  uint32_t context_size = 0;
};

int run_disasm(const BpfArgs& args) {
  auto obj = bpf::Object::open(args.object);
  if (!obj) {
    std::cerr << "fusebpf bpf disasm: " << obj.error() << "\n";
    return 1;
  }
  std::cout << bpf::describe(*obj);
  for (const auto& program : obj->programs()) {
    std::cout << "\n" << bpf::disassemble(program);
  }
  return 0;
}

}  // namespace

namespace {

int run_verify(const BpfArgs& args) {
  auto obj = bpf::Object::open(args.object);
  if (!obj) {
    std::cerr << "fusebpf bpf verify: " << obj.error() << "\n";
    return 1;
  }
  // Programs of a `struct fuse_ops` table are checked against their hook's context and the
  // filter platform (kfuncs included), exactly as `fusebpf mount --filter` loads them. Other
  // programs get r1 = a read/write buffer of --context-size bytes.
  bpf::ContextDescriptor raw;
  raw.name = "raw";
  raw.size = args.context_size;
  raw.raw_memory = true;
  raw.r2_is_size = true;
  auto report = bpf::verify_all(*obj, filter::filter_platform(), [&](const bpf::RawProgram& p) {
    const bpf::ContextDescriptor* hook = filter::program_context(*obj, p);
    return hook != nullptr ? hook : &raw;
  });
  std::cout << report.text;
  return report.ok ? 0 : 1;
}

}  // namespace

std::function<int()> add_bpf_commands(CLI::App& app) {
  auto args = std::make_shared<BpfArgs>();
  auto* bpf = app.add_subcommand("bpf", "eBPF tools: conformance runner, disassembler, verifier");
  bpf->require_subcommand(1);
  auto* exec = bpf->add_subcommand("exec", "run a raw program (hex on stdin) on MEMORY_HEX");
  exec->add_flag("--jit", args->jit, "use the x86-64 JIT (default)");
  exec->add_flag("--interp", args->interp, "use the interpreter");
  exec->add_option("memory", args->memory_hex, "memory r1 points at, as hex bytes");
  auto* disasm = bpf->add_subcommand("disasm", "describe and disassemble an object file");
  disasm->add_option("object", args->object, "clang -target bpf object")->required();
  auto* verify = bpf->add_subcommand("verify", "verify every program of an object file");
  verify->add_option("object", args->object, "clang -target bpf object")->required();
  verify->add_option("--context-size", args->context_size,
                     "bytes of read/write context r1 points at (default 0)");
  return [args, exec, disasm, verify]() -> int {
    if (*exec) {
      if (args->jit && args->interp) {
        std::cerr << "fusebpf bpf exec: choose one of --jit and --interp\n";
        return 2;
      }
      return run_bpf_exec(!args->interp, args->memory_hex, std::cin, std::cout, std::cerr);
    }
    if (*disasm) return run_disasm(*args);
    if (*verify) return run_verify(*args);
    return 1;
  };
}

}  // namespace fusebpf::cli
