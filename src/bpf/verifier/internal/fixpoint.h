// A small generic forward fixpoint iterator (STYLE.md F28; the shape of PREVAIL's
// fwd_analyzer, written for our on-the-fly graph of (call context, block) nodes).
//
// Problem must provide:
//   using Node (ordered: the worklist processes the smallest node first), using State;
//   Node entry(); State initial();
//   void step(const Node&, const State& in, Emit emit)  -- emit(Node succ, State out)
//   bool widen_point(const Node&);  State join(a, b);  State widen(old, next);
// Joins happen at every node; at widen points, after `widen_delay` joins the iterator widens,
// which (with finite-height widening in the domains) guarantees termination. `max_steps`
// bounds the work anyway: a program that needs more is rejected as too complex.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <utility>

namespace fusebpf::bpf::verifier {

struct FixpointLimits {
  size_t max_steps = 1'000'000;
  int widen_delay = 2;
};

template <typename Node, typename State>
struct FixpointResult {
  std::map<Node, State> in;  // the stable input state of every reached node
  bool converged = false;
};

template <typename Problem>
auto solve(Problem& p, const FixpointLimits& limits)
    -> FixpointResult<typename Problem::Node, typename Problem::State> {
  using Node = typename Problem::Node;
  using State = typename Problem::State;
  FixpointResult<Node, State> out;
  std::map<Node, int> joins;
  std::set<Node> work;
  out.in.emplace(p.entry(), p.initial());
  work.insert(p.entry());
  for (size_t steps = 0; !work.empty(); ++steps) {
    if (steps >= limits.max_steps) return out;
    const Node node = *work.begin();
    work.erase(work.begin());
    const State current = out.in.at(node);
    p.step(node, current, [&](const Node& succ, State&& s) {
      auto it = out.in.find(succ);
      if (it == out.in.end()) {
        out.in.emplace(succ, std::move(s));
        work.insert(succ);
        return;
      }
      State next = p.join(it->second, s);
      if (p.widen_point(succ) && ++joins[succ] > limits.widen_delay)
        next = p.widen(it->second, next);
      if (next == it->second) return;
      it->second = std::move(next);
      work.insert(succ);
    });
  }
  out.converged = true;
  return out;
}

}  // namespace fusebpf::bpf::verifier
