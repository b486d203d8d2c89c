// latency_probe: per-CPU latency of metadata operations in a directory, for comparing FUSE
// transports (issue 5). For each CPU in turn the probe pins itself there and times N
// iterations of each operation, then prints the median, p90 and p99 per (CPU, operation) and,
// per operation, how far apart the CPUs' medians are.
//
//   latency_probe DIR [-n ITERATIONS] [-w WARMUP] [--cpus 0,1,...]
//                 [--ops getattr,stat,open,create]
//
// What one timed operation is, and what a FUSE mount with zero entry and attribute timeouts
// (fusebpf --cache=none) sends for it:
//   getattr  fstat(2) of an O_PATH fd of one file: GETATTR
//   stat     stat(2) of that file by path: LOOKUP (dentry revalidation) + GETATTR
//   open     open(2) O_RDONLY + close(2) of that file: LOOKUP + OPEN + FLUSH (+ RELEASE,
//            which the kernel sends without waiting for it)
//   create   open(2) O_CREAT|O_EXCL + close(2) + unlink(2) of a fresh name: LOOKUP + CREATE +
//            FLUSH + UNLINK (+ RELEASE)
// With non-zero timeouts the kernel answers some of these from its caches.
//
// Not a test: it only measures. Exit status 1 on a failed operation or bad arguments.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string dir;
  int iterations = 2000;
  int warmup = 200;
  std::vector<int> cpus;  // empty: every CPU we may run on
  std::vector<std::string> ops = {"getattr", "stat", "open", "create"};
};

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    size_t comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "latency_probe: %s\nusage: latency_probe DIR [-n ITERATIONS] [-w WARMUP] "
               "[--cpus 0,1,...] [--ops getattr,stat,open,create]\n",
               why);
  std::exit(1);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage("missing value");
      return argv[++i];
    };
    if (a == "-n") {
      o.iterations = std::atoi(std::string(value()).c_str());
    } else if (a == "-w") {
      o.warmup = std::atoi(std::string(value()).c_str());
    } else if (a == "--cpus") {
      for (const auto& c : split(value())) o.cpus.push_back(std::atoi(c.c_str()));
    } else if (a == "--ops") {
      o.ops = split(value());
    } else if (a == "-h" || a == "--help") {
      usage("help");
    } else if (!a.empty() && a[0] == '-') {
      usage("unknown option");
    } else {
      o.dir = a;
    }
  }
  if (o.dir.empty()) usage("no directory");
  if (o.iterations < 1 || o.warmup < 0) usage("bad iteration count");
  for (const auto& op : o.ops) {
    if (op != "getattr" && op != "stat" && op != "open" && op != "create") {
      usage("unknown operation");
    }
  }
  if (o.cpus.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    sched_getaffinity(0, sizeof set, &set);
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) o.cpus.push_back(c);
    }
  }
  return o;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "latency_probe: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

// One timed operation; returns its duration.
class Probe {
 public:
  explicit Probe(const Options& o) : dir_(o.dir), file_(o.dir + "/latency_probe.file") {
    int fd = ::open(file_.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) die("create " + file_);
    ::close(fd);
    path_fd_ = ::open(file_.c_str(), O_PATH | O_CLOEXEC);
    if (path_fd_ < 0) die("open O_PATH " + file_);
    prefix_ = o.dir + "/latency_probe." + std::to_string(getpid()) + ".";
  }
  ~Probe() {
    ::close(path_fd_);
    ::unlink(file_.c_str());
  }

  uint64_t run(const std::string& op) {
    if (op == "getattr") {
      struct stat st {};
      uint64_t t = now_ns();
      if (::fstat(path_fd_, &st) != 0) die("fstat " + file_);
      return now_ns() - t;
    }
    if (op == "stat") {
      struct stat st {};
      uint64_t t = now_ns();
      if (::stat(file_.c_str(), &st) != 0) die("stat " + file_);
      return now_ns() - t;
    }
    if (op == "open") {
      uint64_t t = now_ns();
      int fd = ::open(file_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) die("open " + file_);
      ::close(fd);
      return now_ns() - t;
    }
    std::string name = prefix_ + std::to_string(counter_++);
    uint64_t t = now_ns();
    int fd = ::open(name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) die("create " + name);
    ::close(fd);
    if (::unlink(name.c_str()) != 0) die("unlink " + name);
    return now_ns() - t;
  }

 private:
  std::string dir_, file_, prefix_;
  int path_fd_ = -1;
  uint64_t counter_ = 0;
};

double quantile_us(std::vector<uint64_t>& samples, double q) {
  size_t k = static_cast<size_t>(q * static_cast<double>(samples.size() - 1));
  std::nth_element(samples.begin(), samples.begin() + static_cast<long>(k), samples.end());
  return static_cast<double>(samples[k]) / 1000.0;
}

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  struct statfs fs {};
  if (::statfs(o.dir.c_str(), &fs) != 0) fs.f_type = 0;  // only informative
  std::printf("# latency_probe %s (f_type 0x%lx), %d iterations after %d warm-up, times in us\n",
              o.dir.c_str(), static_cast<unsigned long>(fs.f_type), o.iterations, o.warmup);
  std::printf("%-4s %-7s %10s %10s %10s\n", "cpu", "op", "median", "p90", "p99");
  Probe probe(o);
  struct Row {
    std::string op;
    double median;
  };
  std::vector<Row> rows;
  for (int cpu : o.cpus) {
    if (!pin(cpu)) {
      std::fprintf(stderr, "latency_probe: cannot run on CPU %d: %s\n", cpu, std::strerror(errno));
      continue;
    }
    for (const auto& op : o.ops) {
      for (int i = 0; i < o.warmup; ++i) probe.run(op);
      std::vector<uint64_t> samples(static_cast<size_t>(o.iterations));
      for (auto& s : samples) s = probe.run(op);
      double median = quantile_us(samples, 0.5), p90 = quantile_us(samples, 0.9);
      double p99 = quantile_us(samples, 0.99);
      std::printf("%-4d %-7s %10.2f %10.2f %10.2f\n", cpu, op.c_str(), median, p90, p99);
      std::fflush(stdout);
      rows.push_back({op, median});
    }
  }
  // Spread of the medians across CPUs (issue 5 wants them within 20% of each other).
  for (const auto& op : o.ops) {
    double lo = 1e300, hi = 0;
    for (const auto& r : rows) {
      if (r.op != op) continue;
      lo = std::min(lo, r.median);
      hi = std::max(hi, r.median);
    }
    if (hi > 0)
      std::printf("# %-7s median across CPUs: %.1f..%.1f us (max/min %.2f)\n", op.c_str(), lo, hi,
                  hi / lo);
  }
  return 0;
}
