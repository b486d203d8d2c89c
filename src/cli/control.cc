// Control socket server and client; see control.h.
#include "cli/control.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "base/log.h"
#include "base/sys.h"

namespace fusebpf::cli {
namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string runtime_dir() {
  if (geteuid() == 0) return "/run/fusebpf";
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/fusebpf";
  return fmt::format("/tmp/fusebpf-{}", geteuid());
}

Result<sockaddr_un, std::string> socket_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return fail("control socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Reads one line (up to 1 MiB) with a deadline.
Result<std::string, std::string> read_line(int fd, int timeout_ms) {
  std::string line;
  char chunk[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r == 0) return fail(std::string("timed out waiting for the daemon"));
    if (r < 0 && errno != EINTR) return fail(fmt::format("poll: {}", std::strerror(errno)));
    if (r < 0) continue;
    auto n = sys::read_some(fd, std::as_writable_bytes(std::span<char>(chunk)));
    if (!n) return fail(fmt::format("read: {}", errno_message(n.error())));
    if (*n == 0) return line;
    line.append(chunk, *n);
    auto nl = line.find('\n');
    if (nl != std::string::npos) return line.substr(0, nl);
    if (line.size() > (1u << 20)) return fail(std::string("reply too long"));
  }
}

}  // namespace

std::string control_path_base(const std::string& mountpoint) {
  char resolved[PATH_MAX];
  std::string key = realpath(mountpoint.c_str(), resolved) ? resolved : mountpoint;
  return fmt::format("{}/{:016x}", runtime_dir(), fnv1a(key));
}

Result<std::unique_ptr<ControlServer>, std::string> ControlServer::start(
    const std::string& socket_path, Handler handler) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(socket_path).parent_path(), ec);
  FUSEBPF_TRY(addr, socket_address(socket_path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fmt::format("socket: {}", std::strerror(errno)));
  UniqueFd listener(fd);
  ::unlink(socket_path.c_str());  // a stale socket from a daemon that was killed
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 ||
      listen(listener.get(), 16) < 0) {
    return fail(fmt::format("control socket {}: {}", socket_path, std::strerror(errno)));
  }
  chmod(socket_path.c_str(), 0600);
  auto server = std::unique_ptr<ControlServer>(
      new ControlServer(socket_path, std::move(listener), std::move(handler)));
  server->thread_ = std::thread([s = server.get()] { s->serve(); });
  return server;
}

ControlServer::ControlServer(std::string path, UniqueFd listener, Handler handler)
    : path_(std::move(path)), listener_(std::move(listener)), handler_(std::move(handler)) {}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
  if (stopping_.exchange(true)) return;
  ::shutdown(listener_.get(), SHUT_RDWR);  // wakes accept()
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

void ControlServer::serve() {
  while (!stopping_.load()) {
    int fd = accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    UniqueFd client(fd);
    auto line = read_line(client.get(), 5000);
    nlohmann::json reply;
    if (!line) {
      continue;
    }
    try {
      reply = handler_(nlohmann::json::parse(*line));
    } catch (const std::exception& e) {
      reply = {{"error", std::string("bad request: ") + e.what()}};
    }
    std::string out = reply.dump() + "\n";
    (void)sys::write_all(client.get(), sys::bytes(out));
  }
}

Result<nlohmann::json, std::string> control_request(const std::string& mountpoint,
                                                    const nlohmann::json& request, int timeout_ms) {
  std::string path = control_path_base(mountpoint) + ".sock";
  FUSEBPF_TRY(addr, socket_address(path));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(fmt::format("socket: {}", std::strerror(errno)));
  UniqueFd sock(fd);
  if (connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return fail(fmt::format("no fusebpf daemon is serving {} ({}: {})", mountpoint, path,
                            std::strerror(errno)));
  }
  std::string out = request.dump() + "\n";
  if (!sys::write_all(sock.get(), sys::bytes(out))) {
    return fail(std::string("cannot talk to the daemon"));
  }
  FUSEBPF_TRY(line, read_line(sock.get(), timeout_ms));
  try {
    return nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    return fail(std::string("malformed reply from the daemon: ") + e.what());
  }
}

}  // namespace fusebpf::cli
