// Micro-benchmarks of the daemon's FUSE hot paths (issue 4, item 7): request decode, dispatch
// through the session, reply encode, and the backing layer's lookup/getattr of a remembered
// node. Nothing here touches /dev/fuse: requests are built in memory and replies go to a
// channel that discards them.
//
//   build/bench/micro_fuse [--benchmark_filter=Decode] [--benchmark_min_time=0.5]
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "backing/backing.h"
#include "base/log.h"
#include "filter/chain.h"
#include "filter/stacked_fs.h"
#include "fuse/internal/decode.h"
#include "fuse/internal/fake_channel.h"
#include "fuse/session.h"

namespace fusebpf::fuse {
namespace {

// Like FakeChannel, but replies are counted and dropped: FakeChannel keeps every reply, which
// a benchmark running millions of iterations cannot afford.
class DiscardChannel final : public Channel {
 public:
  Result<size_t, SessionError> read(std::span<std::byte>) override {
    return fail(SessionError{SessionError::Kind::kUnmounted, Errno::kNoDev, "discard"});
  }
  Result<void, SessionError> write(std::span<const iovec> message) override {
    for (const iovec& part : message) bytes += part.iov_len;
    ++replies;
    return {};
  }
  Result<std::unique_ptr<Channel>, SessionError> clone() override {
    return fail(SessionError{SessionError::Kind::kIo, Errno::kNoSys, "no clones"});
  }
  uint64_t bytes = 0;
  uint64_t replies = 0;
};

std::vector<std::byte> request(Opcode opcode, uint64_t nodeid, std::span<const std::byte> body) {
  abi::fuse_in_header h{};
  h.len = static_cast<uint32_t>(sizeof h + body.size());
  h.opcode = static_cast<uint32_t>(opcode);
  h.unique = 2;
  h.nodeid = nodeid;
  h.uid = getuid();
  h.gid = getgid();
  h.pid = static_cast<uint32_t>(getpid());
  std::vector<std::byte> out(sizeof h + body.size());
  std::memcpy(out.data(), &h, sizeof h);
  if (!body.empty()) std::memcpy(out.data() + sizeof h, body.data(), body.size());
  return out;
}

std::vector<std::byte> lookup_request(std::string_view name, uint64_t parent = 1) {
  std::string with_nul(name);
  with_nul.push_back('\0');
  return request(Opcode::kLookup, parent, std::as_bytes(std::span(with_nul)));
}

std::vector<std::byte> getattr_request(uint64_t nodeid) {
  abi::fuse_getattr_in in{};
  return request(Opcode::kGetattr, nodeid, bytes_of(in));
}

std::vector<std::byte> init_request() {
  abi::fuse_init_in in{};
  in.major = 7;
  in.minor = 42;
  in.max_readahead = 131072;
  in.flags = static_cast<uint32_t>(abi::init::kAsyncRead | abi::init::kMaxPages |
                                   abi::init::kInitExt | abi::init::kParallelDirops);
  auto r = request(Opcode::kInit, 0, bytes_of(in));
  return r;
}

// ---- decode ----

void BM_DecodeLookup(benchmark::State& state) {
  auto message = lookup_request("some_source_file.c");
  DecodedRequest out;
  for (auto _ : state) {
    auto r = Decoder::decode(message, DecodeOptions{}, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out.name(0).data());
  }
}
BENCHMARK(BM_DecodeLookup);

void BM_DecodeGetattr(benchmark::State& state) {
  auto message = getattr_request(7);
  DecodedRequest out;
  for (auto _ : state) {
    auto r = Decoder::decode(message, DecodeOptions{}, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out.in_bytes());
  }
}
BENCHMARK(BM_DecodeGetattr);

void BM_DecodeWrite4k(benchmark::State& state) {
  std::vector<std::byte> body(sizeof(abi::fuse_write_in) + 4096);
  abi::fuse_write_in in{};
  in.size = 4096;
  std::memcpy(body.data(), &in, sizeof in);
  auto message = request(Opcode::kWrite, 7, body);
  DecodedRequest out;
  for (auto _ : state) {
    auto r = Decoder::decode(message, DecodeOptions{}, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out.payload().data());
  }
}
BENCHMARK(BM_DecodeWrite4k);

// ---- dispatch: Session::process with a handler that answers at once ----

class EntryHandler : public OpHandler {
 public:
  void lookup(const Request<Opcode::kLookup>& req, ReplySlot reply) override {
    abi::fuse_entry_out out{};
    out.nodeid = 42 + req.name().size();
    reply.send(out);
  }
  void getattr(const Request<Opcode::kGetattr>& req, ReplySlot reply) override {
    abi::fuse_attr_out out{};
    out.attr.ino = req.nodeid();
    reply.send(out);
  }
};

struct SessionFixture {
  template <typename Handler>
  explicit SessionFixture(Handler& handler) {
    auto ch = std::make_unique<FakeChannel>();  // the session's own (notification) channel
    session = std::make_unique<Session>(handler, std::move(ch), SessionOptions{.threads = 1});
    session->process(discard, init_request());
  }
  DiscardChannel discard;
  std::unique_ptr<Session> session;
};

void BM_DispatchLookup(benchmark::State& state) {
  EntryHandler handler;
  SessionFixture f(handler);
  auto message = lookup_request("some_source_file.c");
  for (auto _ : state) f.session->process(f.discard, message);
  if (f.discard.replies != static_cast<uint64_t>(state.iterations()) + 1) {
    state.SkipWithError("a request was not answered");
  }
}
BENCHMARK(BM_DispatchLookup);

void BM_DispatchGetattr(benchmark::State& state) {
  EntryHandler handler;
  SessionFixture f(handler);
  auto message = getattr_request(7);
  for (auto _ : state) f.session->process(f.discard, message);
}
BENCHMARK(BM_DispatchGetattr);

// ---- reply encode: a ReplySlot answered through the session's ReplySink ----

void BM_ReplyEntry(benchmark::State& state) {
  EntryHandler handler;
  SessionFixture f(handler);
  ReplySink& sink = *f.session;
  abi::fuse_entry_out out{};
  out.nodeid = 42;
  for (auto _ : state) {
    ReplySlot slot(&sink, ReplyTarget{&f.discard, 3, Opcode::kLookup, 0});
    slot.send(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(f.discard.bytes));
}
BENCHMARK(BM_ReplyEntry);

void BM_ReplyError(benchmark::State& state) {
  EntryHandler handler;
  SessionFixture f(handler);
  ReplySink& sink = *f.session;
  for (auto _ : state) {
    ReplySlot slot(&sink, ReplyTarget{&f.discard, 3, Opcode::kLookup, 0});
    slot.error(Errno::kNoEnt);
  }
}
BENCHMARK(BM_ReplyError);

// ---- backing: lookup and getattr of a node the table already remembers ----

class TempTree {
 public:
  TempTree() {
    char tmpl[] = "/tmp/fusebpf-micro.XXXXXX";
    root_ = ::mkdtemp(tmpl) ? tmpl : "";
    for (int i = 0; i < 64; ++i) {
      std::string p = root_ + "/file" + std::to_string(i);
      int fd = ::open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd >= 0) ::close(fd);
    }
  }
  ~TempTree() {
    std::error_code ec;
    if (!root_.empty()) std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

void BM_BackingLookupCached(benchmark::State& state) {
  TempTree tree;
  auto b = backing::Backing::create(tree.root(), {});
  if (!b) return state.SkipWithError("Backing::create failed");
  auto first = (*b)->lookup(backing::kRootNode, "file7");
  if (!first) return state.SkipWithError("lookup failed");
  for (auto _ : state) {
    auto e = (*b)->lookup(backing::kRootNode, "file7");
    benchmark::DoNotOptimize(e);
  }
  (*b)->forget(first->node, static_cast<uint64_t>(state.iterations()) + 1);
}
BENCHMARK(BM_BackingLookupCached);

void BM_BackingGetattrCached(benchmark::State& state) {
  TempTree tree;
  auto b = backing::Backing::create(tree.root(), {});
  if (!b) return state.SkipWithError("Backing::create failed");
  auto e = (*b)->lookup(backing::kRootNode, "file7");
  if (!e) return state.SkipWithError("lookup failed");
  for (auto _ : state) {
    auto st = (*b)->getattr(e->node);
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_BackingGetattrCached);

// The whole daemon-side path of one GETATTR: decode, dispatch to the stacked fs, fstat of the
// lower file through the node table, reply encode.
void BM_StackedGetattr(benchmark::State& state) {
  TempTree tree;
  auto b = backing::Backing::create(tree.root(), {});
  if (!b) return state.SkipWithError("Backing::create failed");
  filter::StackedFs fs(**b, filter::StackedFsOptions{.creds = filter::CredsMode::kDaemon});
  SessionFixture f(fs);
  f.session->process(f.discard, lookup_request("file7"));
  auto e = (*b)->lookup(backing::kRootNode, "file7");
  if (!e) return state.SkipWithError("lookup failed");
  auto message = getattr_request(e->node);
  for (auto _ : state) f.session->process(f.discard, message);
}
BENCHMARK(BM_StackedGetattr);

// GETATTR and LOOKUP through the stacked fs without a filter and with the trace-every-op BPF
// filter (examples/trace_all, JIT) on the root: what a trace filter adds to each operation's
// daemon-side time (issue 3: at most 3% of an operation's end-to-end cost).
void stacked_op(benchmark::State& state, bool traced, bool lookup) {
  TempTree tree;
  auto b = backing::Backing::create(tree.root(), {});
  if (!b) return state.SkipWithError("Backing::create failed");
  filter::StackedFs fs(**b, filter::StackedFsOptions{.creds = filter::CredsMode::kDaemon});
  if (traced) {
    filter::FilterConfig config;
    config.bpf_object = FUSEBPF_TRACE_FILTER;
    auto chain = filter::FilterChain::create(std::move(config));
    if (!chain) return state.SkipWithError(chain.error().c_str());
    fs.set_filters(std::move(*chain));
  }
  SessionFixture f(fs);
  auto e = (*b)->lookup(backing::kRootNode, "file7");
  if (!e) return state.SkipWithError("lookup failed");
  auto message = lookup ? lookup_request("file7") : getattr_request(e->node);
  uint64_t before = f.discard.replies;
  for (auto _ : state) f.session->process(f.discard, message);
  if (f.discard.replies - before != static_cast<uint64_t>(state.iterations())) {
    state.SkipWithError("a request was not answered");
  }
}
BENCHMARK_CAPTURE(stacked_op, getattr_plain, false, false);
BENCHMARK_CAPTURE(stacked_op, getattr_traced, true, false);
BENCHMARK_CAPTURE(stacked_op, lookup_plain, false, true);
BENCHMARK_CAPTURE(stacked_op, lookup_traced, true, true);

}  // namespace
}  // namespace fusebpf::fuse

int main(int argc, char** argv) {
  // Every fixture negotiates INIT, which logs at info level; keep the output to the numbers.
  fusebpf::log::set_level(fusebpf::log::Level::kError);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
