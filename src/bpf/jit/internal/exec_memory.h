// ExecMemory: an RAII block of machine code. The bytes are written into a private anonymous
// read-write mapping which is then sealed with mprotect(PROT_READ | PROT_EXEC); the mapping is
// never writable and executable at the same time (W^X). munmap on destruction. Move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/result.h"

namespace fusebpf::bpf::jit {

class ExecMemory {
 public:
  ExecMemory() = default;
  ~ExecMemory();
  ExecMemory(ExecMemory&& other) noexcept;
  ExecMemory& operator=(ExecMemory&& other) noexcept;
  ExecMemory(const ExecMemory&) = delete;
  ExecMemory& operator=(const ExecMemory&) = delete;

  // Maps, copies `code`, seals. Errors are the failing syscall's errno.
  static Result<ExecMemory> create(std::span<const uint8_t> code);

  const void* data() const { return data_; }
  size_t size() const { return size_; }  // bytes of code (the mapping is page-rounded)

 private:
  void reset();
  void* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;
};

}  // namespace fusebpf::bpf::jit
