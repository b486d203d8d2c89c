// The shared registry of named POSIX scenarios. Each scenario performs real syscalls beneath
// `root` (an empty directory it owns) and records every observable result in a Recorder; running
// it on a native directory and through a FUSE mount of an equivalent directory must give the
// same recording. Scenarios are deterministic (posix_selftest checks this), quick (well under a
// second or two each on tmpfs), run as root with umask 022, and may fork children (always
// reaped before returning). They never touch anything outside `root`.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "posix/recorder.h"

namespace fusebpf::posix {

struct Scenario {
  std::string name;
  std::function<void(const std::filesystem::path& root, Recorder&)> run;
};

// Every scenario, in a stable order (names are unique).
const std::vector<Scenario>& all_scenarios();
// nullptr when no scenario has this name.
const Scenario* find_scenario(std::string_view name);

// Registration hooks, one per scenarios_*.cc file (explicit calls, because a static library
// drops self-registering objects nobody references).
void add_file_scenarios(std::vector<Scenario>& out);
void add_dir_scenarios(std::vector<Scenario>& out);
void add_attr_scenarios(std::vector<Scenario>& out);
void add_io_scenarios(std::vector<Scenario>& out);
void add_sharing_scenarios(std::vector<Scenario>& out);

}  // namespace fusebpf::posix
