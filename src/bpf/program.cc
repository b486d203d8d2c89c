// Shared pipeline types: the registry and the per-invocation state; see program.h.
#include "bpf/program.h"

#include <algorithm>

namespace fusebpf::bpf {
namespace {
thread_local const Invocation* t_invocation = nullptr;
}  // namespace

const LineInfo* RawProgram::line_at(uint32_t pc) const {
  // lines is sorted by pc; the entry covering pc is the last one starting at or before it.
  auto it = std::upper_bound(lines.begin(), lines.end(), pc,
                             [](uint32_t p, const LineInfo& l) { return p < l.pc; });
  if (it == lines.begin()) return nullptr;
  return &*std::prev(it);
}

const Invocation* current_invocation() { return t_invocation; }
InvocationScope::InvocationScope(const Invocation* inv) : previous_(t_invocation) {
  t_invocation = inv;
}
InvocationScope::~InvocationScope() { t_invocation = previous_; }

void Platform::add_helper(int32_t id, HelperPrototype proto, HelperFn fn) {
  for (auto& [hid, h] : helpers_) {
    if (hid == id) {
      h = Helper{std::move(proto), fn};
      return;
    }
  }
  helpers_.emplace_back(id, Helper{std::move(proto), fn});
}

void Platform::add_kfunc(HelperPrototype proto, HelperFn fn) {
  for (auto& k : kfuncs_) {
    if (k.proto.name == proto.name) {
      k = Helper{std::move(proto), fn};
      return;
    }
  }
  kfuncs_.push_back(Helper{std::move(proto), fn});
}

void Platform::add_context(ContextDescriptor ctx) {
  for (auto& c : contexts_) {
    if (c.name == ctx.name) {
      c = std::move(ctx);
      return;
    }
  }
  contexts_.push_back(std::move(ctx));
}

const Helper* Platform::helper(int32_t id) const {
  for (const auto& [hid, h] : helpers_)
    if (hid == id) return &h;
  return nullptr;
}

const Helper* Platform::kfunc(std::string_view name) const {
  for (const auto& k : kfuncs_)
    if (k.proto.name == name) return &k;
  return nullptr;
}

const ContextDescriptor* Platform::context(std::string_view name) const {
  for (const auto& c : contexts_)
    if (c.name == name) return &c;
  return nullptr;
}

std::string_view run_error_name(RunError e) {
  switch (e) {
    case RunError::kBudgetExceeded:
      return "instruction budget exceeded";
    case RunError::kOutOfBounds:
      return "out-of-bounds access";
    case RunError::kDivideByZero:
      return "division by zero";
    case RunError::kCallDepth:
      return "call depth exceeded";
  }
  return "unknown";
}

}  // namespace fusebpf::bpf
