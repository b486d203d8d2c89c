// `fusebpf bpf ...`: tools for filter authors and conformance suites.
//   bpf exec [--jit|--interp] [MEMORY_HEX] < PROGRAM_HEX   (bpf_conformance plugin protocol)
//   bpf disasm OBJ.o                                         (programs, maps, struct_ops, code)
//   bpf verify OBJ.o [--context-size N]                      (verifier report per program)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "bpf/runtime.h"

namespace fusebpf::cli {

// The filter hook context of a program bound in a `struct fuse_ops` table (nullptr: none).
const bpf::ContextDescriptor* fuse_ops_context(const bpf::Object& obj,
                                               const bpf::RawProgram& program);

// Adds the `bpf` subcommand to `app`; returns a function that runs it when it was selected
// (and returns its exit status), to be called after parsing.
std::function<int()> add_bpf_commands(CLI::App& app);

}  // namespace fusebpf::cli
