// The bpf_conformance plugin (see bpf_exec.h): parse, verify, run, print r0.
#include "cli/bpf_exec.h"

#include <fmt/format.h>

#include <cctype>
#include <cstring>
#include <istream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/interp/interpreter.h"
#include "bpf/isa/isa.h"
#include "bpf/jit/jit.h"
#include "bpf/verifier/verifier.h"

namespace fusebpf::cli {
namespace {

Result<bpf::VerifiedProgram, std::string> load(std::istream& program_hex, uint32_t mem_size) {
  std::string text{std::istreambuf_iterator<char>(program_hex), std::istreambuf_iterator<char>()};
  auto bytes = bpf::isa::parse_hex_bytes(text);
  if (!bytes) return fail("program: " + bytes.error());
  if (bytes->empty() || bytes->size() % sizeof(bpf::Insn) != 0)
    return fail(
        fmt::format("program: {} bytes is not a whole number of instructions", bytes->size()));
  bpf::RawProgram raw;
  raw.name = "exec";
  raw.insns.resize(bytes->size() / sizeof(bpf::Insn));
  std::memcpy(raw.insns.data(), bytes->data(), bytes->size());
  static const bpf::Platform platform = bpf::Platform::standard();
  const bpf::ContextDescriptor context{"raw_memory", mem_size, {}, true, true};
  // Conformance programs may contain unreachable instructions: they are harmless to run.
  bpf::verifier::VerifyOptions options;
  options.allow_dead_code = true;
  auto verified = bpf::verifier::verify(raw, platform, context, options);
  if (!verified) {
    std::string message = "verification failed";
    if (!verified.error().empty()) message += ": " + verified.error().front().message;
    if (!verified.error().empty()) message += fmt::format(" (pc {})", verified.error().front().pc);
    return fail(message);
  }
  return std::move(*verified);
}

}  // namespace

int run_bpf_exec(bool use_jit, std::string_view memory_hex, std::istream& program_hex,
                 std::ostream& out, std::ostream& err) {
  auto memory = bpf::isa::parse_hex_bytes(memory_hex);
  if (!memory) {
    err << "memory: " << memory.error() << '\n';
    return 1;
  }
  auto program = load(program_hex, static_cast<uint32_t>(memory->size()));
  if (!program) {
    err << program.error() << '\n';
    return 1;
  }
  void* ctx = memory->empty() ? nullptr : memory->data();
  Result<uint64_t, bpf::RunError> r = fail(bpf::RunError::kOutOfBounds);
  if (use_jit) {
    auto jit = bpf::jit::JitProgram::compile(*program);
    if (!jit) {
      err << "jit: " << jit.error() << '\n';
      return 1;
    }
    r = jit->run(ctx, memory->size());
  } else {
    r = bpf::interp::Interpreter(*program).run(ctx, memory->size());
  }
  if (!r) {
    err << "run failed: " << bpf::run_error_name(r.error()) << '\n';
    return 1;
  }
  out << fmt::format("{:x}", *r) << '\n';
  return 0;
}

}  // namespace fusebpf::cli
