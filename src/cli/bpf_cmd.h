// `fusebpf bpf ...`: tools for filter authors and conformance suites.
//   bpf exec [--jit|--interp] [MEMORY_HEX] < PROGRAM_HEX   (bpf_conformance plugin protocol)
//   bpf disasm OBJ.o                                         (programs, maps, struct_ops, code)
//   bpf verify OBJ.o [--context-size N]                      (verifier report per program)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace fusebpf::cli {

// Adds the `bpf` subcommand to `app`; returns a function that runs it when it was selected
// (and returns its exit status), to be called after parsing.
std::function<int()> add_bpf_commands(CLI::App& app);

}  // namespace fusebpf::cli
