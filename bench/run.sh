#!/usr/bin/env bash
# The mount-level benchmark (issue 4): fusebpf against native and against the FUSE file systems
# users would pick instead, on tmpfs and on ext4 (loop device), with a report, JSON and charts.
#
#   sudo bash bench/run.sh [--quick|--full] [options]
#
#   --quick            (default) 3 repetitions, small sizes: ~15 min for all rows on 2 busy cores
#   --full             5 repetitions, 5 s fio runs, 1 GiB files, 30,000-file tree (hours)
#   --smoke            1 tiny repetition: checks the harness, numbers mean nothing
#   --build-dir DIR    use (and incrementally build) DIR instead of `bash scripts/setup.sh` (build/)
#   --no-build         with --build-dir: use the binaries already there, build nothing
#   --no-install       do not apt-get anything
#   --rows a,b,...     only these rows (native is always kept); see bench/README.md
#   --lowers tmpfs,ext4
#   --reps N           override the repetition count
#   --groups data,metadata,source-tree   only these workload groups
#   --no-latest        do not replace bench/results/latest/ (for partial runs)
#   --no-micro         skip the Google Benchmark micro-benchmarks
#   --no-percpu        skip the per-CPU latency section (issue 5, bench/latency_cpu.sh)
#
# Output: bench/results/<timestamp>/{report.md,results.json,*.svg,*.png}; also copied to
# bench/results/latest/. Needs root (mounts, loop devices, drop_caches). Everything mounted or
# created is removed on every exit path (EXIT trap; a lazy unmount plus a fusectl abort as a
# last resort). Only processes this script started are ever signalled, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

mode=quick
build_dir=""
install=1
build=1
micro=1
percpu=1
latest=1
pass=()
while (($#)); do
  case "$1" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --smoke) mode=smoke ;;
    --build-dir) build_dir=$2; shift ;;
    --no-install) install=0 ;;
    --no-build) build=0 ;;
    --no-micro) micro=0 ;;
    --no-latest) latest=0 ;;
    --no-percpu) percpu=0 ;;
    --rows | --lowers | --reps | --groups) pass+=("$1" "$2"); shift ;;
    -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ $(id -u) -ne 0 ]]; then
  echo "run.sh: needs root (mounts, loop devices, drop_caches): sudo bash bench/run.sh" >&2
  exit 1
fi

log() { echo "[bench $(date +%H:%M:%S)] $*"; }

# ---- packages --------------------------------------------------------------------------------
packages=(fio bindfs fuse-overlayfs mergerfs gnuplot-nox libfuse3-dev fuse3 python3 e2fsprogs
          util-linux libbenchmark-dev)
if ((install)); then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # One by one: a peer that cannot be installed is reported as unavailable, not fatal.
    for p in "${missing[@]}"; do
      apt-get install -y -qq --no-install-recommends "$p" >/dev/null || log "could not install $p"
    done
  fi
fi

# ---- build -------------------------------------------------------------------------------------
if [[ -z $build_dir ]]; then
  log "building with scripts/setup.sh (build/)"
  bash scripts/setup.sh
  build_dir=$repo/build
else
  build_dir=$(realpath -m "$build_dir")
  log "building in $build_dir"
  if ((build)); then
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    targets=(fusebpf latency_probe)
    # the example filters the filter rows use, when this tree has them
    if grep -q "example_filters" examples/CMakeLists.txt 2>/dev/null; then targets+=(example_filters deny_uid); fi
    if ((micro)); then targets+=(fusebpf_micro_benchmarks); fi
    cmake --build "$build_dir" -j2 --target "${targets[@]}"
  fi
fi
fusebpf=$build_dir/src/cli/fusebpf
[[ -x $fusebpf ]] || { echo "run.sh: $fusebpf was not built" >&2; exit 1; }

modprobe fuse 2>/dev/null || true
if [[ -d /sys/fs/fuse/connections ]] && ! mountpoint -q /sys/fs/fuse/connections; then
  mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
fi

# ---- scratch space and the cleanup that runs on every exit path --------------------------------
stamp=$(date +%Y%m%d-%H%M%S)
work=$(mktemp -d /tmp/fusebpf-bench.XXXXXX)
image=/dev/shm/fusebpf-bench.$$.ext4
out=$repo/bench/results/$stamp
harness_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [[ -n $harness_pid ]] && kill -0 "$harness_pid" 2>/dev/null; then
    kill -TERM "$harness_pid" 2>/dev/null || true
    wait "$harness_pid" 2>/dev/null || true
  fi
  # Anything still mounted under the scratch dir (deepest first): unmount, else abort + detach.
  local mp dev
  while read -r mp dev; do
    umount "$mp" 2>/dev/null && continue
    if [[ -e /sys/fs/fuse/connections/${dev#*:}/abort ]]; then
      echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null || true
    fi
    umount -l "$mp" 2>/dev/null || true
    log "cleanup: detached $mp"
  done < <(awk -v w="$work" '$5 == w || index($5, w "/") == 1 {print $5, $3}' /proc/self/mountinfo | sort -r)
  if [[ -f $work/loopdev ]]; then
    losetup -d "$(cat "$work/loopdev")" 2>/dev/null || true
  fi
  rm -f "$image"
  if ! grep -q " $work" /proc/self/mountinfo; then rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- tools the harness runs --------------------------------------------------------------------
mkdir -p "$work/bin"
g++ -O2 -std=c++20 -Wall -o "$work/bin/fsops" bench/tools/fsops.cc
examples=/usr/share/doc/libfuse3-dev/examples
ptll=""
if [[ -f $examples/passthrough_ll.c ]] && pkg-config --exists fuse3; then
  if gcc -O2 -o "$work/bin/passthrough_ll" "$examples/passthrough_ll.c" \
      $(pkg-config --cflags --libs fuse3) 2>"$work/passthrough_ll.build.log"; then
    ptll=$work/bin/passthrough_ll
  else
    log "passthrough_ll did not build: $(tail -2 "$work/passthrough_ll.build.log")"
  fi
fi
pthp=""
hp_src=$(ls "$examples"/passthrough_hp.cc* 2>/dev/null | head -1 || true)
if [[ -n $hp_src ]]; then
  if g++ -O2 -std=c++17 -o "$work/bin/passthrough_hp" -x c++ <(zcat -f "$hp_src") \
      $(pkg-config --cflags --libs fuse3) 2>/dev/null; then
    pthp=$work/bin/passthrough_hp
  fi
fi

# ---- micro-benchmarks (short; the numbers go into the report) ----------------------------------
micro_dir=""
if ((micro)); then
  micro_dir=$work/micro
  mkdir -p "$micro_dir"
  min_time=0.2
  [[ $mode == full ]] && min_time=1
  for b in "$build_dir"/bench/micro_*; do
    [[ -x $b ]] || continue
    log "micro-benchmark $(basename "$b")"
    timeout 900 "$b" --benchmark_min_time="$min_time" --benchmark_repetitions=3 \
      --benchmark_report_aggregates_only=true --benchmark_out_format=json \
      --benchmark_out="$micro_dir/$(basename "$b").json" >/dev/null 2>"$micro_dir/$(basename "$b").err" ||
      log "$(basename "$b") failed: $(tail -2 "$micro_dir/$(basename "$b").err")"
  done
fi

# ---- per-CPU latency of both transports (issue 5): its own mounts, cleaned up by the script ------
percpu_md=""
if ((percpu)); then
  mkdir -p "$out"
  case $mode in
    smoke) lat=(--rounds 1 -n 200 -w 50) ;;
    full) lat=(--rounds 5 -n 5000 -w 500) ;;
    *) lat=(--rounds 3 -n 2000 -w 300) ;;
  esac
  log "per-CPU latency (bench/latency_cpu.sh ${lat[*]})"
  if bash bench/latency_cpu.sh --build-dir "$build_dir" "${lat[@]}" --out "$out/latency_cpu.md" \
      >/dev/null; then
    percpu_md=$out/latency_cpu.md
  else
    log "latency_cpu.sh failed; the report has no per-CPU section"
  fi
fi

# ---- the run -----------------------------------------------------------------------------------
log "mode $mode, scratch $work, results $out"
python3 bench/harness.py --mode "$mode" --repo "$repo" --work "$work" --out "$out" \
  --fusebpf "$fusebpf" --percpu-md "$percpu_md" \
  --fsops "$work/bin/fsops" --passthrough-ll "$ptll" --passthrough-hp "$pthp" \
  --ext4-image "$image" --ext4-size "$([[ $mode == full ]] && echo 8G || echo 4G)" \
  --micro-dir "$micro_dir" "${pass[@]}" &
harness_pid=$!
wait "$harness_pid"
harness_pid=""

if ((latest)); then
  rm -rf bench/results/latest
  mkdir -p bench/results/latest
  cp "$out"/report.md "$out"/results.json bench/results/latest/
  [[ -f $out/latency_cpu.md ]] && cp "$out/latency_cpu.md" bench/results/latest/
  cp "$out"/*.svg "$out"/*.png bench/results/latest/ 2>/dev/null || true
  log "done: $out/report.md (copied to bench/results/latest/)"
else
  log "done: $out/report.md"
fi
