// Structural checks and basic blocks. Everything here is decidable from the instruction stream
// alone, so it runs before the abstract interpretation and keeps the analysis simple: when the
// analysis starts, every jump lands on an instruction of its own function and every function
// ends in exit or an unconditional jump.
#include "bpf/verifier/internal/cfg.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "bpf/verifier/internal/state.h"

namespace fusebpf::bpf::verifier {
namespace {

using Errors = std::vector<DecodeError>;

bool valid_target(const std::vector<Instruction>& ast, int64_t t) {
  return t >= 0 && t < static_cast<int64_t>(ast.size());
}

// Checks jump and call targets; returns the sorted function entries.
std::vector<uint32_t> check_targets(const std::vector<Instruction>& ast, Errors& errors) {
  std::vector<uint32_t> entries{0};
  for (uint32_t pc = 0; pc < ast.size(); ++pc) {
    int64_t t = -1;
    const char* what = "jump";
    if (const auto* j = std::get_if<Jump>(&ast[pc])) t = j->target;
    if (const auto* c = std::get_if<Call>(&ast[pc]); c && c->kind == Call::Kind::kLocal) {
      t = c->target;
      what = "call";
    }
    if (t == -1 && !std::holds_alternative<Jump>(ast[pc])) continue;
    if (!valid_target(ast, t)) {
      errors.push_back(
          {pc, "jump-out-of-range",
           fmt::format("{} target pc {} is outside the program (0..{})", what, t, ast.size() - 1)});
    } else if (std::holds_alternative<LddwTail>(ast[t])) {
      errors.push_back({pc, "jump-into-lddw",
                        fmt::format("{} target pc {} is the second half of a lddw", what, t)});
    } else if (std::string_view(what) == "call") {
      entries.push_back(static_cast<uint32_t>(t));
    }
  }
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());
  return entries;
}

std::vector<Function> make_functions(const std::vector<uint32_t>& entries, size_t n) {
  std::vector<Function> fns;
  for (size_t i = 0; i < entries.size(); ++i)
    fns.push_back({entries[i], i + 1 < entries.size() ? entries[i + 1] : static_cast<uint32_t>(n)});
  return fns;
}

size_t function_of(const std::vector<Function>& fns, uint32_t pc) {
  auto it = std::upper_bound(fns.begin(), fns.end(), pc,
                             [](uint32_t p, const Function& f) { return p < f.entry; });
  return static_cast<size_t>(std::prev(it) - fns.begin());
}

void check_functions(const std::vector<Instruction>& ast, const std::vector<Function>& fns,
                     Errors& errors) {
  for (const Function& f : fns) {
    const uint32_t last = f.end - 1;
    if (!is_jump_or_exit(ast[last])) {
      errors.push_back({last, "no-exit",
                        f.entry == 0 && fns.size() == 1
                            ? "the program does not end in exit or an unconditional jump"
                            : fmt::format("the function at pc {} does not end in exit or an "
                                          "unconditional jump (it would run into the next one)",
                                          f.entry)});
    }
    for (uint32_t pc = f.entry; pc < f.end; ++pc) {
      const auto* j = std::get_if<Jump>(&ast[pc]);
      if (j != nullptr && (j->target < f.entry || j->target >= f.end))
        errors.push_back({pc, "jump-out-of-function",
                          fmt::format("jump to pc {} leaves the function at pc {}; use a call",
                                      j->target, f.entry)});
    }
  }
}

// Successors in the intra- and inter-procedural CFG (calls: callee entry and return site).
std::vector<uint32_t> successors(const std::vector<Instruction>& ast, uint32_t pc) {
  std::vector<uint32_t> out;
  const Instruction& in = ast[pc];
  const uint32_t next = pc + (std::holds_alternative<LoadImm>(in) ? 2 : 1);
  if (const auto* j = std::get_if<Jump>(&in)) {
    out.push_back(static_cast<uint32_t>(j->target));
    if (j->op != JmpOp::kJa) out.push_back(next);
  } else if (!std::holds_alternative<Exit>(in)) {
    if (const auto* c = std::get_if<Call>(&in); c && c->kind == Call::Kind::kLocal)
      out.push_back(static_cast<uint32_t>(c->target));
    if (next < ast.size()) out.push_back(next);
  }
  return out;
}

void check_reachable(const std::vector<Instruction>& ast, Errors& errors) {
  std::vector<bool> seen(ast.size(), false);
  std::vector<uint32_t> work{0};
  seen[0] = true;
  while (!work.empty()) {
    const uint32_t pc = work.back();
    work.pop_back();
    for (uint32_t s : successors(ast, pc))
      if (!seen[s]) {
        seen[s] = true;
        work.push_back(s);
      }
  }
  bool in_run = false;  // report each run of dead instructions once
  for (uint32_t pc = 0; pc < ast.size(); ++pc) {
    if (std::holds_alternative<LddwTail>(ast[pc])) continue;
    const bool report = !seen[pc] && !in_run;
    in_run = !seen[pc];
    if (!report) continue;
    errors.push_back({pc, "unreachable",
                      "unreachable instruction: no path from the entry reaches it (dead code is "
                      "rejected so every instruction is verified)"});
  }
}

// Call depth over the call graph: height[f] = frames needed by a call of f. An acyclic graph
// is checked here (with the clearest diagnostic); recursion is allowed and its depth is bounded
// by the analysis, which rejects a call that would need more than kMaxFrames frames.
class CallGraph {
 public:
  CallGraph(const std::vector<Instruction>& ast, const std::vector<Function>& fns)
      : ast_(ast), fns_(fns), height_(fns.size(), 0), state_(fns.size(), 0) {}

  void check(Errors& errors) {
    visit(0);
    if (recursive_) return;
    // Report the call that first needs more than kMaxFrames frames.
    if (height_[0] <= kMaxFrames) return;
    size_t fn = 0;
    for (int depth = 1; depth <= kMaxFrames; ++depth) {
      for (uint32_t pc = fns_[fn].entry; pc < fns_[fn].end; ++pc) {
        const size_t callee = callee_at(pc);
        if (callee == kNone || height_[callee] + 1 != height_[fn]) continue;
        if (depth == kMaxFrames) {
          errors.push_back({pc, "call-depth",
                            fmt::format("call nesting exceeds {} frames ({} nested calls)",
                                        kMaxFrames, kMaxFrames - 1)});
          return;
        }
        fn = callee;
        break;
      }
    }
  }

 private:
  static constexpr size_t kNone = ~size_t{0};

  size_t callee_at(uint32_t pc) const {
    const auto* c = std::get_if<Call>(&ast_[pc]);
    if (c == nullptr || c->kind != Call::Kind::kLocal) return kNone;
    return function_of(fns_, static_cast<uint32_t>(c->target));
  }

  void visit(size_t fn) {
    state_[fn] = 1;  // on the DFS path
    int h = 1;
    for (uint32_t pc = fns_[fn].entry; pc < fns_[fn].end; ++pc) {
      const size_t callee = callee_at(pc);
      if (callee == kNone) continue;
      if (state_[callee] == 1) {
        recursive_ = true;
        continue;
      }
      if (state_[callee] == 0) visit(callee);
      h = std::max(h, height_[callee] + 1);
    }
    height_[fn] = h;
    state_[fn] = 2;
  }

  const std::vector<Instruction>& ast_;
  const std::vector<Function>& fns_;
  std::vector<int> height_;
  std::vector<uint8_t> state_;
  bool recursive_ = false;
};

void make_blocks(const std::vector<Instruction>& ast, const std::vector<Function>& fns, Cfg& cfg) {
  std::set<uint32_t> leaders;
  std::set<uint32_t> heads;
  for (const Function& f : fns) leaders.insert(f.entry);
  for (uint32_t pc = 0; pc < ast.size(); ++pc) {
    const Instruction& in = ast[pc];
    const auto* j = std::get_if<Jump>(&in);
    const auto* c = std::get_if<Call>(&in);
    if (j != nullptr) {
      leaders.insert(static_cast<uint32_t>(j->target));
      if (j->target <= pc) heads.insert(static_cast<uint32_t>(j->target));
      if (!j->src.is_reg) {
        for (int64_t d = -1; d <= 1; ++d) cfg.thresholds.push_back(j->src.imm + d);
      }
    }
    if (j != nullptr || std::holds_alternative<Exit>(in) || (c && c->kind == Call::Kind::kLocal))
      if (pc + 1 < ast.size()) leaders.insert(pc + 1);
  }
  std::sort(cfg.thresholds.begin(), cfg.thresholds.end());
  cfg.block_at.assign(ast.size(), -1);
  for (auto it = leaders.begin(); it != leaders.end(); ++it) {
    const auto next = std::next(it);
    const uint32_t end = next == leaders.end() ? static_cast<uint32_t>(ast.size()) : *next;
    cfg.block_at[*it] = static_cast<int32_t>(cfg.blocks.size());
    cfg.blocks.push_back({*it, end, heads.count(*it) > 0});
  }
}

}  // namespace

Cfg build_cfg(const std::vector<Instruction>& ast, bool allow_dead_code,
              std::vector<DecodeError>& errors) {
  Cfg cfg;
  if (ast.empty()) {
    errors.push_back({0, "empty", "the program has no instructions"});
    return cfg;
  }
  const size_t before = errors.size();
  const std::vector<uint32_t> entries = check_targets(ast, errors);
  if (errors.size() != before) return cfg;
  cfg.functions = make_functions(entries, ast.size());
  check_functions(ast, cfg.functions, errors);
  if (errors.size() != before) return cfg;
  if (!allow_dead_code) check_reachable(ast, errors);
  CallGraph(ast, cfg.functions).check(errors);
  if (errors.size() != before) return cfg;
  make_blocks(ast, cfg.functions, cfg);
  return cfg;
}

}  // namespace fusebpf::bpf::verifier
