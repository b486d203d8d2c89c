// The header-only buffer edits C++ filters use (fuse_bpf_abi.h): the fuse_buffer rules and
// the entries layout of a lookup backing redirect, as FilteredOps::lookup parses it.
#include "filter/fuse_bpf_abi.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "filter/chain.h"

namespace fusebpf::filter {
namespace {

fuse_bpf_entry_out slot(const HostBuffer& h, size_t i) {
  fuse_bpf_entry_out e;
  std::memcpy(&e, static_cast<const std::byte*>(h.buf.data) + i * sizeof e, sizeof e);
  return e;
}

TEST(BufferRules, FixedSizeBuffersNeverGrowImmutableOnesAreNeverWritable) {
  char data[8] = "abcdefg";
  HostBuffer fixed(data, 8, 8, 64, 0);  // no kBufVariableSize: size is fixed
  EXPECT_TRUE(buffer_writable(fixed.buf, 9, true).empty());
  auto w = buffer_writable(fixed.buf, 4, false);  // a prefix of it may be written in place
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(static_cast<void*>(w.data()), static_cast<void*>(data));
  EXPECT_EQ(fixed.buf.size, 8u);  // and the size stays
  EXPECT_TRUE(fixed.buf.flags & kBufModified);

  HostBuffer frozen(data, 8, 8, 64, kBufImmutable | kBufVariableSize);
  EXPECT_TRUE(buffer_writable(frozen.buf, 4, false).empty());
  EXPECT_FALSE(frozen.buf.flags & kBufModified);

  HostBuffer variable(data, 8, 8, 16, kBufVariableSize);
  EXPECT_EQ(buffer_writable(variable.buf, 16, true).size(), 16u);  // grows to max_size
  EXPECT_EQ(std::memcmp(variable.buf.data, "abcdefg", 8), 0);      // copy=true kept it
  EXPECT_TRUE(buffer_writable(variable.buf, 17, true).empty());    // not beyond
}

TEST(EntriesRedirect, WritesABackingEntryAndThePathAfterBothSlots) {
  fuse_bpf_entry_out entries[kMaxEntries]{};
  HostBuffer h(entries, 0, sizeof entries, kEntriesMaxSize, kBufVariableSize);
  ASSERT_TRUE(entries_redirect(h.buf, "ab/cdef"));
  EXPECT_EQ(h.buf.size, kEntryPathOffset + 7);
  EXPECT_NE(h.heap, nullptr);  // grown beyond the 48 bytes it had
  EXPECT_EQ(slot(h, 0).entry_type, kEntryBacking);
  EXPECT_EQ(slot(h, 0).unused, 0u);
  EXPECT_EQ(slot(h, 0).unused2, 7u);
  EXPECT_EQ(slot(h, 0).fd, kEntryPathOffset);
  EXPECT_EQ(slot(h, 1).entry_type, 0u);
  EXPECT_EQ(std::string(static_cast<const char*>(h.buf.data) + kEntryPathOffset, 7), "ab/cdef");
}

TEST(EntriesRedirect, KeepsAnEntryAlreadyThereAndFailsWhenFull) {
  fuse_bpf_entry_out entries[kMaxEntries]{};
  entries[0].entry_type = kEntryBpf;
  std::strcpy(entries[0].name, "ops");
  HostBuffer h(entries, sizeof entries[0], sizeof entries, kEntriesMaxSize, kBufVariableSize);
  ASSERT_TRUE(entries_redirect(h.buf, "x"));
  EXPECT_EQ(slot(h, 0).entry_type, kEntryBpf);
  EXPECT_STREQ(slot(h, 0).name, "ops");
  EXPECT_EQ(slot(h, 1).entry_type, kEntryBacking);
  EXPECT_FALSE(entries_redirect(h.buf, "y"));  // both slots used
  EXPECT_FALSE(entries_redirect(h.buf, ""));
}

TEST(EntriesRedirect, RefusesPathsTooLongAndImmutableBuffers) {
  fuse_bpf_entry_out entries[kMaxEntries]{};
  HostBuffer h(entries, 0, sizeof entries, kEntriesMaxSize, kBufVariableSize);
  EXPECT_FALSE(entries_redirect(h.buf, std::string(kEntriesMaxSize, 'a')));
  EXPECT_TRUE(entries_redirect(h.buf, std::string(kEntriesMaxSize - kEntryPathOffset, 'a')));
  HostBuffer frozen(entries, 0, sizeof entries, kEntriesMaxSize, kBufImmutable);
  EXPECT_FALSE(entries_redirect(frozen.buf, "a"));
  EXPECT_TRUE(buffer_writable(frozen.buf, 1, false).empty());
}

TEST(BufferSetName, CopiesAMustAllocateNameBeforeWriting) {
  char original[] = "name";
  HostBuffer h;
  HostBuffer::name(h, original, 256, kBufVariableSize | kBufMustAllocate);
  ASSERT_TRUE(buffer_set_name(h.buf, "longer-name"));
  EXPECT_STREQ(original, "name");  // the request's bytes are not touched
  EXPECT_EQ(buffer_name(h.buf), "longer-name");
  EXPECT_TRUE(h.buf.flags & kBufAllocated);
  EXPECT_FALSE(buffer_set_name(h.buf, std::string(300, 'a')));  // above max_size
}

}  // namespace
}  // namespace fusebpf::filter
