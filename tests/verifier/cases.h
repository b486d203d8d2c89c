// Golden verifier cases (tests/verifier/*.txt). Format, one or more cases per file:
//
//   === case-name                       starts a case; '#' lines are comments
//   ctx: raw 64 [r2-size]               context: raw memory of 64 bytes (default: test_ctx below)
//   ctx: fields NAME SIZE               context with only the `field:` lines that follow
//   field: NAME off=0 size=4 [rw] [ptr-mem=N] [mem-rw] [object=TYPE] [nullable]
//   map: NAME hash|array|lru_hash|lpm_trie key=K value=V entries=N [frozen] [init=HEX]
//   helper: ID NAME ARGS -> RET [size-arg=N] [writable] [object=TYPE]   (adds to the defaults)
//   kfunc: NAME ARGS -> RET [...]       ARGS: comma list of any scalar map key value rmem wmem
//                                       size str dynptr-uninit dynptr object opt-wmem, or '-'
//   kfuncs: NAME NAME ...               the program's kfunc_names (call kfunc N indexes it)
//   line: PC FILE LINE TEXT...          BTF-style line info
//   option: no-loops | allow-dead-code
//   code:                               then assembler lines (asm.h) until an expect line
//   expect: accept | expect-reject: SUBSTRING
//   pc: N          (reject: the pc of a diagnostic containing SUBSTRING)
//   diag: CODE     (reject: that diagnostic's code)
//   stack: N       (accept: VerifiedProgram::stack_size)
//
// Default context test_ctx (32 bytes): len@0/4 (read-only), flags@4/4 (rw), data@8 ptr to 64
// read-only bytes, out@16 nullable ptr to 16 writable bytes, buf@24 nullable fuse_buffer object.
// Default helpers: 1 map_lookup, 2 map_update, 3 map_delete, 4 probe_read, 5 ktime, 6
// trace_printk, 182 strncmp, 197 dynptr_from_mem, 201 dynptr_read, 202 dynptr_write,
// 203 dynptr_data; kfuncs bpf_dynptr_slice, bpf_dynptr_slice_rdwr, fuse_buf_size.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bpf/program.h"

namespace fusebpf::bpf::testing {

struct VerifierCase {
  std::string file;
  std::string name;
  size_t line = 0;
  ContextDescriptor ctx;
  std::vector<MapSpec> maps;
  std::vector<std::pair<int32_t, HelperPrototype>> helpers;
  std::vector<HelperPrototype> kfuncs;
  std::vector<std::string> kfunc_names;
  std::vector<LineInfo> lines;
  std::vector<std::string> code;
  bool no_loops = false;
  bool allow_dead_code = false;
  bool expect_accept = false;
  std::string reject_substring;
  std::optional<uint32_t> pc;
  std::string diag_code;
  std::optional<uint32_t> stack;
  std::string parse_error;  // set when the case text itself is malformed
};

std::vector<VerifierCase> load_cases(const std::string& dir);
// The default platform plus the case's helpers/kfuncs. Every function is a dummy.
Platform make_platform(const VerifierCase& c);
ContextDescriptor default_context();
// A HelperFn that is never called (verification only).
uint64_t dummy_helper(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

}  // namespace fusebpf::bpf::testing
