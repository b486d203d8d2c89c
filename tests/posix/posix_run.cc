// posix_run: runs POSIX scenarios on a directory and prints their recordings, or runs them on
// two directories and prints the differences (a by-hand version of the integration tests).
//
//   posix_run --list
//   posix_run [-s NAME]... DIR                 # record into DIR/<scenario>
//   posix_run [-s NAME]... --compare A B       # run on A/<scenario> and B/<scenario>, diff
//
// Each scenario runs in a forked child with a timeout (default 60 s); its directory must not
// exist yet (so leftovers never mix into a recording). Exit status: 0 when everything ran (and
// compared equal), 1 otherwise, 2 for usage errors.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "posix/isolate.h"
#include "posix/scenario.h"

namespace fusebpf::posix {
namespace {

namespace fs = std::filesystem;

IsolatedRun run_in(const Scenario& s, const fs::path& base, std::chrono::seconds timeout) {
  fs::path dir = base / s.name;
  if (::mkdir(dir.c_str(), 0755) != 0) {
    IsolatedRun run;
    run.status = IsolatedRun::Status::kCrashed;
    run.detail = "cannot create " + dir.string() + ": " + std::strerror(errno);
    return run;
  }
  ::chmod(dir.c_str(), 0755);  // other-user scenarios need it searchable whatever the umask
  return run_isolated([&](Recorder& r) { s.run(dir, r); }, timeout);
}

bool report_status(const Scenario& s, const std::string& where, const IsolatedRun& run) {
  if (run.status == IsolatedRun::Status::kOk) return true;
  std::printf("!! %s on %s: %s\n", s.name.c_str(), where.c_str(), run.detail.c_str());
  return false;
}

int main_impl(int argc, char** argv) {
  CLI::App app{"Run fusebpf POSIX scenarios on a directory"};
  std::vector<std::string> names;
  std::vector<std::string> dirs;
  std::vector<std::string> compare;
  bool list = false;
  int timeout = 60;
  app.add_option("-s,--scenario", names, "scenario to run (repeatable; default: all)")
      ->allow_extra_args(false);
  app.add_flag("--list", list, "list scenario names");
  app.add_option("--timeout", timeout, "seconds per scenario")->check(CLI::PositiveNumber);
  app.add_option("--compare", compare, "two directories to run on and compare")->expected(2);
  app.add_option("dir", dirs, "directory to run in")->expected(0, 1);
  CLI11_PARSE(app, argc, argv);

  if (list) {
    for (const Scenario& s : all_scenarios()) std::printf("%s\n", s.name.c_str());
    return 0;
  }
  if (dirs.empty() == compare.empty()) {
    std::fprintf(stderr, "posix_run: give either DIR or --compare A B\n");
    return 2;
  }
  std::vector<const Scenario*> chosen;
  for (const std::string& n : names) {
    const Scenario* s = find_scenario(n);
    if (s == nullptr) {
      std::fprintf(stderr, "posix_run: no scenario named '%s' (see --list)\n", n.c_str());
      return 2;
    }
    chosen.push_back(s);
  }
  if (chosen.empty()) {
    for (const Scenario& s : all_scenarios()) chosen.push_back(&s);
  }
  auto limit = std::chrono::seconds(timeout);
  int failures = 0;
  for (const Scenario* s : chosen) {
    if (compare.empty()) {
      IsolatedRun run = run_in(*s, dirs[0], limit);
      std::printf("== %s (%.2f s)\n%s", s->name.c_str(), run.seconds,
                  run.recording.render().c_str());
      failures += !report_status(*s, dirs[0], run);
      continue;
    }
    IsolatedRun a = run_in(*s, compare[0], limit);
    IsolatedRun b = run_in(*s, compare[1], limit);
    bool ok = report_status(*s, compare[0], a) & report_status(*s, compare[1], b);
    std::string diff = diff_recordings(a.recording, b.recording, "A", "B");
    std::printf("== %s: %s (%.2f s / %.2f s)\n%s", s->name.c_str(),
                diff.empty() && ok ? "same" : "DIFFERENT", a.seconds, b.seconds, diff.c_str());
    failures += !(ok && diff.empty());
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace fusebpf::posix

int main(int argc, char** argv) { return fusebpf::posix::main_impl(argc, argv); }
