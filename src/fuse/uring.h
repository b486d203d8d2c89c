// FUSE over io_uring, the parts a daemon needs before mounting. The transport itself is chosen
// with SessionOptions::transport (session.h); the kernel side is described in
// src/abi/fuse_uring.h.
//
// The kernel offers FUSE_OVER_IO_URING in INIT only when the fuse module parameter
// enable_uring is Y at mount time, so a daemon that wants the io_uring transport calls
// enable_uring() before mount_fuse().
#pragma once

#include <string>

#include "base/result.h"

namespace fusebpf::fuse {

// True when the kernel has FUSE over io_uring (the enable_uring parameter exists).
bool uring_supported();
// True when enable_uring is Y.
bool uring_enabled();
// Makes enable_uring Y (needs root; a no-op when it already is). The parameter is global:
// it only makes the kernel offer io_uring at INIT, daemons that do not ask for it are
// unaffected. Errors carry a message.
Result<void, std::string> enable_uring();

}  // namespace fusebpf::fuse
