// Block-level driver of the per-instruction transfer functions, plus the termination check:
// after the fixpoint, every reached node must be able to reach a program exit along edges the
// analysis found feasible; otherwise the program contains a loop it can never leave.
#include "bpf/verifier/internal/analyzer.h"

#include <fmt/format.h>

#include <functional>
#include <set>

namespace fusebpf::bpf::verifier {

uint32_t Analyzer::child_context(uint32_t parent, uint32_t call_pc) {
  auto [it, fresh] =
      context_ids_.try_emplace({parent, call_pc}, static_cast<uint32_t>(contexts_.size()));
  if (fresh) contexts_.emplace_back(parent, call_pc);
  return it->second;
}

void Analyzer::run_block(const Node& node, State& s, const EmitFn& emit) {
  const Block& b = cfg_.blocks[node.block];
  for (uint32_t pc = b.start; pc < b.end; ++pc) {
    bool ended = false;
    if (!run_insn(node, pc, s, emit, ended) || ended) return;
  }
  emit(at(node.context, b.end), std::move(s));
}

// Executes one instruction; `ended` is set when it transferred control (jump, call, exit).
bool Analyzer::run_insn(const Node& node, uint32_t pc, State& s, const EmitFn& emit, bool& ended) {
  const Instruction& insn = env_.ast[pc];
  if (const auto* j = std::get_if<Jump>(&insn)) {
    ended = true;
    if (!check_jump(env_, s, *j, pc)) return false;
    for (bool taken : {true, false}) {
      if (j->op == JmpOp::kJa && !taken) break;
      State out;
      if (refine_jump(s, *j, taken, out))
        emit(at(node.context, taken ? j->target : pc + 1), std::move(out));
    }
    return true;
  }
  if (std::holds_alternative<Exit>(insn)) {
    ended = true;
    if (s.frames.size() == 1) {
      if (check_exit(env_, s, pc) && env_.reporting) exits_.push_back(node);
      return true;
    }
    if (!leave_function(env_, s, pc)) return false;
    const auto [parent, call_pc] = contexts_[node.context];
    emit(at(parent, call_pc + 1), std::move(s));
    return true;
  }
  if (const auto* c = std::get_if<Call>(&insn)) {
    if (c->kind != Call::Kind::kLocal) return exec_helper_call(env_, s, *c, pc);
    ended = true;
    if (s.frames.size() >= kMaxFrames) {
      return env_.fail(pc, "call-depth",
                       fmt::format("call nesting exceeds {} frames ({} nested calls): bound the "
                                   "recursion",
                                   kMaxFrames, kMaxFrames - 1));
    }
    enter_function(s);
    emit(at(child_context(node.context, pc), c->target), std::move(s));
    return true;
  }
  struct Exec {
    Env& env;
    State& s;
    uint32_t pc;
    bool operator()(const Alu& i) const { return exec_alu(env, s, i, pc); }
    bool operator()(const Endian& i) const { return exec_endian(env, s, i, pc); }
    bool operator()(const LoadImm& i) const { return exec_load_imm(env, s, i, pc); }
    bool operator()(const Load& i) const { return exec_load(env, s, i, pc); }
    bool operator()(const Store& i) const { return exec_store(env, s, i, pc); }
    bool operator()(const Atomic& i) const { return exec_atomic(env, s, i, pc); }
    // Jumps, calls and exits are handled above; the lddw tail does nothing.
    bool operator()(const LddwTail&) const { return true; }
    bool operator()(const Jump&) const { return true; }
    bool operator()(const Call&) const { return true; }
    bool operator()(const Exit&) const { return true; }
  };
  return std::visit(Exec{env_, s, pc}, insn);
}

void Analyzer::check(const std::map<Node, State>& stable) {
  env_.reporting = true;
  for (const auto& [node, in] : stable) {
    current_ = node;
    State s = in;
    run_block(node, s, [this](const Node& succ, State&&) { edges_[current_].push_back(succ); });
  }
  if (env_.findings.empty()) check_termination();
}

void Analyzer::check_termination() {
  std::map<Node, std::vector<Node>> preds;
  std::set<Node> nodes;
  for (const auto& [from, tos] : edges_) {
    nodes.insert(from);
    for (const Node& to : tos) preds[to].push_back(from), nodes.insert(to);
  }
  std::set<Node> live(exits_.begin(), exits_.end());
  std::vector<Node> work(exits_.begin(), exits_.end());
  while (!work.empty()) {
    const Node n = work.back();
    work.pop_back();
    for (const Node& p : preds[n])
      if (live.insert(p).second) work.push_back(p);
  }
  // Report at the head of the first loop that cannot be left (its last instruction is usually
  // the loop test), or at the first stuck block if no loop head is stuck.
  const Block* stuck = nullptr;
  for (const Node& n : nodes) {
    const Block& b = cfg_.blocks[n.block];
    if (live.count(n) > 0) continue;
    const bool better = stuck == nullptr || (b.loop_head && !stuck->loop_head) ||
                        (b.loop_head == stuck->loop_head && b.start < stuck->start);
    if (better) stuck = &b;
  }
  if (stuck == nullptr) return;
  env_.fail(stuck->end - 1, "infinite-loop",
            "infinite loop: once execution gets here it can never reach exit (the loop's exit "
            "condition is never true)");
}

}  // namespace fusebpf::bpf::verifier
