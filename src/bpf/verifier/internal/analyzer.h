// The abstract interpretation over (call context, basic block) nodes. A call context is the
// chain of call sites (BPF-to-BPF calls are analysed per call site, like inlining; recursion is
// rejected earlier, so contexts are finite). The Analyzer is the Problem of fixpoint.h; after
// the fixpoint, check() replays every block once on its stable state with reporting on.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "bpf/verifier/internal/analysis.h"
#include "bpf/verifier/internal/cfg.h"
#include "bpf/verifier/internal/fixpoint.h"

namespace fusebpf::bpf::verifier {

struct Node {
  uint32_t context = 0;
  uint32_t block = 0;
  auto operator<=>(const Node&) const = default;
};

class Analyzer {
 public:
  using Node = verifier::Node;
  using State = verifier::State;

  Analyzer(Env& env, const Cfg& cfg) : env_(env), cfg_(cfg) { contexts_.push_back({0, 0}); }

  Node entry() const { return {0, 0}; }
  State initial() const { return entry_state(env_.ctx); }
  bool widen_point(const Node& n) const { return cfg_.blocks[n.block].loop_head; }
  State join(const State& a, const State& b) const { return verifier::join(a, b); }
  State widen(const State& a, const State& b) const {
    return verifier::widen(a, b, cfg_.thresholds);
  }

  template <typename Emit>
  void step(const Node& node, const State& in, Emit&& emit) {
    State s = in;
    run_block(node, s, [&](const Node& succ, State&& out) { emit(succ, std::move(out)); });
  }

  // Final pass: replays every reached node with reporting on, then checks termination.
  void check(const std::map<Node, State>& stable);

 private:
  using EmitFn = std::function<void(const Node&, State&&)>;
  void run_block(const Node& node, State& s, const EmitFn& emit);
  bool run_insn(const Node& node, uint32_t pc, State& s, const EmitFn& emit, bool& ended);
  uint32_t child_context(uint32_t parent, uint32_t call_pc);
  Node at(uint32_t context, int64_t pc) const {
    return {context, static_cast<uint32_t>(cfg_.block_at[static_cast<size_t>(pc)])};
  }
  void check_termination();

  Env& env_;
  const Cfg& cfg_;
  std::vector<std::pair<uint32_t, uint32_t>> contexts_;  // id -> (parent, call pc)
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> context_ids_;
  // Final pass only.
  std::map<Node, std::vector<Node>> edges_;
  std::vector<Node> exits_;
  Node current_{};
};

}  // namespace fusebpf::bpf::verifier
