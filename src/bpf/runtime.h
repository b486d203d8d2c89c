// The eBPF runtime facade: open an object file, get its live maps and struct_ops tables, and
// load programs (verify, then build an engine) ready to run on several threads.
//
//   FUSEBPF_TRY(obj, bpf::Object::open("filter.o"));
//   Map* rules = obj.map("rules");                            // host side of a map
//   FUSEBPF_TRY(exe, obj.load("lookup_prefilter", ctx_desc, bpf::Engine::kJit, &platform));
//   bpf::Invocation inv{.pid_tgid = ...};
//   auto r = exe.run(&ctx, sizeof ctx, &inv);                  // Result<uint64_t, RunError>
//
// Maps are created once per Object and shared by every program loaded from it (and by copies of
// the Object); Executables keep them alive, so an Executable may outlive its Object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bpf/elf/elf_object.h"
#include "bpf/program.h"

namespace fusebpf::bpf {

enum class Engine : uint8_t { kInterpreter, kJit };
std::string_view engine_name(Engine e);
// Whether this build has the JIT (x86-64 only).
bool jit_available();

// A verified program bound to an engine and to its object's maps. Cheap to copy (shared);
// run() is thread-safe.
class Executable {
 public:
  // Runs with r1 = ctx (and r2 = ctx_size). `invocation`, when given, is what
  // bpf_get_current_pid_tgid() and friends report during the run.
  Result<uint64_t, RunError> run(void* ctx, uint64_t ctx_size,
                                 const Invocation* invocation = nullptr) const;
  const VerifiedProgram& program() const;
  Engine engine() const;

  struct Impl;  // engine state; defined in runtime/

 private:
  friend class Object;
  std::shared_ptr<const Impl> impl_;
};

class Object {
 public:
  static Result<Object, std::string> open(const std::string& path, const LoadOptions& opts = {});
  static Result<Object, std::string> from_bytes(std::span<const std::byte> bytes,
                                                const LoadOptions& opts = {});

  const ElfObject& elf() const;
  const std::vector<RawProgram>& programs() const { return elf().programs; }
  const RawProgram* program(std::string_view name) const { return elf().program(name); }
  const std::vector<StructOps>& struct_ops() const { return elf().struct_ops; }

  // Live maps, in the order of elf().maps (names: map variables and ".rodata"/".data"/...).
  std::span<Map* const> maps() const;
  Map* map(std::string_view name) const;

  // The process-wide Platform::standard(), used when no platform is passed.
  static const Platform& default_platform();

  // Verifies program_name against ctx (diagnostics formatted as text on failure).
  Result<VerifiedProgram, std::string> verify(std::string_view program_name,
                                              const ContextDescriptor& ctx,
                                              const Platform* platform = nullptr) const;
  // verify() then build the engine. kJit fails when jit_available() is false.
  Result<Executable, std::string> load(std::string_view program_name, const ContextDescriptor& ctx,
                                       Engine engine = Engine::kInterpreter,
                                       const Platform* platform = nullptr) const;

  struct State;  // defined in runtime/

 private:
  std::shared_ptr<State> state_;
};

// ---- Text views for `fusebpf bpf disasm|verify OBJ.o` ----

// Programs (section, size, maps, kfuncs), maps (type, sizes) and struct_ops tables.
std::string describe(const Object& obj);
// One program's instructions, with the BTF source line above each line change:
//   ; filter.c:12: if (v) {
//      4: jeq r0, 0, +3
std::string disassemble(const RawProgram& program);
// Verifies every program; context_for picks the context (nullptr: the program is reported as
// having no known context and counts as a failure). Returns the report; `ok` tells if all passed.
struct VerifyReport {
  bool ok = true;
  std::string text;
};
VerifyReport verify_all(
    const Object& obj, const Platform& platform,
    const std::function<const ContextDescriptor*(const RawProgram&)>& context_for);

}  // namespace fusebpf::bpf
