// fsops: the metadata loops of the mount-level benchmark (bench/run.sh). Each mode runs one
// loop of plain syscalls in a directory and prints one JSON line:
//   {"mode":"stat","ops":20000,"seconds":0.41,"ops_per_s":48780.5}
//
//   fsops populate  DIR N        create DIR/f000000.. (N empty files; setup, also timed)
//   fsops create    DIR N        create N fresh empty files, then unlink them (ops = N pairs)
//   fsops stat      DIR N        stat(2) each of the N populated files
//   fsops readdir   DIR R        list DIR completely R times (ops = entries listed)
//   fsops openclose DIR N I      open(O_RDONLY)+close I times over the N populated files
//   fsops rename    DIR I        rename one file back and forth I times
//   fsops walk      DIR          `git status`-like walk: list every directory, lstat every entry
//   fsops readall   DIR          read every regular file of a tree (ops = files)
//
// Not a test and not part of the CMake build (bench/CMakeLists.txt holds only Google Benchmark
// binaries): run.sh compiles it with the system compiler. Exit status 1 on any failed syscall.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "fsops: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: fsops populate|create|stat DIR N | readdir DIR R | openclose DIR N I |"
               " rename DIR I | walk|readall DIR\n");
  std::exit(1);
}

std::string file_name(const std::string& dir, const char* prefix, uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/%s%06llu", prefix, static_cast<unsigned long long>(i));
  return dir + buf;
}

uint64_t parse_count(const char* s) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s || *end != '\0' || v == 0) usage();
  return v;
}

void create_empty(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) die("create " + path);
  ::close(fd);
}

// Lists `dir` once; returns the number of entries (without . and ..).
uint64_t list_once(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) die("opendir " + dir);
  uint64_t n = 0;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  if (errno != 0) die("readdir " + dir);
  ::closedir(d);
  return n;
}

// Recursive walk with *at calls. read_files: read each regular file; else lstat each entry.
struct Walker {
  bool read_files = false;
  uint64_t ops = 0;
  uint64_t bytes = 0;
  std::vector<char> buffer = std::vector<char>(1 << 20);

  void walk(int dirfd, const std::string& path) {
    DIR* d = ::fdopendir(dirfd);
    if (d == nullptr) die("fdopendir " + path);
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        die("lstat " + path + "/" + e->d_name);
      }
      if (S_ISDIR(st.st_mode)) {
        int sub = ::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sub < 0) die("open " + path + "/" + e->d_name);
        walk(sub, path + "/" + e->d_name);
      } else if (read_files && S_ISREG(st.st_mode)) {
        int fd = ::openat(dirfd, e->d_name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die("open " + path + "/" + e->d_name);
        ssize_t r;
        while ((r = ::read(fd, buffer.data(), buffer.size())) > 0)
          bytes += static_cast<uint64_t>(r);
        if (r < 0) die("read " + path + "/" + e->d_name);
        ::close(fd);
        ++ops;
      }
      if (!read_files) ++ops;
      errno = 0;
    }
    if (errno != 0) die("readdir " + path);
    ::closedir(d);  // closes dirfd
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) usage();
  const std::string_view mode = argv[1];
  const std::string dir = argv[2];
  uint64_t ops = 0;
  uint64_t bytes = 0;
  std::string cleanup;  // removed after the clock stops
  double t0 = now_s();
  if (mode == "populate" && argc == 4) {
    uint64_t n = parse_count(argv[3]);
    t0 = now_s();
    for (uint64_t i = 0; i < n; ++i) create_empty(file_name(dir, "f", i));
    ops = n;
  } else if (mode == "create" && argc == 4) {
    uint64_t n = parse_count(argv[3]);
    t0 = now_s();
    for (uint64_t i = 0; i < n; ++i) create_empty(file_name(dir, "c", i));
    for (uint64_t i = 0; i < n; ++i) {
      std::string p = file_name(dir, "c", i);
      if (::unlink(p.c_str()) != 0) die("unlink " + p);
    }
    ops = n;
  } else if (mode == "stat" && argc == 4) {
    uint64_t n = parse_count(argv[3]);
    std::vector<std::string> names;
    names.reserve(n);
    for (uint64_t i = 0; i < n; ++i) names.push_back(file_name(dir, "f", i));
    t0 = now_s();
    for (const auto& p : names) {
      struct stat st {};
      if (::stat(p.c_str(), &st) != 0) die("stat " + p);
    }
    ops = n;
  } else if (mode == "readdir" && argc == 4) {
    uint64_t rounds = parse_count(argv[3]);
    t0 = now_s();
    for (uint64_t r = 0; r < rounds; ++r) ops += list_once(dir);
  } else if (mode == "openclose" && argc == 5) {
    uint64_t n = parse_count(argv[3]);
    uint64_t iterations = parse_count(argv[4]);
    std::vector<std::string> names;
    names.reserve(n);
    for (uint64_t i = 0; i < n; ++i) names.push_back(file_name(dir, "f", i));
    t0 = now_s();
    for (uint64_t i = 0; i < iterations; ++i) {
      const std::string& p = names[i % n];
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) die("open " + p);
      ::close(fd);
    }
    ops = iterations;
  } else if (mode == "rename" && argc == 4) {
    uint64_t iterations = parse_count(argv[3]);
    std::string a = dir + "/rename.a", b = dir + "/rename.b";
    create_empty(a);
    t0 = now_s();
    for (uint64_t i = 0; i < iterations; ++i) {
      const std::string& from = i % 2 ? b : a;
      const std::string& to = i % 2 ? a : b;
      if (::rename(from.c_str(), to.c_str()) != 0) die("rename " + from);
    }
    ops = iterations;
    cleanup = iterations % 2 ? b : a;
  } else if ((mode == "walk" || mode == "readall") && argc == 3) {
    Walker w;
    w.read_files = mode == "readall";
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) die("open " + dir);
    t0 = now_s();
    w.walk(fd, dir);
    ops = w.ops;
    bytes = w.bytes;
  } else {
    usage();
  }
  double seconds = now_s() - t0;
  if (seconds <= 0) seconds = 1e-9;
  if (!cleanup.empty()) ::unlink(cleanup.c_str());
  std::printf("{\"mode\":\"%s\",\"ops\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"ops_per_s\":%.1f}\n",
              std::string(mode).c_str(), static_cast<unsigned long long>(ops),
              static_cast<unsigned long long>(bytes), seconds, static_cast<double>(ops) / seconds);
  return 0;
}
