// The per-mount control socket: one JSON object per line in each direction.
// Path: /run/fusebpf/<hash of the mountpoint's real path>.sock (root) or
// $XDG_RUNTIME_DIR/fusebpf/... (other users). Requests: {"cmd": "stats"}, {"cmd": "shutdown"};
// later issues add commands (maps, trace).
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/result.h"
#include "base/unique_fd.h"

namespace fusebpf::cli {

// Where the control socket and the log of the mount at `mountpoint` live (without extension).
std::string control_path_base(const std::string& mountpoint);

// Serves the control socket on a background thread until stopped or destroyed.
class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  static Result<std::unique_ptr<ControlServer>, std::string> start(const std::string& socket_path,
                                                                   Handler handler);
  ~ControlServer();
  void stop();

 private:
  ControlServer(std::string path, UniqueFd listener, Handler handler);
  void serve();
  std::string path_;
  UniqueFd listener_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// Sends one request to the daemon serving `mountpoint`; errors say why (no daemon, timeout).
Result<nlohmann::json, std::string> control_request(const std::string& mountpoint,
                                                    const nlohmann::json& request,
                                                    int timeout_ms = 10000);

}  // namespace fusebpf::cli
