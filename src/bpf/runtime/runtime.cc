// Object / Executable: ties the loader, maps, verifier and engines together (runtime.h).
#include "bpf/runtime.h"

#include <fmt/format.h>

#include "bpf/helpers/helpers.h"
#include "bpf/interp/interpreter.h"
#include "bpf/maps/maps.h"
#include "bpf/verifier/verifier.h"
#if FUSEBPF_RUNTIME_HAVE_JIT
#include "bpf/jit/jit.h"
#endif

namespace fusebpf::bpf {

struct Object::State {
  ElfObject elf;
  std::vector<std::unique_ptr<Map>> owned;
  std::vector<Map*> maps;
};

struct Executable::Impl {
  std::shared_ptr<const Object::State> object;  // keeps the maps alive
  VerifiedProgram program;
  Engine engine;
  std::unique_ptr<interp::Interpreter> interpreter;
#if FUSEBPF_RUNTIME_HAVE_JIT
  std::unique_ptr<jit::JitProgram> jit;
#endif
};

std::string_view engine_name(Engine e) { return e == Engine::kJit ? "jit" : "interpreter"; }

bool jit_available() {
#if FUSEBPF_RUNTIME_HAVE_JIT
  return true;
#else
  return false;
#endif
}

Result<uint64_t, RunError> Executable::run(void* ctx, uint64_t ctx_size,
                                           const Invocation* invocation) const {
  InvocationScope scope(invocation != nullptr ? invocation : current_invocation());
#if FUSEBPF_RUNTIME_HAVE_JIT
  if (impl_->jit) return impl_->jit->run(ctx, ctx_size, isa::kDefaultBudget);
#endif
  return impl_->interpreter->run(ctx, ctx_size, isa::kDefaultBudget);
}

const VerifiedProgram& Executable::program() const { return impl_->program; }
Engine Executable::engine() const { return impl_->engine; }

namespace {
// Creates the live maps of a loaded object; `origin` prefixes errors (the file name, if any).
Result<std::shared_ptr<Object::State>, std::string> make_state(ElfObject elf,
                                                               std::string_view origin) {
  auto state = std::make_shared<Object::State>();
  state->elf = std::move(elf);
  for (const MapSpec& spec : state->elf.maps) {
    auto m = create_map(spec);
    if (!m) return fail(origin.empty() ? m.error() : fmt::format("{}: {}", origin, m.error()));
    state->maps.push_back(m->get());
    state->owned.push_back(std::move(m).value());
  }
  return state;
}
}  // namespace

Result<Object, std::string> Object::from_bytes(std::span<const std::byte> bytes,
                                               const LoadOptions& opts) {
  FUSEBPF_TRY(elf, load_elf(bytes, opts));
  FUSEBPF_TRY(state, make_state(std::move(elf), ""));
  Object obj;
  obj.state_ = std::move(state);
  return obj;
}

Result<Object, std::string> Object::open(const std::string& path, const LoadOptions& opts) {
  FUSEBPF_TRY(elf, load_elf_file(path, opts));
  FUSEBPF_TRY(state, make_state(std::move(elf), path));
  Object obj;
  obj.state_ = std::move(state);
  return obj;
}

const ElfObject& Object::elf() const { return state_->elf; }
std::span<Map* const> Object::maps() const { return state_->maps; }

Map* Object::map(std::string_view name) const {
  for (Map* m : state_->maps)
    if (m->spec().name == name) return m;
  return nullptr;
}

const Platform& Object::default_platform() {
  static const Platform platform = Platform::standard();
  return platform;
}

Result<VerifiedProgram, std::string> Object::verify(std::string_view program_name,
                                                    const ContextDescriptor& ctx,
                                                    const Platform* platform) const {
  const RawProgram* raw = program(program_name);
  if (raw == nullptr) return fail(fmt::format("no program named '{}'", program_name));
  auto v = verifier::verify(*raw, platform ? *platform : default_platform(), ctx);
  if (!v) {
    return fail(fmt::format("program '{}' ({}) rejected:\n{}", raw->name, raw->section,
                            verifier::format_diagnostics(v.error())));
  }
  return std::move(v).value();
}

Result<Executable, std::string> Object::load(std::string_view program_name,
                                             const ContextDescriptor& ctx, Engine engine,
                                             const Platform* platform) const {
  FUSEBPF_TRY(verified, verify(program_name, ctx, platform));
  auto impl = std::make_shared<Executable::Impl>(
      Executable::Impl{state_, std::move(verified), engine, nullptr});
  // The program's map table (RawProgram::maps) refers to the object's maps by name.
  std::vector<Map*> maps;
  for (const MapSpec& spec : impl->program.raw().maps) {
    Map* m = map(spec.name);
    if (m == nullptr) return fail(fmt::format("program map '{}' is not in the object", spec.name));
    maps.push_back(m);
  }
  if (engine == Engine::kJit) {
#if FUSEBPF_RUNTIME_HAVE_JIT
    auto jit = jit::JitProgram::compile(impl->program, maps);
    if (!jit) return fail(fmt::format("program '{}': jit: {}", program_name, jit.error()));
    impl->jit = std::make_unique<jit::JitProgram>(std::move(jit).value());
#else
    return fail(std::string("this build has no JIT"));
#endif
  } else {
    impl->interpreter = std::make_unique<interp::Interpreter>(impl->program, maps);
  }
  Executable exe;
  exe.impl_ = std::move(impl);
  return exe;
}

}  // namespace fusebpf::bpf
