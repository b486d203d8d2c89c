// The CLI's subcommands. Each returns the process exit status; errors go to stderr as one
// clear line ("fusebpf mount: ...").
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"
#include "filter/chain.h"
#include "filter/stacked_fs.h"
#include "fuse/session.h"

namespace fusebpf::cli {

struct MountConfig {
  std::string backing;
  std::string mountpoint;
  bool passthrough = true;
  filter::CredsMode creds = filter::CredsMode::kCaller;
  filter::CacheMode cache = filter::CacheMode::kAuto;
  unsigned threads = 2;
  fuse::Transport transport = fuse::Transport::kAuto;
  bool foreground = false;
  bool trace = false;
  std::string log_file;      // default: next to the control socket
  int ready_timeout_s = 30;  // how long `mount` waits for the daemon to be ready
  std::string filter;        // --filter OBJ.o[:OPS_NAME]
  std::string user_filter;   // --user-filter lib.so[:ARG]
  bpf::Engine engine = bpf::jit_available() ? bpf::Engine::kJit : bpf::Engine::kInterpreter;
};

int run_mount(MountConfig config);
int run_umount(const std::string& mountpoint, bool lazy);
int run_stats(const std::string& mountpoint, bool json);

// The daemon itself: mounts, serves until unmounted or signalled, unmounts. `ready_fd` (or -1)
// receives "ok\n" once the mount is usable, or "error: <why>\n".
// `filters`: loaded (and verified) by run_mount before it forks, or null.
int serve_mount(const MountConfig& config, int ready_fd,
                std::unique_ptr<filter::FilterChain> filters = nullptr);

// ---- filters (filter_cmd.cc) ----
// Loads --filter and --user-filter (null when neither is given); errors carry the verifier's
// diagnostics with source lines.
Result<std::unique_ptr<filter::FilterChain>, std::string> load_filters(const MountConfig& config);
// Daemon side of the "map", "trace" and stats additions of the control socket.
nlohmann::json filter_control(const nlohmann::json& request, filter::FilterChain* filters);
nlohmann::json filter_stats_json(const filter::FilterChain* filters);
void install_trace_buffer();  // bpf_printk lines go to a ring the "trace" command reads
// `fusebpf map MOUNTPOINT list|dump NAME|get NAME KEY|set NAME KEY VALUE|delete NAME KEY`
// KEY/VALUE are hex, or with `typed` read and shown by their BTF types (strings, numbers).
int run_map(const std::string& mountpoint, const std::vector<std::string>& args, bool typed);
// `fusebpf trace MOUNTPOINT`: prints bpf_printk lines until interrupted (or `seconds` > 0).
int run_trace(const std::string& mountpoint, double seconds);

}  // namespace fusebpf::cli
