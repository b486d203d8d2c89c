// Tools for filter authors:
//   fusebpf compile FILTER.bpf.c [-o FILTER.bpf.o] [-I DIR]... [-D NAME[=V]]... [--no-verify]
//       runs clang -O2 -g -target bpf with our include directory (fuse_bpf.h, vmlinux.h,
//       bpf_common.h), then verifies the result like `fusebpf verify`;
//   fusebpf verify FILTER.bpf.o
//       loads the object exactly as `fusebpf mount --filter` does and reports its fuse_ops
//       tables (ops, maps, caching and passthrough consequences) and the verifier's verdict
//       per program, with the source line of each error. Exit 1 if anything is rejected.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace fusebpf::cli {

// Adds `compile` and `verify` to `app`; the returned function runs the selected one (or
// returns -1 when neither was selected).
std::function<int()> add_author_commands(CLI::App& app);

}  // namespace fusebpf::cli
