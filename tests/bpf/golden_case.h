// Golden eBPF test cases: the tests/bpf/*.data format (tests/bpf/README.md).
//
//   # comment
//   === case name            (starts a case; optional for a file's first case)
//   -- asm                   (program text, isa::assemble syntax)   | -- raw (hex bytes)
//   -- mem                   (initial memory, hex bytes; r1 points at a copy, r2 = its size)
//   -- result                (expected r0, 0x... or decimal)
//   -- error                 (expected error substring instead of a result)
//   -- budget                (instruction budget, default isa::kDefaultBudget)
//   -- no-jit: reason        (run only on the interpreter, with the reason why)
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "bpf/isa/isa.h"
#include "bpf/program.h"

namespace fusebpf::bpf::testing {

struct GoldenCase {
  std::string name;   // "file.data:case name"
  uint32_t line = 0;  // line of the case header
  std::vector<Insn> insns;
  std::vector<uint8_t> memory;
  std::optional<uint64_t> result;
  std::optional<std::string> error;
  std::optional<uint64_t> budget;
  std::optional<std::string> no_jit;  // reason
};

// Parses hex bytes separated by optional whitespace ("00 ff 1a", "00ff1a").
using isa::parse_hex_bytes;  // hex sections are parsed by the ISA library

// Parses one .data file's text; `file` names the cases. Errors name the line.
Result<std::vector<GoldenCase>, std::string> parse_golden(std::string_view text,
                                                          std::string_view file);
Result<std::vector<GoldenCase>, std::string> load_golden_file(const std::filesystem::path& path);

}  // namespace fusebpf::bpf::testing
