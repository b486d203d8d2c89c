// The CLI's subcommands. Each returns the process exit status; errors go to stderr as one
// clear line ("fusebpf mount: ...").
#pragma once

#include <string>

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
};

int run_mount(MountConfig config);
int run_umount(const std::string& mountpoint, bool lazy);
int run_stats(const std::string& mountpoint, bool json);

// The daemon itself: mounts, serves until unmounted or signalled, unmounts. `ready_fd` (or -1)
// receives "ok\n" once the mount is usable, or "error: <why>\n".
int serve_mount(const MountConfig& config, int ready_fd);

}  // namespace fusebpf::cli
