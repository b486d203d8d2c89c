// Reads a compiled test program from the build directory.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <string>
#include <vector>

#include "base/sys.h"

namespace fusebpf::bpf::test {

inline std::string prog_path(const std::string& name) {
  return std::string(FUSEBPF_PROGS_DIR) + "/" + name + ".o";
}

inline std::vector<std::byte> prog_bytes(const std::string& name) {
  auto s = sys::read_file(AT_FDCWD, prog_path(name).c_str());
  if (!s) return {};
  auto b = std::as_bytes(std::span(s->data(), s->size()));
  return {b.begin(), b.end()};
}

}  // namespace fusebpf::bpf::test
