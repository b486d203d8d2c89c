// enable_uring module parameter; see uring.h.
#include "fuse/uring.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include "abi/fuse_uring.h"
#include "base/sys.h"

namespace fusebpf::fuse {

bool uring_supported() { return ::access(abi::kEnableUringParam, F_OK) == 0; }

bool uring_enabled() {
  auto value = sys::read_file(AT_FDCWD, abi::kEnableUringParam);
  return value && !value->empty() && ((*value)[0] == 'Y' || (*value)[0] == '1');
}

Result<void, std::string> enable_uring() {
  if (!uring_supported()) {
    return fail(std::string("this kernel has no FUSE over io_uring (") + abi::kEnableUringParam +
                " is missing)");
  }
  if (uring_enabled()) return {};
  if (geteuid() != 0) {
    return fail(fmt::format("{} is N and only root may set it", abi::kEnableUringParam));
  }
  auto written = sys::write_file(AT_FDCWD, abi::kEnableUringParam, "Y");
  if (!written) {
    return fail(
        fmt::format("cannot write {}: {}", abi::kEnableUringParam, errno_message(written.error())));
  }
  return {};
}

}  // namespace fusebpf::fuse
