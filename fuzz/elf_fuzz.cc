// libFuzzer target for the ELF loader (untrusted input: any object file a user passes to
// `fusebpf mount --filter` or `fusebpf bpf verify`). Every input must load or fail cleanly.
// Seeds: the compiled test programs (build-dir/tests/bpf/progs/*.o).
#include <cstddef>
#include <cstdint>
#include <span>

#include "bpf/elf/elf_object.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = std::as_bytes(std::span(data, size));
  auto obj = fusebpf::bpf::load_elf(bytes);
  if (obj) {
    // Touch what a caller would read, so the sanitizers see every produced structure.
    size_t total = 0;
    for (const auto& p : obj->programs) total += p.insns.size() + p.lines.size() + p.maps.size();
    for (const auto& s : obj->struct_ops)
      total += s.members.size() + s.string_member("name").size();
    (void)total;
  }
  // CO-RE type tables come from the same kind of input.
  auto types = fusebpf::bpf::core_types_from_btf(bytes);
  if (types && !types->empty()) {
    fusebpf::bpf::LoadOptions opts{.core_types = &*types};
    (void)fusebpf::bpf::load_elf(bytes, opts);
  }
  return 0;
}
