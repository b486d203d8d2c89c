// The scenario registry; see scenario.h.
#include "posix/scenario.h"

namespace fusebpf::posix {

const std::vector<Scenario>& all_scenarios() {
  static const std::vector<Scenario> scenarios = [] {
    std::vector<Scenario> out;
    add_file_scenarios(out);
    add_dir_scenarios(out);
    add_attr_scenarios(out);
    add_io_scenarios(out);
    add_sharing_scenarios(out);
    return out;
  }();
  return scenarios;
}

const Scenario* find_scenario(std::string_view name) {
  for (const Scenario& s : all_scenarios()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace fusebpf::posix
