// The only way to construct a VerifiedProgram. Production code: the verifier (verifier/).
// Tests of the engines may use it as a seam to run hand-built programs; nothing else may.
#pragma once

#include <utility>
#include <vector>

#include "bpf/program.h"

namespace fusebpf::bpf {

class VerifierAccess {
 public:
  static VerifiedProgram make(RawProgram raw, std::vector<HelperFn> call_targets,
                              ContextDescriptor context, uint32_t stack_size) {
    VerifiedProgram p;
    p.raw_ = std::move(raw);
    p.call_targets_ = std::move(call_targets);
    p.context_ = std::move(context);
    p.stack_size_ = stack_size;
    return p;
  }
};

}  // namespace fusebpf::bpf
