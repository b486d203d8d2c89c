// fusebpf: the command-line entry point (CLI11). Subcommands live in commands.h.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>

#include "cli/author_cmd.h"
#include "cli/bpf_cmd.h"
#include "cli/commands.h"

using namespace fusebpf;

namespace {

// An option taking one of a fixed set of names, stored as the matching enum value.
template <typename E>
void add_choice(CLI::App* cmd, const std::string& name, E& target,
                const std::map<std::string, E>& choices, const std::string& help) {
  std::vector<std::string> names;
  for (const auto& [choice, value] : choices) names.push_back(choice);
  cmd->add_option_function<std::string>(
         name, [&target, choices](const std::string& v) { target = choices.at(v); }, help)
      ->check(CLI::IsMember(names));
}

}  // namespace

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
  add_choice(mount_cmd, "--creds", mount.creds,
             {{"caller", filter::CredsMode::kCaller}, {"daemon", filter::CredsMode::kDaemon}},
             "caller: act as the requesting process; daemon: as the daemon");
  add_choice(mount_cmd, "--cache", mount.cache,
             {{"none", filter::CacheMode::kNone},
              {"auto", filter::CacheMode::kAuto},
              {"always", filter::CacheMode::kAlways}},
             "kernel caching of names, attributes and data (see docs/ARCHITECTURE.md)");
  mount_cmd->add_option("--threads", mount.threads, "worker threads (1-64)")
      ->check(CLI::Range(1, 64));
  add_choice(mount_cmd, "--transport", mount.transport,
             {{"dev", fuse::Transport::kDev},
              {"uring", fuse::Transport::kUring},
              {"auto", fuse::Transport::kAuto}},
             "uring: FUSE over io_uring, one queue per CPU; dev: /dev/fuse; auto: uring when "
             "available and root");
  mount_cmd->add_flag("--foreground,-f", mount.foreground, "stay attached; log to stderr");
  mount_cmd->add_flag("--trace", mount.trace, "log every request and reply");
  mount_cmd->add_option("--log", mount.log_file, "daemon log file");
  mount_cmd->add_option(
      "--filter", mount.filter,
      "BPF filter object OBJ.o[:OPS_NAME][,root=DIR][,nocache] attached at the root "
      "(src/filter/README.md)");
  mount_cmd->add_option("--user-filter", mount.user_filter,
                        "C++ filter library lib.so[:ARG] (exports fusebpf_create_user_filter)");
  std::map<std::string, bpf::Engine> engine_names{{"jit", bpf::Engine::kJit},
                                                  {"interp", bpf::Engine::kInterpreter}};
  mount_cmd->add_option("--engine", mount.engine, "jit|interp: how BPF filters run")
      ->transform(CLI::CheckedTransformer(engine_names, CLI::ignore_case));

  std::string target;
  bool lazy = false, json = false;
  auto* umount_cmd = app.add_subcommand("umount", "unmount and stop the daemon");
  umount_cmd->add_option("mountpoint", target)->required();
  umount_cmd->add_flag("--lazy,-l", lazy, "detach even if busy");
  auto* stats_cmd = app.add_subcommand("stats", "per-operation counts and latencies");
  stats_cmd->add_option("mountpoint", target)->required();
  stats_cmd->add_flag("--json", json, "machine-readable output");

  auto run_bpf = cli::add_bpf_commands(app);
  auto run_author = cli::add_author_commands(app);

  std::vector<std::string> map_args;
  auto* map_cmd = app.add_subcommand(
      "map",
      "BPF maps of a mount: list | dump NAME | get NAME KEY | set NAME KEY VALUE | "
      "delete NAME KEY (hex)");
  map_cmd->add_option("mountpoint", target)->required();
  map_cmd->add_option("args", map_args)->required();
  bool typed = false;
  map_cmd->add_flag("--typed,-t", typed,
                    "keys/values by their BTF types: strings for char arrays, numbers for ints");
  double trace_seconds = 0;
  auto* trace_cmd =
      app.add_subcommand("trace", "stream the bpf_printk output of a mount's filters");
  trace_cmd->add_option("mountpoint", target)->required();
  trace_cmd->add_option("--seconds", trace_seconds, "stop after this long (0: until interrupted)");

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
  if (*map_cmd) return cli::run_map(target, map_args, typed);
  if (*trace_cmd) return cli::run_trace(target, trace_seconds);
  if (int rc = run_author(); rc >= 0) return rc;
  return run_bpf();
}
