// Request decoding; see decode.h.
#include "fuse/internal/decode.h"

#include <algorithm>
#include <cstring>

namespace fusebpf::fuse {

Result<void> Decoder::decode(std::span<const std::byte> message, const DecodeOptions& options,
                             DecodedRequest& out) {
  if (message.size() < sizeof(abi::fuse_in_header)) return fail(Errno::kIo);
  std::memcpy(&out.header_, message.data(), sizeof out.header_);
  if (out.header_.len != message.size()) return fail(Errno::kIo);
  const OpInfo* info = op_info(out.header_.opcode);
  if (info == nullptr) return fail(Errno::kNoSys);

  auto body = message.subspan(sizeof(abi::fuse_in_header));
  // Extensions (security context, supplementary groups) trail the arguments; we ignore them.
  size_t ext_len = size_t{out.header_.total_extlen} * 8;
  if (ext_len > body.size()) return fail(Errno::kIo);
  body = body.first(body.size() - ext_len);

  size_t in_size = info->in_size;
  if (info->opcode == Opcode::kSetxattr && !options.setxattr_ext) {
    in_size = abi::kCompatSetxattrInSize;
  }
  if (body.size() < info->min_in) return fail(Errno::kIo);
  size_t present = std::min(in_size, body.size());
  std::memset(out.in_, 0, sizeof out.in_);
  std::memcpy(out.in_, body.data(), present);
  body = body.subspan(present);

  out.names_ = {};
  for (size_t i = 0; i < info->names; ++i) {
    const char* start = reinterpret_cast<const char*>(body.data());
    const void* nul = std::memchr(start, '\0', body.size());
    if (nul == nullptr) return fail(Errno::kIo);
    size_t len = static_cast<const char*>(nul) - start;
    out.names_[i] = std::string_view(start, len);
    body = body.subspan(len + 1);
  }
  out.payload_ = body;
  return {};
}

}  // namespace fusebpf::fuse
