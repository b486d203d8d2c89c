// fusebpf: the command-line entry point (CLI11). Subcommands live in commands.h.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "cli/commands.h"

using namespace fusebpf;

int main(int argc, char** argv) {
  CLI::App app{"fusebpf: stacked FUSE file systems with eBPF filters"};
  app.require_subcommand(1);

  cli::MountConfig mount;
  mount.creds = geteuid() == 0 ? filter::CredsMode::kCaller : filter::CredsMode::kDaemon;
  bool no_passthrough = false;
  auto* mount_cmd =
      app.add_subcommand("mount", "mount BACKING at MOUNTPOINT (returns when usable)");
  mount_cmd->add_option("backing", mount.backing, "directory to stack on")->required();
  mount_cmd->add_option("mountpoint", mount.mountpoint, "where to mount")->required();
  mount_cmd->add_flag("--no-passthrough", no_passthrough,
                      "serve file data through the daemon instead of kernel passthrough");
  std::map<std::string, filter::CredsMode> creds_names{{"caller", filter::CredsMode::kCaller},
                                                       {"daemon", filter::CredsMode::kDaemon}};
  mount_cmd
      ->add_option("--creds", mount.creds,
                   "caller: act as the requesting process; daemon: as the daemon")
      ->transform(CLI::CheckedTransformer(creds_names, CLI::ignore_case));
  std::map<std::string, filter::CacheMode> cache_names{{"none", filter::CacheMode::kNone},
                                                       {"auto", filter::CacheMode::kAuto},
                                                       {"always", filter::CacheMode::kAlways}};
  mount_cmd->add_option("--cache", mount.cache, "none|auto|always (see docs/ARCHITECTURE.md)")
      ->transform(CLI::CheckedTransformer(cache_names, CLI::ignore_case));
  mount_cmd->add_option("--threads", mount.threads, "worker threads (1-64)")
      ->check(CLI::Range(1, 64));
  std::map<std::string, fuse::Transport> transport_names{{"dev", fuse::Transport::kDev},
                                                         {"uring", fuse::Transport::kUring},
                                                         {"auto", fuse::Transport::kAuto}};
  mount_cmd
      ->add_option("--transport", mount.transport,
                   "uring: FUSE over io_uring, one queue per CPU; dev: /dev/fuse; auto: uring when "
                   "available and root")
      ->transform(CLI::CheckedTransformer(transport_names, CLI::ignore_case));
  mount_cmd->add_flag("--foreground,-f", mount.foreground, "stay attached; log to stderr");
  mount_cmd->add_flag("--trace", mount.trace, "log every request and reply");
  mount_cmd->add_option("--log", mount.log_file, "daemon log file");

  std::string target;
  bool lazy = false, json = false;
  auto* umount_cmd = app.add_subcommand("umount", "unmount and stop the daemon");
  umount_cmd->add_option("mountpoint", target)->required();
  umount_cmd->add_flag("--lazy,-l", lazy, "detach even if busy");
  auto* stats_cmd = app.add_subcommand("stats", "per-operation counts and latencies");
  stats_cmd->add_option("mountpoint", target)->required();
  stats_cmd->add_flag("--json", json, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*mount_cmd) {
    mount.passthrough = !no_passthrough;
    return cli::run_mount(mount);
  }
  if (*umount_cmd) return cli::run_umount(target, lazy);
  if (*stats_cmd) return cli::run_stats(target, json);
  return 1;
}
