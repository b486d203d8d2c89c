#!/usr/bin/env bash
# Per-CPU metadata latency through both FUSE transports (issue 5), in one run.
#
#   sudo bash bench/latency_cpu.sh [--build-dir DIR] [--rounds N] [-n ITER] [-w WARMUP]
#                                  [--cpus 0,1] [--ops getattr,stat,open,create] [--out FILE]
#
# For each round (>= 3 recommended), in a rotating order so that no variant always runs first:
# native tmpfs, `fusebpf mount --cache=none --transport=dev` and `--transport=uring` on a fresh
# directory of a private tmpfs, and (unless --no-null) the same two transports serving
# tools/latency_probe/probe_fs, an in-memory file system that answers at once: its latency is
# the transport and the kernel alone, the floor any daemon pays. For each mount,
# tools/latency_probe pins itself to each CPU in turn (sched_setaffinity, like `taskset`) and
# times every operation. What one operation is,
# and which FUSE requests it costs with --cache=none (checked and printed from `fusebpf stats`):
#   getattr  fstat(2) of an O_PATH fd                 -> GETATTR
#   stat     stat(2) by path                          -> LOOKUP + GETATTR
#   open     open(2) O_RDONLY + close(2)              -> LOOKUP + OPEN + FLUSH (+ RELEASE)
#   create   open(2) O_CREAT|O_EXCL + close + unlink  -> LOOKUP + CREATE + FLUSH + UNLINK (+ RELEASE)
# Reported: per (variant, op, CPU) the median over rounds of that round's median, p90 and p99;
# per variant and op the spread of the medians across CPUs (max/min); per op and CPU the
# /dev/fuse median divided by the io_uring median; the daemon's own per-op times (`fusebpf
# stats`: from request decoded to reply handed to the kernel). Markdown goes to stdout and to
# --out.
#
# Root only. Everything mounted is unmounted on every exit path (EXIT trap: `fusebpf umount`,
# then umount, then a fusectl abort + lazy unmount as the last resort). Only processes this
# script starts are signalled, by PID; the daemons end when their mount goes away.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
rounds=3
iterations=3000
warmup=300
cpus=""
ops=getattr,stat,open,create
out=""
null=1
while (($#)); do
  case "$1" in
    --build-dir) build_dir=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    -n) iterations=$2; shift ;;
    -w) warmup=$2; shift ;;
    --cpus) cpus=$2; shift ;;
    --ops) ops=$2; shift ;;
    --out) out=$2; shift ;;
    --no-null) null=0 ;;
    -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
    *) echo "latency_cpu.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [[ $(id -u) -ne 0 ]]; then
  echo "latency_cpu.sh: needs root (mounts, enable_uring)" >&2
  exit 1
fi
fusebpf=$(realpath -m "$build_dir/src/cli/fusebpf")
probe=$(realpath -m "$build_dir/tools/latency_probe/latency_probe")
probe_fs=$(realpath -m "$build_dir/tools/latency_probe/probe_fs")
for b in "$fusebpf" "$probe"; do
  [[ -x $b ]] || { echo "latency_cpu.sh: $b is not built" >&2; exit 1; }
done
if ((null)) && [[ ! -x $probe_fs ]]; then
  echo "latency_cpu.sh: $probe_fs is not built; no null-daemon rows" >&2
  null=0
fi
if [[ -z $cpus ]]; then
  cpus=$(python3 -c 'import os; print(",".join(map(str, sorted(os.sched_getaffinity(0)))))')
fi

log() { echo "[latency_cpu $(date +%H:%M:%S)] $*" >&2; }

modprobe fuse 2>/dev/null || true
if [[ -d /sys/fs/fuse/connections ]] && ! mountpoint -q /sys/fs/fuse/connections; then
  mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
fi

work=$(mktemp -d /tmp/fusebpf-latcpu.XXXXXX)
probe_pid=""
null_pid=""

# Unmounts one mount point, harder each step; returns non-zero if it is still mounted.
unmount_hard() {
  local mp=$1 dev
  mountpoint -q "$mp" || return 0
  timeout 30 "$fusebpf" umount "$mp" >/dev/null 2>&1 || true
  mountpoint -q "$mp" || return 0
  umount "$mp" 2>/dev/null && return 0
  dev=$(awk -v m="$mp" '$5 == m {print $3}' /proc/self/mountinfo | tail -1)
  if [[ -n $dev && -e /sys/fs/fuse/connections/${dev#*:}/abort ]]; then
    echo 1 >"/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null || true
  fi
  umount -l "$mp" 2>/dev/null || true
  log "cleanup: detached $mp"
  ! mountpoint -q "$mp"
}

# Stops the probe_fs this script started (it unmounts itself on SIGTERM).
stop_null() {
  [[ -n $null_pid ]] || return 0
  kill -TERM "$null_pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$null_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$null_pid" 2>/dev/null; then
    unmount_hard "$work/mnt/null" || true
    kill -KILL "$null_pid" 2>/dev/null || true
  fi
  wait "$null_pid" 2>/dev/null || true
  null_pid=""
  unmount_hard "$work/mnt/null"
}

cleanup() {
  local rc=$? mp
  trap - EXIT INT TERM HUP
  if [[ -n $probe_pid ]] && kill -0 "$probe_pid" 2>/dev/null; then
    kill -TERM "$probe_pid" 2>/dev/null || true
    wait "$probe_pid" 2>/dev/null || true
  fi
  stop_null || true
  # Deepest first: the FUSE mounts live on the private tmpfs.
  while read -r mp; do
    unmount_hard "$mp" || true
  done < <(awk -v w="$work" 'index($5, w "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
  if ! grep -q " $work/" /proc/self/mountinfo; then rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

mkdir -p "$work/lower" "$work/mnt" "$work/logs"
mount -t tmpfs -o size=256m,mode=0755 fusebpf-latcpu "$work/lower"
results=$work/results.tsv
requests=$work/requests.tsv
: >"$results"
: >"$requests"

# Runs the probe for one op; appends "variant round cpu op median p90 p99" rows.
run_probe() {
  local variant=$1 round=$2 dir=$3 op=$4
  timeout -k 10 900 "$probe" "$dir" -n "$iterations" -w "$warmup" --cpus "$cpus" --ops "$op" \
    >"$work/probe.out" 2>"$work/probe.err" &
  probe_pid=$!
  if ! wait "$probe_pid"; then
    probe_pid=""
    log "latency_probe on $variant failed: $(tail -2 "$work/probe.err")"
    return 1
  fi
  probe_pid=""
  awk -v v="$variant" -v r="$round" 'NF == 5 && $1 ~ /^[0-9]+$/ {print v, r, $1, $2, $3, $4, $5}' \
    "$work/probe.out" >>"$results"
}

# `fusebpf stats --json` as "total uring OP=count ..." on one line.
stats_line() {
  timeout 20 "$fusebpf" stats "$1" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(s.get("transport"), s.get("requests", 0), s.get("uring_requests", 0),
      " ".join("%s=%d" % (k, v.get("count", 0)) for k, v in sorted(s.get("ops", {}).items())))'
}

run_variant() {
  local variant=$1 round=$2 backing=$work/lower/$1.$2 mp=$work/mnt/$1 op before after
  mkdir -p "$backing" "$mp"
  if [[ $variant == native ]]; then
    for op in ${ops//,/ }; do run_probe native "$round" "$backing" "$op" || return 1; done
    rm -rf "$backing"
    return 0
  fi
  timeout -k 10 60 "$fusebpf" mount --cache=none --transport="$variant" --threads 2 \
    --log "$work/logs/$variant.$round.log" "$backing" "$mp" >/dev/null
  local transport
  transport=$(stats_line "$mp" | cut -d' ' -f1)
  if [[ $transport != "$variant" ]]; then
    log "asked for $variant, the mount serves with '$transport'"
  fi
  local ok=0
  for op in ${ops//,/ }; do
    before=$(stats_line "$mp")
    run_probe "$variant" "$round" "$mp" "$op" || { ok=1; break; }
    after=$(stats_line "$mp")
    echo "$variant $round $op $before | $after" >>"$requests"
  done
  timeout 20 "$fusebpf" stats "$mp" --json >"$work/stats.$variant.json" 2>/dev/null || true
  unmount_hard "$mp" || { log "could not unmount $mp"; ok=1; }
  rm -rf "$backing"
  return $ok
}

# probe_fs (null daemon) over one transport: same probe, nothing behind the FUSE requests.
run_null() {
  local variant=$1 round=$2 transport=${1#null-} mp=$work/mnt/null op i
  mkdir -p "$mp"
  "$probe_fs" "$mp" --transport="$transport" --threads 2 >"$work/logs/$variant.$round.log" 2>&1 &
  null_pid=$!
  for ((i = 0; i < 300; i++)); do
    grep -q "mounted, transport" "$work/logs/$variant.$round.log" && break
    kill -0 "$null_pid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q "mounted, transport $transport" "$work/logs/$variant.$round.log"; then
    log "probe_fs did not mount with $transport: $(tail -2 "$work/logs/$variant.$round.log")"
    stop_null
    return 1
  fi
  local ok=0
  for op in ${ops//,/ }; do run_probe "$variant" "$round" "$mp" "$op" || { ok=1; break; }; done
  stop_null || ok=1
  return $ok
}

variants=(native dev uring)
((null)) && variants+=(null-dev null-uring)
log "rounds $rounds, $iterations iterations per CPU and op after $warmup warm-up, CPUs $cpus"
for ((round = 0; round < rounds; round++)); do
  order=()
  for ((i = 0; i < ${#variants[@]}; i++)); do
    order+=("${variants[(i + round) % ${#variants[@]}]}")
  done
  for v in "${order[@]}"; do
    log "round $round: $v (load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo "$v $round $(cut -d' ' -f1 /proc/loadavg)" >>"$work/load.tsv"
    if [[ $v == null-* ]]; then run_null "$v" "$round"; else run_variant "$v" "$round"; fi
  done
done

report=$(python3 bench/latency_cpu_report.py "$work" "$iterations" "$warmup" "$(nproc)")
echo "$report"
if [[ -n $out ]]; then
  mkdir -p "$(dirname "$out")"
  echo "$report" >"$out"
  log "report: $out"
fi
