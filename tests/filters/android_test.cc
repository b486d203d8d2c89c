// The Android single-program form through FilterChain::Run, without a mount: the adapter's
// argument layouts, return-bit mapping, input/output edits, lookup actions and the verifier
// bounds (tests/filters/progs/android_*.bpf.c). Runs on the interpreter and the JIT.
#include <gtest/gtest.h>
#include <linux/limits.h>

#include <memory>
#include <string>
#include <vector>

#include "filter/chain.h"
#include "filter/internal/android_prog.h"

namespace fusebpf::filter {
namespace {

const std::string kProgs = FUSEBPF_TEST_PROGS_DIR;

// Records the C++ hooks the Android program sends it to.
class Recorder : public UserFilter {
 public:
  Verdict lookup_prefilter(const FilterMeta&, FuseBuffer& name) override {
    prefiltered.emplace_back(buffer_name(name));
    return name_verdict;
  }
  Verdict lookup_postfilter(const FilterMeta&, const FuseBuffer& name, fuse_entry_out&,
                            FuseBuffer&) override {
    postfiltered.emplace_back(buffer_name(name));
    return Verdict::kContinue;
  }
  std::vector<std::string> prefiltered, postfiltered;
  Verdict name_verdict = Verdict::kContinue;
};

// One LOOKUP's arguments, as filtered_ops.cc builds them.
struct Lookup {
  explicit Lookup(std::string n) : text(std::move(n)) {
    HostBuffer::name(name, text, NAME_MAX + 1, kBufVariableSize | kBufMustAllocate);
    out.attr.mode = 0100644;
    out.attr.size = 7;
  }
  fuse_bpf_entry_out entry(size_t i) const { return entries[i]; }
  std::string text;
  HostBuffer name;
  fuse_entry_out out{};
  fuse_bpf_entry_out entries[kMaxEntries]{};
  HostBuffer ent{entries, 0, sizeof entries, kEntriesMaxSize, kBufVariableSize};
};

class AndroidForm : public ::testing::TestWithParam<bpf::Engine> {
 protected:
  Result<std::unique_ptr<FilterChain>, std::string> load(const std::string& prog,
                                                         std::unique_ptr<UserFilter> user) {
    FilterConfig c;
    c.bpf_object = kProgs + "/" + prog + ".bpf.o";
    c.engine = GetParam();
    c.user = std::move(user);
    return FilterChain::create(std::move(c));
  }
  void SetUp() override {
    if (GetParam() == bpf::Engine::kJit && !bpf::jit_available()) GTEST_SKIP() << "no JIT";
    auto user = std::make_unique<Recorder>();
    recorder_ = user.get();
    auto c = load("android_flow", std::move(user));
    ASSERT_TRUE(c) << c.error();
    chain_ = std::move(*c);
    auto plain = load("android_flow", nullptr);
    ASSERT_TRUE(plain) << plain.error();
    plain_ = std::move(*plain);
  }
  // Runs the lookup prefilter on `chain`; the postfilter too when asked, with `backing`.
  FilterChain::Run::Step lookup(FilterChain& chain, Lookup& l, Errno backing = Errno::kOk,
                                Errno* result = nullptr) {
    FilterChain::Run run(chain, req_, FilterOp::k_lookup, 1);
    auto step = run.pre({&l.name.buf});
    if (step == FilterChain::Run::Step::kFail && result) *result = run.error();
    if (step == FilterChain::Run::Step::kBacking) {
      Errno e = run.post(backing, {&l.name.buf, &l.out, &l.ent.buf});
      if (result) *result = e;
    }
    return step;
  }
  fuse::DecodedRequest req_;
  Recorder* recorder_ = nullptr;
  std::unique_ptr<FilterChain> chain_, plain_;
};

using Step = FilterChain::Run::Step;

TEST_P(AndroidForm, ProgramSectionLoadsAsANamedTableThatFiltersEverything) {
  const BpfOps* ops = chain_->ops_by_name("flow");
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(chain_->root_ops(), ops);
  EXPECT_NE(ops->android(), nullptr);
  EXPECT_TRUE(ops->has(FilterOp::k_mkdir, false));
  EXPECT_TRUE(ops->filters_names());
  EXPECT_TRUE(ops->filters_data());
}

TEST_P(AndroidForm, LayoutsComeFromTheFilterOpTable) {
  const auto& lookup = android::layout(FilterOp::k_lookup);
  ASSERT_EQ(lookup.npre, 1);
  EXPECT_EQ(lookup.pre[0].kind, android::ArgKind::kString);
  ASSERT_EQ(lookup.npost, 3);
  EXPECT_FALSE(lookup.post[0].output);
  EXPECT_EQ(lookup.post[1].kind, android::ArgKind::kStruct);
  EXPECT_EQ(lookup.post[1].size, sizeof(fuse_entry_out));
  EXPECT_TRUE(lookup.post[1].output);
  EXPECT_EQ(lookup.post[2].kind, android::ArgKind::kEntryBpfOut);
  const auto& mkdir = android::layout(FilterOp::k_mkdir);
  ASSERT_EQ(mkdir.npre, 2);
  EXPECT_EQ(mkdir.pre[0].size, sizeof(fuse_mkdir_in));
  EXPECT_EQ(mkdir.pre[1].kind, android::ArgKind::kString);
  const auto& getxattr = android::layout(FilterOp::k_getxattr);
  ASSERT_EQ(getxattr.npost, 4);
  EXPECT_EQ(getxattr.post[1].kind, android::ArgKind::kString);  // the xattr name
  EXPECT_EQ(getxattr.post[2].kind, android::ArgKind::kBytes);   // its value
  EXPECT_EQ(android::layout(FilterOp::k_symlink).pre[1].kind, android::ArgKind::kString);
}

TEST_P(AndroidForm, PrefilterErrnoHidesAName) {
  Lookup l("hidden");
  Errno e = Errno::kOk;
  EXPECT_EQ(lookup(*chain_, l, Errno::kOk, &e), Step::kFail);
  EXPECT_EQ(e, Errno::kNoEnt);
  EXPECT_TRUE(recorder_->prefiltered.empty());
}

TEST_P(AndroidForm, PrefilterInputEditIsWhatTheBackingOpGets) {
  Lookup l("alias");
  EXPECT_EQ(lookup(*chain_, l), Step::kBacking);
  EXPECT_EQ(l.name.text(), "target");
  EXPECT_EQ(l.name.buf.size, 7u);
}

TEST_P(AndroidForm, PostfilterOutputEditIsWhatTheCallerSees) {
  Lookup l("seven");
  Errno e = Errno::kIo;
  EXPECT_EQ(lookup(*chain_, l, Errno::kOk, &e), Step::kBacking);
  EXPECT_EQ(e, Errno::kOk);
  EXPECT_EQ(l.out.attr.mode, 0100444u);
  EXPECT_EQ(l.ent.buf.size, 0u);  // no actions
}

TEST_P(AndroidForm, ErrorInReachesThePostfilter) {
  Lookup ghost("ghost");
  Errno e = Errno::kOk;
  lookup(*chain_, ghost, Errno::kNoEnt, &e);
  EXPECT_EQ(e, Errno::kAcces);
  Lookup other("nothing");
  lookup(*chain_, other, Errno::kNoEnt, &e);
  EXPECT_EQ(e, Errno::kNoEnt);
}

TEST_P(AndroidForm, UserFilterBitRunsTheCxxPrefilterAndNothingElseDoes) {
  Lookup user("user1"), plain("plain");
  EXPECT_EQ(lookup(*chain_, user), Step::kBacking);
  EXPECT_EQ(lookup(*chain_, plain), Step::kBacking);
  EXPECT_EQ(recorder_->prefiltered, std::vector<std::string>{"user1"});
  recorder_->name_verdict = Verdict::error(EPERM);
  Lookup upost("upost");
  EXPECT_EQ(lookup(*chain_, upost), Step::kBacking);
  EXPECT_EQ(recorder_->postfiltered, std::vector<std::string>{"upost"});
  Lookup denied("user2");
  Errno e = Errno::kOk;
  EXPECT_EQ(lookup(*chain_, denied, Errno::kOk, &e), Step::kFail);
  EXPECT_EQ(e, Errno::kPerm);
}

TEST_P(AndroidForm, ZeroInAPrefilterIsTheDaemonsOpOrElseTheBackingOp) {
  Lookup a("daemon"), b("daemon");
  EXPECT_EQ(lookup(*chain_, a), Step::kUserOp);
  EXPECT_EQ(lookup(*plain_, b), Step::kBacking);
}

TEST_P(AndroidForm, LookupActionsBecomeEntries) {
  Lookup freed("free"), gone("gone"), swap("swap");
  Errno e = Errno::kIo;
  lookup(*chain_, freed, Errno::kOk, &e);
  EXPECT_EQ(e, Errno::kOk);
  ASSERT_EQ(freed.ent.buf.size, sizeof freed.entries);
  EXPECT_EQ(freed.entry(0).entry_type, kEntryRemoveBpf);
  EXPECT_EQ(freed.entry(1).entry_type, 0u);
  lookup(*chain_, gone, Errno::kOk, &e);
  EXPECT_EQ(gone.entry(0).entry_type, kEntryRemoveBacking);
  lookup(*chain_, swap, Errno::kOk, &e);
  EXPECT_EQ(e, Errno::kNotSup);
}

TEST_P(AndroidForm, SmallStructsArePaddedToTheVerifiedSize) {
  FilterChain::Run run(*chain_, req_, FilterOp::k_access, 1);
  fuse_access_in in{};
  in.mask = 0xffffffff;  // non-zero bytes in the struct, zeros after it
  EXPECT_EQ(run.pre({&in}), Step::kBacking) << static_cast<int>(run.error());
}

TEST_P(AndroidForm, OutOfBoundsAndReadOnlyAccessesAreRefusedAtLoad) {
  struct Case {
    const char* prog;
    const char* message;
  };
  for (Case c : {Case{"android_bad_write", "outside the 256 bytes"},
                 Case{"android_bad_read", "unbounded"}, Case{"android_bad_ro", "read-only"},
                 Case{"android_bad_end", "pointers may only be compared"}}) {
    auto chain = load(c.prog, nullptr);
    ASSERT_FALSE(chain) << c.prog;
    EXPECT_NE(chain.error().find(std::string("fuse program ")), std::string::npos) << chain.error();
    EXPECT_NE(chain.error().find(c.message), std::string::npos) << chain.error();
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, AndroidForm,
                         ::testing::Values(bpf::Engine::kInterpreter, bpf::Engine::kJit),
                         [](const auto& info) {
                           return std::string(bpf::engine_name(info.param));
                         });

}  // namespace
}  // namespace fusebpf::filter
