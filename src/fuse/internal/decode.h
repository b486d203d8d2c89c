// Generic request decoding driven by the op table (abi/fuse_ops.def).
#pragma once

#include <span>

#include "base/result.h"
#include "fuse/request.h"

namespace fusebpf::fuse {

struct DecodeOptions {
  bool setxattr_ext = false;  // FUSE_SETXATTR_EXT negotiated: fuse_setxattr_in is 16 bytes
};

class Decoder {
 public:
  // Checks the header, the op table's minimum input size and that each name is NUL-terminated,
  // and fills `out` (which then views `message`). Errors: kNoSys for unknown opcodes, kIo for
  // malformed requests (the header, if present, is still filled so the caller can answer).
  static Result<void> decode(std::span<const std::byte> message, const DecodeOptions& options,
                             DecodedRequest& out);
};

}  // namespace fusebpf::fuse
