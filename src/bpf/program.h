// The types every stage of the eBPF pipeline shares (docs/ARCHITECTURE.md, "eBPF runtime"):
//
//   ElfObject (elf/) --load--> RawProgram --verify()--> VerifiedProgram --> Interpreter / JIT
//
// Only the verifier can construct a VerifiedProgram, so unverified code cannot be run.
// This header is the contract between the loader, the verifier, the engines and the host
// (the filter layer). It knows nothing about FUSE.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace fusebpf::bpf {

// One 8-byte eBPF instruction, in the kernel's (little-endian) layout.
struct Insn {
  uint8_t opcode = 0;
  uint8_t dst : 4 = 0;
  uint8_t src : 4 = 0;
  int16_t off = 0;
  int32_t imm = 0;
};
static_assert(sizeof(Insn) == 8);

// Pseudo source registers (RFC 9669 / kernel uapi).
inline constexpr uint8_t kPseudoMapFd = 1;      // lddw: imm = index into RawProgram::maps
inline constexpr uint8_t kPseudoMapValue = 2;   // lddw: imm = map index, next imm = offset
inline constexpr uint8_t kPseudoCall = 1;       // call: imm = pc-relative local function
inline constexpr uint8_t kPseudoKfuncCall = 2;  // call: imm = index into RawProgram::kfunc_names

// Map types keep their kernel numbers.
enum class MapType : uint32_t {
  kHash = 1,
  kArray = 2,
  kLruHash = 9,
  kLpmTrie = 11,
};

// How a map's key or value reads as text (`fusebpf map --typed`), from its BTF type: a char
// array (alone or as a struct's only member) is a string, an integer of 1-8 bytes a number,
// anything else raw bytes.
enum class TextFormat : uint8_t { kBytes, kString, kUnsigned, kSigned };

struct MapSpec {
  std::string name;
  MapType type = MapType::kHash;
  uint32_t key_size = 0;
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t flags = 0;
  // Global data sections (.rodata/.data/.bss) become one-entry array maps with this content.
  std::vector<std::byte> initial_value;
  bool frozen = false;  // .rodata: the program may not write it
  TextFormat key_format = TextFormat::kBytes;
  TextFormat value_format = TextFormat::kBytes;
};

// Source position of an instruction, from BTF line info (may be absent).
struct LineInfo {
  uint32_t pc = 0;
  std::string file;
  uint32_t line = 0;
  std::string text;
};

// A program after ELF relocation: instructions plus the tables its pseudo operands index.
// The main function starts at pc 0; BPF-to-BPF subprograms follow it.
struct RawProgram {
  std::string name;     // function name
  std::string section;  // ELF section, e.g. "struct_ops/lookup_prefilter"
  std::vector<Insn> insns;
  std::vector<MapSpec> maps;             // maps referenced by kPseudoMapFd/kPseudoMapValue
  std::vector<std::string> kfunc_names;  // kfuncs referenced by kPseudoKfuncCall
  std::vector<LineInfo> lines;           // sorted by pc

  // The line info entry covering pc, if any.
  const LineInfo* line_at(uint32_t pc) const;
};

// ---- Helpers and kfuncs: one registry read by the verifier and both engines. ----

// What a helper argument must be. The verifier checks each argument against its kind.
enum class ArgKind : uint8_t {
  kNone,          // argument unused
  kAnything,      // any initialised value (scalar or pointer)
  kScalar,        // an initialised scalar
  kConstMapPtr,   // a map reference (lddw kPseudoMapFd)
  kMapKey,        // readable memory of the map's key_size
  kMapValue,      // readable memory of the map's value_size
  kReadableMem,   // readable memory whose size is the next argument
  kWritableMem,   // writable memory (may be uninitialised) whose size is the next argument
  kMemSize,       // size of the previous mem argument: a bounded scalar (0 allowed)
  kConstStr,      // pointer to a NUL-terminated string in a frozen map (.rodata)
  kDynptrUninit,  // pointer to 16 bytes of stack that the helper initialises as a dynptr
  kDynptr,        // pointer to an initialised dynptr on the stack
  kCtxObject,     // a pointer loaded from the context whose ContextField::object_type matches
  kOptionalWritableMem,  // NULL or writable memory; size is kMemSize of a later argument
};

enum class RetKind : uint8_t {
  kScalar,          // a scalar value
  kVoid,            // r0 is undefined afterwards
  kMapValueOrNull,  // pointer to a value of the map in argument 1, or NULL
  kMemOrNull,       // pointer to ret_size bytes (ret_size_arg names the const argument), or NULL
};

// Helpers and kfuncs are called with the C calling convention, 5 x u64 in, u64 out.
using HelperFn = uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

struct HelperPrototype {
  std::string name;
  std::array<ArgKind, 5> args{};
  RetKind ret = RetKind::kScalar;
  int ret_size_arg = -1;      // kMemOrNull: index of the argument giving the size
  bool ret_writable = false;  // kMemOrNull: writable memory
  std::string object_type;    // kCtxObject arguments: required object type name
};

struct Helper {
  HelperPrototype proto;
  HelperFn fn = nullptr;
};

// ---- Contexts: what r1 points at when a program starts. ----

enum class FieldKind : uint8_t {
  kScalar,       // plain data
  kPtrToMem,     // a pointer to `pointee_size` bytes (read-only unless pointee_writable)
  kPtrToObject,  // an opaque pointer only usable as a kCtxObject argument of a kfunc
};

struct ContextField {
  uint32_t offset = 0;
  uint32_t size = 8;
  bool writable = false;
  FieldKind kind = FieldKind::kScalar;
  uint32_t pointee_size = 0;
  bool pointee_writable = false;
  bool nullable = false;    // pointer fields that may be NULL must be checked first
  std::string object_type;  // kPtrToObject: e.g. "fuse_buffer"
  std::string name;         // for diagnostics
};

struct ContextDescriptor {
  std::string name;
  uint32_t size = 0;
  // Fields the program may access; bytes outside them are inaccessible. Empty + raw_memory
  // means the whole context is plain read/write memory (the conformance-runner mode).
  std::vector<ContextField> fields;
  bool raw_memory = false;
  // raw_memory mode: r2 holds the context size at entry.
  bool r2_is_size = false;
};

// Per-invocation host values that helpers report (pid, uid, comm), set by the caller of run().
struct Invocation {
  uint64_t pid_tgid = 0;
  uint64_t uid_gid = 0;
  std::array<char, 16> comm{};
  void* host = nullptr;  // opaque pointer for the embedding layer's kfuncs
};
// The invocation of the program running on this thread (nullptr outside a run).
const Invocation* current_invocation();
// Sets the current invocation for the scope of a run.
class InvocationScope {
 public:
  explicit InvocationScope(const Invocation* inv);
  ~InvocationScope();
  InvocationScope(const InvocationScope&) = delete;
  InvocationScope& operator=(const InvocationScope&) = delete;

 private:
  const Invocation* previous_;
};

// Registry of helpers (by id) and kfuncs (by name) plus named context types.
// Not thread-safe while being built; read-only (and shareable) afterwards.
class Platform {
 public:
  // Maps, ktime, prandom, pid/uid/comm, trace_printk, strncmp, dynptr read/write/data and the
  // bpf_dynptr_slice[_rdwr] kfuncs (implemented in helpers/).
  static Platform standard();

  void add_helper(int32_t id, HelperPrototype proto, HelperFn fn);
  void add_kfunc(HelperPrototype proto, HelperFn fn);  // keyed by proto.name
  void add_context(ContextDescriptor ctx);

  const Helper* helper(int32_t id) const;
  const Helper* kfunc(std::string_view name) const;
  const ContextDescriptor* context(std::string_view name) const;

 private:
  std::vector<std::pair<int32_t, Helper>> helpers_;
  std::vector<Helper> kfuncs_;
  std::vector<ContextDescriptor> contexts_;
};

// Runtime representation of a dynptr (16 bytes on the program's stack).
struct Dynptr {
  void* data;
  uint32_t size;
  uint32_t flags;  // kDynptrReadOnly, ...
};
static_assert(sizeof(Dynptr) == 16);
inline constexpr uint32_t kDynptrReadOnly = 1u << 0;
inline constexpr uint32_t kDynptrValid = 1u << 1;

// ---- Maps: the host side (thread-safe; implemented in maps/). ----
class Map {
 public:
  virtual ~Map() = default;
  const MapSpec& spec() const { return spec_; }
  // Pointer to the value stored under key, valid until the entry is deleted; nullptr if absent.
  virtual void* lookup(const void* key) = 0;
  // flags: BPF_ANY / BPF_NOEXIST / BPF_EXIST. Returns 0 or a negative errno.
  virtual int update(const void* key, const void* value, uint64_t flags) = 0;
  virtual int remove(const void* key) = 0;
  // Key following `key` (first key when key is nullptr). Returns 0 or -ENOENT at the end.
  virtual int next_key(const void* key, void* next) = 0;
  // Array maps: start of the contiguous value storage (for kPseudoMapValue); else nullptr.
  virtual std::byte* array_base() { return nullptr; }

 protected:
  explicit Map(MapSpec spec) : spec_(std::move(spec)) {}

 private:
  MapSpec spec_;
};

// ---- Verified programs ----

class VerifiedProgram;
struct Diagnostic;

// What the verifier proved about a program; engines run only these.
class VerifiedProgram {
 public:
  const RawProgram& raw() const { return raw_; }
  std::span<const Insn> insns() const { return raw_.insns; }
  // For each pc holding a helper or kfunc call: the function to call (nullptr elsewhere).
  std::span<const HelperFn> call_targets() const { return call_targets_; }
  const ContextDescriptor& context() const { return context_; }
  // Maximum stack bytes used by any call frame (512 at most).
  uint32_t stack_size() const { return stack_size_; }

 private:
  friend class VerifierAccess;  // the verifier's constructor hook (verifier/)
  VerifiedProgram() = default;
  RawProgram raw_;
  std::vector<HelperFn> call_targets_;
  ContextDescriptor context_;
  uint32_t stack_size_ = 512;
};

// Why a run stopped early.
enum class RunError : uint8_t {
  kBudgetExceeded,  // more instructions than the budget (runaway loop)
  kOutOfBounds,     // a runtime-checked access was out of bounds
  kDivideByZero,    // never raised for BPF semantics (x/0 = 0); kept for engines' internal use
  kCallDepth,       // more than 8 nested BPF-to-BPF calls
};
std::string_view run_error_name(RunError e);

}  // namespace fusebpf::bpf
