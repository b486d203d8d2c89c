// verify(): decode -> structural checks (cfg) -> fixpoint -> checking pass -> VerifiedProgram.
// Each stage rejects with Diagnostics; only a program with no finding is wrapped.
#include "bpf/verifier/verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "bpf/internal/verifier_access.h"
#include "bpf/isa/isa.h"
#include "bpf/verifier/internal/analyzer.h"

namespace fusebpf::bpf::verifier {
namespace {

// The instruction at pc in the ISA's assembler syntax, with the callee's name for calls.
std::string instruction_text(const RawProgram& prog, const std::vector<Instruction>& ast,
                             uint32_t pc, const Platform& platform) {
  const Insn* next = pc + 1 < prog.insns.size() ? &prog.insns[pc + 1] : nullptr;
  std::string text = isa::disassemble(prog.insns[pc], next);
  if (const auto* c = std::get_if<Call>(&ast[pc])) {
    if (c->kind == Call::Kind::kHelper) {
      if (const Helper* h = platform.helper(c->imm)) text += "  ; " + h->proto.name;
    } else if (c->kind == Call::Kind::kKfunc && c->imm >= 0 &&
               static_cast<size_t>(c->imm) < prog.kfunc_names.size()) {
      text += "  ; " + prog.kfunc_names[c->imm];
    }
  }
  return text;
}

Diagnostics to_diagnostics(std::vector<Finding> findings, const RawProgram& prog,
                           const std::vector<Instruction>& ast, const Platform& platform,
                           size_t limit) {
  std::stable_sort(findings.begin(), findings.end(),
                   [](const Finding& a, const Finding& b) { return a.pc < b.pc; });
  Diagnostics out;
  std::set<std::pair<uint32_t, std::string>> seen;
  for (Finding& f : findings) {
    if (out.size() >= limit) break;
    if (!seen.emplace(f.pc, f.message).second) continue;
    Diagnostic d;
    d.pc = f.pc;
    d.section = prog.section;
    d.code = std::move(f.code);
    d.message = std::move(f.message);
    if (f.pc < ast.size()) d.disasm = instruction_text(prog, ast, f.pc, platform);
    if (const LineInfo* l = prog.line_at(f.pc))
      d.source = fmt::format("{}:{}: {}", l->file, l->line, l->text);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Finding> from_decode(std::vector<DecodeError> errors) {
  std::vector<Finding> out;
  for (DecodeError& e : errors) out.push_back({e.pc, std::move(e.code), std::move(e.message)});
  return out;
}

void reject_loops(const std::vector<Instruction>& ast, std::vector<DecodeError>& errors) {
  for (uint32_t pc = 0; pc < ast.size(); ++pc) {
    const auto* j = std::get_if<Jump>(&ast[pc]);
    if (j != nullptr && j->target <= pc)
      errors.push_back({pc, "loop", "backward jump (loop) while loops are disabled"});
  }
}

uint32_t stack_size_of(int64_t lowest) {
  const auto bytes = static_cast<uint32_t>(-lowest);
  return std::min<uint32_t>((bytes + 7) / 8 * 8, kStackSize);
}

}  // namespace

Result<VerifiedProgram, Diagnostics> verify(const RawProgram& program, const Platform& platform,
                                            const ContextDescriptor& context,
                                            const VerifyOptions& options) {
  std::vector<DecodeError> errors;
  const std::vector<Instruction> ast = decode(program.insns, errors);
  if (!options.allow_loops) reject_loops(ast, errors);
  Cfg cfg;
  if (errors.empty()) cfg = build_cfg(ast, options.allow_dead_code, errors);
  if (!errors.empty())
    return fail(to_diagnostics(from_decode(std::move(errors)), program, ast, platform,
                               options.max_diagnostics));

  Env env{program, platform, context, ast};
  env.call_targets.assign(ast.size(), nullptr);
  Analyzer analyzer(env, cfg);
  const auto fix = solve(analyzer, FixpointLimits{options.max_steps, 2});
  if (!fix.converged) {
    env.findings.push_back(
        {0, "too-complex",
         fmt::format("the program is too complex to verify within {} steps", options.max_steps)});
  } else {
    analyzer.check(fix.in);
  }
  if (!env.findings.empty())
    return fail(
        to_diagnostics(std::move(env.findings), program, ast, platform, options.max_diagnostics));
  return VerifierAccess::make(program, std::move(env.call_targets), context,
                              stack_size_of(env.lowest_stack_offset));
}

std::string format_diagnostics(const Diagnostics& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    out += fmt::format("pc {}: {}", d.pc, d.message);
    if (!d.source.empty()) out += fmt::format("  ({})", d.source);
    out += '\n';
    if (!d.disasm.empty()) out += fmt::format("    {:>4}: {}\n", d.pc, d.disasm);
  }
  return out;
}

}  // namespace fusebpf::bpf::verifier
