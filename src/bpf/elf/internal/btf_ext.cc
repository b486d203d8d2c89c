// .BTF.ext: line info and CO-RE relocation records.
#include <fmt/format.h>

#include <cstring>

#include "bpf/elf/internal/btf_parts.h"

namespace fusebpf::bpf::elf_internal {
namespace {

struct ExtHeader {
  uint16_t magic;
  uint8_t version;
  uint8_t flags;
  uint32_t hdr_len;
  uint32_t func_info_off, func_info_len;
  uint32_t line_info_off, line_info_len;
  uint32_t core_relo_off, core_relo_len;  // present when hdr_len >= 32
};

uint32_t u32_at(std::span<const std::byte> b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

// One info block list: u32 rec_size, then {u32 sec_name_off; u32 count; rec[count]}...
// Each record's first `Rec` bytes are copied (rec_size may be larger in newer formats).
template <typename Rec>
Result<void, std::string> walk(std::span<const std::byte> all, const struct btf* btf,
                               std::string_view what,
                               std::map<std::string, std::vector<Rec>, std::less<>>& out) {
  if (all.empty()) return {};
  if (all.size() < 4) return fail(fmt::format(".BTF.ext {}: truncated", what));
  uint32_t rec_size = u32_at(all, 0);
  if (rec_size < sizeof(Rec) || rec_size % 4 != 0)
    return fail(fmt::format(".BTF.ext {}: bad record size {}", what, rec_size));
  size_t pos = 4;
  while (pos < all.size()) {
    if (all.size() - pos < 8) return fail(fmt::format(".BTF.ext {}: truncated block", what));
    std::string sec = btf_name(btf, u32_at(all, pos));
    uint32_t count = u32_at(all, pos + 4);
    pos += 8;
    if (count > (all.size() - pos) / rec_size)
      return fail(fmt::format(".BTF.ext {}: {} records overrun the section", what, count));
    auto& v = out[sec];
    for (uint32_t i = 0; i < count; ++i, pos += rec_size) {
      Rec r;
      std::memcpy(&r, all.data() + pos, sizeof r);
      v.push_back(r);
    }
  }
  return {};
}

}  // namespace

Result<BtfExt, std::string> parse_btf_ext(std::span<const std::byte> bytes, const struct btf* btf) {
  std::vector<uint8_t> copy(bytes.size());
  std::memcpy(copy.data(), bytes.data(), bytes.size());
  struct btf_ext* ext = btf_ext__new(copy.data(), copy.size());
  if (ext == nullptr) return fail(fmt::format("invalid .BTF.ext section ({})", strerror(errno)));
  btf_ext__free(ext);

  ExtHeader h{};
  if (bytes.size() < 24) return fail(std::string(".BTF.ext: truncated header"));
  std::memcpy(&h, bytes.data(), std::min<size_t>(sizeof h, bytes.size()));
  if (h.hdr_len < 32 || h.hdr_len > bytes.size()) h.core_relo_off = h.core_relo_len = 0;
  if (h.hdr_len > bytes.size()) return fail(std::string(".BTF.ext: bad header length"));
  auto sub = [&](uint32_t off, uint32_t len) -> std::span<const std::byte> {
    uint64_t start = uint64_t{h.hdr_len} + off;
    if (start > bytes.size() || len > bytes.size() - start) return {};
    return bytes.subspan(start, len);
  };
  BtfExt out;
  FUSEBPF_TRY_VOID(walk(sub(h.line_info_off, h.line_info_len), btf, "line_info", out.lines));
  FUSEBPF_TRY_VOID(walk(sub(h.core_relo_off, h.core_relo_len), btf, "core_relo", out.core));
  return out;
}

}  // namespace fusebpf::bpf::elf_internal
