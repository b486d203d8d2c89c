// Session: INIT negotiation, worker threads, dispatch, INTERRUPT, statistics.
// Protocol notes: docs/ARCHITECTURE.md "FUSE protocol".
#include "fuse/session.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "fuse/internal/uring_queue.h"

namespace fusebpf::fuse {
namespace {

uint64_t now_ns() {
  struct timespec ts {};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Signal used to break a worker out of a blocking syscall when its request is interrupted.
int interrupt_signal() { return SIGRTMIN + 2; }

void install_interrupt_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: the blocking call must fail with EINTR
    sigaction(interrupt_signal(), &sa, nullptr);
  });
}

constexpr uint64_t kWantedFlags =
    abi::init::kAsyncRead | abi::init::kPosixLocks | abi::init::kAtomicOTrunc |
    abi::init::kExportSupport | abi::init::kBigWrites | abi::init::kDontMask |
    abi::init::kFlockLocks | abi::init::kHasIoctlDir | abi::init::kAutoInvalData |
    abi::init::kDoReaddirplus | abi::init::kReaddirplusAuto | abi::init::kAsyncDio |
    abi::init::kParallelDirops | abi::init::kHandleKillprivV2 | abi::init::kMaxPages |
    abi::init::kSetxattrExt | abi::init::kInitExt | abi::init::kPosixAcl;

}  // namespace

std::string_view transport_name(Transport transport) {
  switch (transport) {
    case Transport::kDev:
      return "dev";
    case Transport::kUring:
      return "uring";
    case Transport::kAuto:
      return "auto";
  }
  return "dev";
}

std::optional<Transport> parse_transport(std::string_view name) {
  for (Transport t : {Transport::kDev, Transport::kUring, Transport::kAuto}) {
    if (name == transport_name(t)) return t;
  }
  return std::nullopt;
}

Session::Session(OpHandler& handler, std::unique_ptr<Channel> channel, SessionOptions options)
    : handler_(handler),
      channel_(std::move(channel)),
      options_(options),
      counters_(std::make_unique<std::array<OpCounters, kMaxOpcode + 1>>()) {
  options_.threads = std::max(1u, options_.threads);
  install_interrupt_handler();
}

Session::~Session() {
  // Ring threads call process(): stop them before any member goes away.
  if (uring_) {
    uring_->stop();
    (void)uring_->join();
  }
}

size_t Session::buffer_size() const {
  // A WRITE carries max_write bytes after its header and fuse_write_in; leave a page of room.
  return std::max<size_t>(abi::kMinReadBuffer, options_.max_write + 4096);
}

Result<void, SessionError> Session::run() {
  std::vector<std::unique_ptr<Channel>> clones;
  for (unsigned i = 1; i < options_.threads; ++i) {
    auto clone = channel_->clone();
    if (!clone) {
      FUSEBPF_LOG(kWarn, "cannot clone the FUSE channel ({}); using {} worker(s)",
                  clone.error().message, i);
      break;
    }
    clones.push_back(std::move(*clone));
  }
  std::mutex error_mutex;
  std::optional<SessionError> first_error;
  auto serve = [&](Channel& channel) {
    std::vector<std::byte> buffer(buffer_size());
    handler_.worker_started();
    for (;;) {
      auto n = channel.read(buffer);
      if (!n) {
        if (n.error().kind != SessionError::Kind::kUnmounted) {
          std::lock_guard lock(error_mutex);
          if (!first_error) first_error = n.error();
        }
        return;
      }
      process(channel, std::span<const std::byte>(buffer.data(), *n));
    }
  };
  std::vector<std::thread> threads;
  for (auto& clone : clones) threads.emplace_back(serve, std::ref(*clone));
  serve(*channel_);
  for (auto& t : threads) t.join();
  // /dev/fuse is gone: ring entries still waiting for a reply get no completion, so stop
  // the queue threads instead of waiting for every entry to end.
  if (uring_active_.load(std::memory_order_acquire)) {
    uring_->stop();
    auto joined = uring_->join();
    if (!joined && !first_error) first_error = joined.error();
    auto counts = uring_->per_queue();
    for (size_t q = 0; q < counts.size(); ++q) {
      FUSEBPF_LOG(kInfo, "io_uring queue {}: {} requests, {} of them off its CPU", q,
                  counts[q].served, counts[q].off_cpu);
    }
  }
  if (first_error) return fail(*first_error);
  return {};
}

void Session::process(Channel& channel, std::span<const std::byte> message) {
  uint64_t start = now_ns();
  DecodedRequest req;
  auto decoded = Decoder::decode(message, decode_options_, req);
  if (!decoded) {
    if (message.size() < sizeof(abi::fuse_in_header)) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      FUSEBPF_LOG(kError, "dropping a {}-byte message shorter than a FUSE header", message.size());
      return;
    }
    const OpInfo* info = op_info(req.header().opcode);
    if (decoded.error() == Errno::kNoSys) {
      unknown_opcodes_.fetch_add(1, std::memory_order_relaxed);
    } else {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      FUSEBPF_LOG(kWarn, "malformed {} request (unique {})", op_name(req.header().opcode),
                  req.unique());
    }
    if (info == nullptr || info->reply) {
      ReplyTarget target{&channel, req.unique(), info ? info->opcode : Opcode::kLookup, start};
      send_reply(target, decoded.error(), {});
    }
    return;
  }
  const OpInfo* info = op_info(req.header().opcode);
  if (options_.trace) {
    FUSEBPF_LOG(kInfo, "-> {} unique {} node {} len {} uid {} pid {}", info->name, req.unique(),
                req.nodeid(), req.header().len, req.header().uid, req.header().pid);
  }
  ReplySlot reply;
  if (info->reply)
    reply = ReplySlot(this, ReplyTarget{&channel, req.unique(), info->opcode, start});

  if (req.opcode() == Opcode::kInit) return handle_init(req, std::move(reply));
  if (!initialized_.load(std::memory_order_acquire)) {
    FUSEBPF_LOG(kError, "{} before INIT", info->name);
    return reply.error(Errno::kProto);
  }
  if (req.opcode() == Opcode::kInterrupt) {
    (*counters_)[static_cast<uint32_t>(Opcode::kInterrupt)].count.fetch_add(1);
    return handle_interrupt(Request<Opcode::kInterrupt>(req).in().unique);
  }
  if (!info->reply) {
    (*counters_)[req.header().opcode].count.fetch_add(1, std::memory_order_relaxed);
  }
  try {
    dispatch(req, std::move(reply));
  } catch (const std::exception& e) {
    FUSEBPF_LOG(kError, "{} (unique {}) threw: {}", info->name, req.unique(), e.what());
  } catch (...) {
    FUSEBPF_LOG(kError, "{} (unique {}) threw", info->name, req.unique());
  }
}

void Session::dispatch(const DecodedRequest& req, ReplySlot reply) {
  // INIT and INTERRUPT never get here (process() handles them); DESTROY is handled here.
  if (req.opcode() == Opcode::kDestroy) {
    handler_.destroy();
    return reply.ok();
  }
  switch (req.opcode()) {
#define FUSE_CALL_kReply(Name, method) \
  handler_.method(Request<Opcode::k##Name>(req), std::move(reply))
#define FUSE_CALL_kNoReply(Name, method) handler_.method(Request<Opcode::k##Name>(req))
#define FUSE_OP(Name, method, KNAME, num, In, min_in, names, reply_kind) \
  case Opcode::k##Name:                                                  \
    FUSE_CALL_##reply_kind(Name, method);                                \
    break;
#include "abi/fuse_ops.def"
#undef FUSE_OP
#undef FUSE_CALL_kReply
#undef FUSE_CALL_kNoReply
  }
}

void Session::handle_init(const DecodedRequest& decoded, ReplySlot reply) {
  Request<Opcode::kInit> req(decoded);
  const auto& in = req.in();
  abi::fuse_init_out out{};
  out.major = abi::kKernelVersion;
  out.minor = abi::kKernelMinorVersion;
  if (in.major < 7) {
    FUSEBPF_LOG(kError, "kernel speaks FUSE {}.{}: too old", in.major, in.minor);
    return reply.error(Errno::kProto);
  }
  if (in.major > 7) return reply.send(out);  // the kernel will retry with 7.x
  uint64_t offered = in.flags;
  if (in.flags & abi::init::kInitExt) offered |= uint64_t{in.flags2} << 32;

  uint64_t want = kWantedFlags;
  if (options_.cache_symlinks) want |= abi::init::kCacheSymlinks;
  if (options_.passthrough) want |= abi::init::kPassthrough;
  uint64_t enabled = offered & want;

  connection_.proto_major = in.major;
  connection_.proto_minor = in.minor;
  connection_.kernel_flags = offered;
  connection_.flags = enabled;
  connection_.max_readahead = in.max_readahead;
  connection_.max_write = options_.max_write;
  connection_.max_pages =
      (enabled & abi::init::kMaxPages) ? (options_.max_write + 4095) / 4096 : 32;
  if (!(enabled & abi::init::kMaxPages))
    connection_.max_write = std::min<uint32_t>(options_.max_write, 128 * 1024);
  connection_.passthrough = (enabled & abi::init::kPassthrough) != 0;
  if (options_.passthrough && !connection_.passthrough) {
    FUSEBPF_LOG(kWarn,
                "the kernel (FUSE {}.{}) offers no passthrough: file data goes through the daemon",
                in.major, in.minor);
  }
  decode_options_.setxattr_ext = (enabled & abi::init::kSetxattrExt) != 0;
  if (want_uring(offered)) {
    // The kernel refuses payload buffers smaller than this.
    size_t payload = std::max<size_t>(
        {abi::kMinReadBuffer, connection_.max_write, size_t{connection_.max_pages} * 4096});
    auto* dev = dynamic_cast<DevFuseChannel*>(channel_.get());
    auto transport = UringTransport::create(dev->fd(), options_.uring_queue_depth, payload);
    if (transport) {
      uring_ = std::move(*transport);
      enabled |= abi::init::kOverIoUring;
    } else {
      FUSEBPF_LOG(kError, "cannot set up FUSE over io_uring ({}); using /dev/fuse",
                  transport.error().message);
    }
  }
  connection_.flags = enabled;

  out.max_readahead = in.max_readahead;
  out.flags = static_cast<uint32_t>(enabled);
  out.flags2 = static_cast<uint32_t>(enabled >> 32);
  out.max_background = 64;
  out.congestion_threshold = 48;
  out.max_write = connection_.max_write;
  out.time_gran = 1;
  out.max_pages = static_cast<uint16_t>(connection_.max_pages);
  // Passthrough needs a stacking depth: our backing files are on ordinary file systems.
  out.max_stack_depth = connection_.passthrough ? 1 : 0;

  handler_.init(connection_, *this);
  initialized_.store(true, std::memory_order_release);
  FUSEBPF_LOG(kInfo, "INIT: FUSE {}.{}, max_write {}, passthrough {}, transport {}", in.major,
              in.minor, connection_.max_write, connection_.passthrough ? "on" : "off",
              uring_ ? "uring" : "dev");
  reply.send(out);
  // The kernel accepts ring registrations only once it has processed the INIT reply.
  if (uring_) start_uring();
}

bool Session::want_uring(uint64_t offered) const {
  if (options_.transport == Transport::kDev) return false;
  if (dynamic_cast<DevFuseChannel*>(channel_.get()) == nullptr) return false;
  if (!(offered & abi::init::kOverIoUring)) {
    if (options_.transport == Transport::kUring) {
      FUSEBPF_LOG(kError,
                  "the kernel does not offer FUSE over io_uring (enable_uring must be Y before "
                  "the mount); using /dev/fuse");
    }
    return false;
  }
  return options_.transport == Transport::kUring || geteuid() == 0;
}

void Session::start_uring() {
  uring_->start(
      [this](Channel& channel, std::span<const std::byte> message) { process(channel, message); },
      [this] { handler_.worker_started(); });
  uring_active_.store(true, std::memory_order_release);
  FUSEBPF_LOG(kInfo, "FUSE over io_uring: {} queues of {} entries", uring_->queues(),
              options_.uring_queue_depth);
}

std::string_view Session::transport() const {
  if (uring_active_.load(std::memory_order_acquire) && uring_->registered()) return "uring";
  return "dev";
}

void Session::handle_interrupt(uint64_t unique) {
  std::lock_guard lock(interrupt_mutex_);
  auto it = interruptible_.find(unique);
  if (it != interruptible_.end()) {
    it->second.cancelled->store(true);
    pthread_kill(it->second.thread, interrupt_signal());
    return;
  }
  // The request may not have reached its InterruptibleScope yet; remember the INTERRUPT.
  // Requests that never become interruptible simply finish. The set is bounded.
  if (interrupted_.size() > 1024) interrupted_.erase(interrupted_.begin());
  interrupted_.insert(unique);
}

void Session::begin_interruptible(uint64_t unique, std::atomic<bool>* cancelled) {
  std::lock_guard lock(interrupt_mutex_);
  interruptible_[unique] = Waiter{pthread_self(), cancelled};
  if (interrupted_.erase(unique) != 0) cancelled->store(true);
}

void Session::end_interruptible(uint64_t unique) {
  std::lock_guard lock(interrupt_mutex_);
  interruptible_.erase(unique);
}

void Session::send_reply(const ReplyTarget& target, Errno error,
                         std::span<const iovec> body) noexcept {
  abi::fuse_out_header header{};
  header.unique = target.unique;
  header.error = -errno_value(error);
  iovec iov[9];
  size_t n = 0;
  iov[n++] = iovec{&header, sizeof header};
  size_t len = sizeof header;
  if (error == Errno::kOk) {
    for (const iovec& part : body) {
      if (n == std::size(iov)) break;
      if (part.iov_len == 0) continue;
      iov[n++] = part;
      len += part.iov_len;
    }
  }
  header.len = static_cast<uint32_t>(len);
  auto written = target.channel->write(std::span<const iovec>(iov, n));
  if (!written && written.error().kind != SessionError::Kind::kUnmounted) {
    FUSEBPF_LOG(kError, "reply to {} (unique {}): {}", op_name(target.opcode), target.unique,
                written.error().message);
  }
  auto& counters = (*counters_)[static_cast<uint32_t>(target.opcode)];
  counters.count.fetch_add(1, std::memory_order_relaxed);
  if (error != Errno::kOk) counters.errors.fetch_add(1, std::memory_order_relaxed);
  counters.latency.record(now_ns() - target.start_ns);
  if (options_.trace) {
    FUSEBPF_LOG(kInfo, "<- {} unique {} {} len {}", op_name(target.opcode), target.unique,
                error == Errno::kOk ? "ok" : errno_name(error), len);
  }
}

Result<void> Session::notify(abi::NotifyCode code, std::span<const iovec> parts) {
  abi::fuse_out_header header{};
  header.unique = 0;
  header.error = static_cast<int32_t>(code);
  iovec iov[4];
  size_t n = 0;
  iov[n++] = iovec{&header, sizeof header};
  size_t len = sizeof header;
  for (const iovec& part : parts) {
    iov[n++] = part;
    len += part.iov_len;
  }
  header.len = static_cast<uint32_t>(len);
  auto written = channel_->write(std::span<const iovec>(iov, n));
  if (!written) return fail(written.error().error);
  return {};
}

Result<void> Session::notify_inval_entry(uint64_t parent, std::string_view name) {
  abi::fuse_notify_inval_entry_out out{parent, static_cast<uint32_t>(name.size()), 0};
  iovec parts[] = {{&out, sizeof out},
                   {const_cast<char*>(name.data()), name.size()},
                   {const_cast<char*>(""), 1}};
  return notify(abi::NotifyCode::kInvalEntry, parts);
}

Result<void> Session::notify_inval_inode(uint64_t nodeid, int64_t offset, int64_t length) {
  abi::fuse_notify_inval_inode_out out{nodeid, offset, length};
  iovec parts[] = {{&out, sizeof out}};
  return notify(abi::NotifyCode::kInvalInode, parts);
}

Result<void> Session::notify_delete(uint64_t parent, uint64_t child, std::string_view name) {
  abi::fuse_notify_delete_out out{parent, child, static_cast<uint32_t>(name.size()), 0};
  iovec parts[] = {{&out, sizeof out},
                   {const_cast<char*>(name.data()), name.size()},
                   {const_cast<char*>(""), 1}};
  return notify(abi::NotifyCode::kDelete, parts);
}

Result<void> Session::notify_inc_epoch() { return notify(abi::NotifyCode::kIncEpoch, {}); }

Result<int32_t> Session::open_backing(int fd) { return channel_->open_backing(fd); }
Result<void> Session::close_backing(int32_t backing_id) {
  return channel_->close_backing(backing_id);
}

SessionStats Session::stats() const {
  SessionStats s;
  s.transport = transport();
  if (uring_active_.load(std::memory_order_acquire)) {
    s.uring_requests = uring_->served();
    for (const auto& counts : uring_->per_queue()) {
      s.uring_queue_requests.push_back(counts.served);
      s.uring_queue_off_cpu.push_back(counts.off_cpu);
    }
  }
  for (uint32_t op = 0; op <= kMaxOpcode; ++op) {
    const auto& c = (*counters_)[op];
    uint64_t count = c.count.load(std::memory_order_relaxed);
    if (count == 0) continue;
    OpStats o;
    o.name = op_name(op);
    o.count = count;
    o.errors = c.errors.load(std::memory_order_relaxed);
    o.p50_ns = c.latency.quantile(0.50);
    o.p90_ns = c.latency.quantile(0.90);
    o.p99_ns = c.latency.quantile(0.99);
    s.requests += count;
    s.ops.push_back(o);
  }
  s.unknown_opcodes = unknown_opcodes_.load();
  s.malformed = malformed_.load();
  return s;
}

}  // namespace fusebpf::fuse
