// `fusebpf umount` and `fusebpf stats`: talk to the daemon over its control socket.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/control.h"
#include "fuse/mount.h"

namespace fusebpf::cli {
namespace {

bool wait_for_exit(pid_t pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

}  // namespace

int run_umount(const std::string& mountpoint, bool lazy) {
  if (!fuse::is_fuse_mountpoint(mountpoint)) {
    std::cerr << "fusebpf umount: " << mountpoint << " is not a FUSE mount\n";
    return 1;
  }
  auto reply = control_request(mountpoint, {{"cmd", "shutdown"}});
  if (reply && reply->contains("pid")) {
    pid_t pid = (*reply)["pid"].get<pid_t>();
    if (wait_for_exit(pid, std::chrono::seconds(15)) && !fuse::is_fuse_mountpoint(mountpoint)) {
      return 0;
    }
    std::cerr << "fusebpf umount: the daemon (pid " << pid << ") did not finish; forcing\n";
  }
  // No daemon (killed) or it did not finish: unmount ourselves.
  auto done = fuse::unmount_fuse(mountpoint, lazy);
  if (!done) {
    fuse::abort_fuse_connection(mountpoint);
    done = fuse::unmount_fuse(mountpoint, true);
  }
  if (!done) {
    std::cerr << "fusebpf umount: " << done.error() << "\n";
    return 1;
  }
  return 0;
}

int run_stats(const std::string& mountpoint, bool json) {
  auto reply = control_request(mountpoint, {{"cmd", "stats"}});
  if (!reply) {
    std::cerr << "fusebpf stats: " << reply.error() << "\n";
    return 1;
  }
  if (reply->contains("error")) {
    std::cerr << "fusebpf stats: " << (*reply)["error"].get<std::string>() << "\n";
    return 1;
  }
  if (json) {
    std::cout << reply->dump(2) << "\n";
    return 0;
  }
  const auto& r = *reply;
  std::cout << fmt::format("{} on {} (pid {}, transport {}, {} threads, creds={}, cache={})\n",
                           r.value("backing", ""), r.value("mountpoint", ""), r.value("pid", 0),
                           r.value("transport", ""), r.value("threads", 0), r.value("creds", ""),
                           r.value("cache", ""));
  std::cout << fmt::format("passthrough: {}   nodes: {}   requests: {} ({} via io_uring)\n",
                           r.value("passthrough", false) ? "on" : "off", r.value("nodes", 0),
                           r.value("requests", 0), r.value("uring_requests", 0));
  std::cout << fmt::format("{:<16} {:>10} {:>8} {:>10} {:>10} {:>10}\n", "op", "count", "errors",
                           "p50 us", "p90 us", "p99 us");
  for (const auto& [name, op] : r["ops"].items()) {
    std::cout << fmt::format("{:<16} {:>10} {:>8} {:>10.1f} {:>10.1f} {:>10.1f}\n", name,
                             op.value("count", 0), op.value("errors", 0), op.value("p50_us", 0.0),
                             op.value("p90_us", 0.0), op.value("p99_us", 0.0));
  }
  if (r.contains("filters")) {
    std::cout << fmt::format("\n{:<16} {:>10} {:>10} {:>10} {:>10}\n", "filter op", "bpf", "c++",
                             "backing", "failed");
    for (const auto& [name, f] : r["filters"].items()) {
      std::cout << fmt::format("{:<16} {:>10} {:>10} {:>10} {:>10}\n", name, f.value("bpf", 0),
                               f.value("cxx", 0), f.value("backing", 0), f.value("failed", 0));
    }
  }
  return 0;
}

}  // namespace fusebpf::cli
