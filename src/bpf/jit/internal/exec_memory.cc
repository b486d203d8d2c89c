// ExecMemory (see exec_memory.h).
#include "bpf/jit/internal/exec_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace fusebpf::bpf::jit {

ExecMemory::~ExecMemory() { reset(); }

ExecMemory::ExecMemory(ExecMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      mapped_(std::exchange(other.mapped_, 0)) {}

ExecMemory& ExecMemory::operator=(ExecMemory&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

void ExecMemory::reset() {
  if (data_ != nullptr) munmap(data_, mapped_);
  data_ = nullptr;
  size_ = mapped_ = 0;
}

Result<ExecMemory> ExecMemory::create(std::span<const uint8_t> code) {
  if (code.empty()) return fail(Errno::kInval);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t mapped = (code.size() + page - 1) / page * page;
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return fail_errno();
  ExecMemory mem;
  mem.data_ = p;
  mem.size_ = code.size();
  mem.mapped_ = mapped;
  std::memcpy(p, code.data(), code.size());
  if (mprotect(p, mapped, PROT_READ | PROT_EXEC) != 0) return fail_errno();
  return mem;
}

}  // namespace fusebpf::bpf::jit
