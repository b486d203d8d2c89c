#!/usr/bin/env python3
"""Mount-level benchmark of fusebpf against native and peer FUSE file systems (issue 4).

Started by bench/run.sh, which installs the tools and builds the binaries this script is given.
For every repetition, every lower file system and every row (interleaved: A B C, A B C, ...)
it mounts the row over a fresh directory, runs the workloads through the mount point, collects
the daemon's per-operation statistics and unmounts. Then it writes report.md, results.json and
gnuplot charts. Every mount has a timeout and is undone on every path (see Mounts.cleanup).
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tarfile
import io
import random
import time

MOUNT_TIMEOUT = 40  # seconds for a mount to become usable
UMOUNT_TIMEOUT = 20


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd, timeout, check=True, **kw):
    """Runs cmd (a list) with a timeout; returns CompletedProcess (text)."""
    return subprocess.run(cmd, timeout=timeout, check=check, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


# ---------------------------------------------------------------------------------------------
# Mount table helpers

def mountinfo():
    """[(mountpoint, 'major:minor', fstype)] from /proc/self/mountinfo."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            mp = parts[4].encode().decode("unicode_escape")
            out.append((mp, parts[2], parts[sep + 1]))
    return out


def mounted(path):
    return any(mp == path for mp, _, _ in mountinfo())


def fuse_connection(path):
    """The fusectl connection number (device minor) of a FUSE mount at path, or None."""
    for mp, dev, fstype in mountinfo():
        if mp == path and fstype.startswith("fuse"):
            return int(dev.split(":")[1])
    return None


def abort_connection(path):
    conn = fuse_connection(path)
    if conn is None:
        return
    abort = f"/sys/fs/fuse/connections/{conn}/abort"
    try:
        with open(abort, "w") as f:
            f.write("1")
        log(f"aborted FUSE connection {conn} of {path}")
    except OSError:
        pass


class Mounts:
    """Everything this run mounted or started, so that every path can undo it."""

    def __init__(self):
        self.active = {}  # mountpoint -> (kind, Popen or None)

    def add(self, mp, kind, proc=None):
        self.active[mp] = (kind, proc)

    def unmount(self, mp, fusebpf=None):
        kind, proc = self.active.pop(mp, (None, None))
        ok = True
        if kind == "fusebpf" and fusebpf and mounted(mp):
            try:
                run([fusebpf, "umount", mp], UMOUNT_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                ok = False
        elif kind in ("peer", "bind") and mounted(mp):
            try:
                run(["umount", mp], UMOUNT_TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                ok = False
        if mounted(mp):  # last resort: detach, and abort the connection so nothing hangs
            ok = False
            conn_path = mp
            abort_connection(conn_path)
            subprocess.run(["umount", "-l", mp], check=False, timeout=UMOUNT_TIMEOUT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if proc is not None:  # a peer daemon we started: wait, then end it by its pid
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        return ok

    def cleanup(self, fusebpf):
        for mp in reversed(list(self.active)):  # row mounts before the lower fs under them
            log(f"cleanup: unmounting {mp}")
            try:
                self.unmount(mp, fusebpf)
            except Exception as e:  # keep going: every mount must go
                log(f"cleanup of {mp} failed: {e}")


# ---------------------------------------------------------------------------------------------
# Rows

class Row:
    def __init__(self, name, label, kind, options="", group="fusebpf"):
        self.name, self.label, self.kind, self.options, self.group = name, label, kind, options, group
        self.unavailable = None  # reason, when the row cannot run at all

    def describe(self):
        return self.options


def make_rows(args, cli_help):
    fb = args.fusebpf
    common = "--cache=auto --threads 2"
    rows = [
        Row("native", "native", "native", "the lower directory itself", "native"),
        Row("fusebpf", "fusebpf (passthrough, /dev/fuse)", "fusebpf",
            f"fusebpf mount --transport=dev {common}"),
        Row("fusebpf-uring", "fusebpf (passthrough, io_uring)", "fusebpf",
            f"fusebpf mount --transport=uring {common}"),
        Row("fusebpf-nopt", "fusebpf --no-passthrough", "fusebpf",
            f"fusebpf mount --transport=dev --no-passthrough {common}"),
    ]
    has_filter = "--filter" in cli_help
    has_engine = "--engine" in cli_help
    has_user = "--user-filter" in cli_help
    # Defaults: the example filters built next to the CLI (examples/trace_all: counts every
    # metadata op in a map; examples/deny_uid: a C++ filter on lookup/readdir/open that denies
    # uid 65534, so the benchmark's root caller passes every check).
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(fb))))
    trace_default = os.path.join(build, "examples", "trace_all.bpf.o")
    user_default = os.path.join(build, "examples", "libdeny_uid.so")
    trace_obj = os.environ.get("FUSEBPF_BENCH_TRACE_FILTER",
                               trace_default if os.path.exists(trace_default) else "")
    user_lib = os.environ.get("FUSEBPF_BENCH_USER_FILTER",
                              user_default + ":65534" if os.path.exists(user_default) else "")
    for engine in ("interp", "jit"):
        r = Row(f"fusebpf-bpf-{engine}", f"fusebpf + trace-all BPF filter ({engine})", "fusebpf",
                f"fusebpf mount --transport=dev {common} --filter {trace_obj or 'TRACE.o'} --engine {engine}")
        if not (has_filter and has_engine):
            r.unavailable = "not available: `fusebpf mount --help` has no --filter/--engine (filter layer, issue 3, not merged)"
        elif not trace_obj:
            r.unavailable = ("not available: no trace-every-operation filter object (build examples/trace_all "
                             "or set FUSEBPF_BENCH_TRACE_FILTER=OBJ.o[:NAME])")
        r.extra = ["--filter", trace_obj, "--engine", engine]
        rows.append(r)
    r = Row("fusebpf-cxx", "fusebpf + C++ user filter on every op", "fusebpf",
            f"fusebpf mount --transport=dev {common} --user-filter {user_lib or 'LIB.so'}")
    if not has_user:
        r.unavailable = "not available: `fusebpf mount --help` has no --user-filter (filter layer, issue 3, not merged)"
    elif not user_lib:
        r.unavailable = ("not available: no C++ user filter library (build examples/deny_uid or set "
                             "FUSEBPF_BENCH_USER_FILTER=lib.so[:ARG])")
    r.extra = ["--user-filter", user_lib]
    rows.append(r)
    rows.append(Row("bindfs", "bindfs", "peer",
                    "bindfs -f --multithreaded -o kernel_cache,attr_timeout=1,entry_timeout=1", "peer"))
    rows.append(Row("passthrough_ll", "libfuse passthrough_ll", "peer",
                    "passthrough_ll -f -o source=LOWER,cache=auto,clone_fd,writeback", "peer"))
    rows.append(Row("passthrough_hp", "libfuse passthrough_hp", "peer", "", "peer"))
    rows.append(Row("fuse-overlayfs", "fuse-overlayfs (1 lower + upper)", "peer",
                    "fuse-overlayfs -f -o lowerdir=EMPTY,upperdir=LOWER,workdir=WORK,threaded=1,noacl", "peer"))
    rows.append(Row("mergerfs", "mergerfs (1 branch)", "peer",
                    "mergerfs -f -o cache.files=auto-full,dropcacheonclose=false,cache.attr=1,"
                    "cache.entry=1,cache.writeback=true,threads=2,category.create=ff,minfreespace=4K", "peer"))
    for r in rows:
        if not hasattr(r, "extra"):
            r.extra = []
    # Peers that cannot run on this machine.
    tools = {"bindfs": "bindfs", "fuse-overlayfs": "fuse-overlayfs", "mergerfs": "mergerfs"}
    for r in rows:
        if r.name in tools and not shutil_which(tools[r.name]):
            r.unavailable = f"not available: `{tools[r.name]}` is not installed (apt-get install {tools[r.name]} failed?)"
        if r.name == "passthrough_ll" and not (args.passthrough_ll and os.access(args.passthrough_ll, os.X_OK)):
            r.unavailable = "not available: passthrough_ll could not be built from /usr/share/doc/libfuse3-dev/examples"
        if r.name == "passthrough_hp":
            hp = args.passthrough_hp
            if not (hp and os.access(hp, os.X_OK)):
                r.unavailable = ("not available: Debian 12's libfuse3-dev (3.14) ships no passthrough_hp.cc "
                                 "in /usr/share/doc/libfuse3-dev/examples (checked with dpkg -L)")
            else:
                r.options = "passthrough_hp LOWER MNT"
    if args.rows:
        keep = set(args.rows.split(",")) | {"native"}
        rows = [r for r in rows if r.name in keep]
    return rows


def shutil_which(name):
    import shutil
    return shutil.which(name)


# ---------------------------------------------------------------------------------------------
# Workloads

def quick_or_full(mode):
    if mode == "smoke":  # checks the harness itself in about a minute; numbers mean nothing
        return dict(reps=1, fio_runtime=0.5, fio_ramp=0, seq_size="16m", rand_size="8m",
                    meta_files=200, openclose=500, rename=200, readdir_rounds=2,
                    tree_files=300)
    if mode == "full":
        return dict(reps=5, fio_runtime=5, fio_ramp=1, seq_size="1g", rand_size="256m",
                    meta_files=20000, openclose=50000, rename=20000, readdir_rounds=20,
                    tree_files=30000)
    return dict(reps=3, fio_runtime=1, fio_ramp=0.25, seq_size="128m", rand_size="32m",
                meta_files=2000, openclose=5000, rename=2000, readdir_rounds=5,
                tree_files=4000)


FIO_JOBS = [
    # name, rw, bs, numjobs, file stem, metric. Writes get their own files, laid out by the
    # write job itself: writing into files fio pre-read made native ext4 2-7x slower than in
    # isolation (page-cache state after fadvise WILLNEED), which is not what we measure.
    ("seq-read", "read", "1m", 1, "seq", "MiB/s"),
    ("seq-write", "write", "1m", 1, "seqw", "MiB/s"),
    ("rand-read-1j", "randread", "4k", 1, "rand", "IOPS"),
    ("rand-read-2j", "randread", "4k", 2, "rand", "IOPS"),
    ("rand-write-1j", "randwrite", "4k", 1, "randw", "IOPS"),
    ("rand-write-2j", "randwrite", "4k", 2, "randw", "IOPS"),
]

# workload -> (group, unit, higher_is_better)
WORKLOADS = {}
for name, _, _, _, _, unit in FIO_JOBS:
    WORKLOADS[name] = ("data", unit, True)
for name in ("create+unlink", "stat-cold", "stat-warm", "readdir", "open+close", "rename"):
    WORKLOADS[name] = ("metadata", "ops/s", True)
for name in ("tree-extract", "tree-find", "tree-read", "tree-du", "tree-walk"):
    WORKLOADS[name] = ("source-tree", "s", False)


def fio(cfg, directory, job, timeout):
    name, rw, bs, numjobs, stem, metric = job
    size = cfg["seq_size"] if stem.startswith("seq") else cfg["rand_size"]
    cmd = ["fio", "--output-format=json", f"--name={stem}", f"--directory={directory}",
           "--filename_format=$jobname.$jobnum.$filenum", f"--rw={rw}", f"--bs={bs}",
           f"--size={size}", f"--numjobs={numjobs}", "--ioengine=psync", "--direct=0",
           "--invalidate=0", "--time_based", f"--runtime={cfg['fio_runtime']}",
           f"--ramp_time={cfg['fio_ramp']}", "--group_reporting", "--fallocate=none"]
    if "write" in rw:
        cmd.append("--end_fsync=1")
    else:  # read from the page cache on every row (fio's layout may leave it cold)
        cmd.append("--pre_read=1")
    p = run(cmd, timeout)
    data = json.loads(p.stdout[p.stdout.index("{"):])
    job0 = data["jobs"][0]
    side = job0["write"] if "write" in rw else job0["read"]
    if metric == "MiB/s":
        return side["bw_bytes"] / 2**20
    return side["iops"]


def fsops(args, *argv, timeout=600):
    p = run([args.fsops, *map(str, argv)], timeout)
    return json.loads(p.stdout.strip().splitlines()[-1])


def timed(cmd, timeout, **kw):
    t = time.monotonic()
    run(cmd, timeout, **kw)
    return time.monotonic() - t


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def make_tree_tar(path, files, seed=4):
    """A synthetic source tree: nested directories, file sizes skewed small like a code base."""
    rng = random.Random(seed)
    dirs = ["src"]
    with tarfile.open(path, "w") as tar:
        def add_dir(name):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(ti)
        add_dir("src")
        made = 0
        while made < files:
            if rng.random() < 0.08 or len(dirs) < 4:
                parent = rng.choice(dirs[-40:]) if rng.random() < 0.8 else rng.choice(dirs)
                d = f"{parent}/d{len(dirs)}"
                dirs.append(d)
                add_dir(d)
                continue
            d = rng.choice(dirs[-60:])
            size = min(int(rng.lognormvariate(7.6, 1.2)), 256 * 1024)
            ti = tarfile.TarInfo(f"{d}/file{made}.c")
            ti.size, ti.mode = size, 0o644
            tar.addfile(ti, io.BytesIO(bytes(rng.getrandbits(8) for _ in range(64)) * (size // 64)
                                       + b"x" * (size % 64)))
            made += 1
    return len(dirs)


# ---------------------------------------------------------------------------------------------
# Mounting one row

class Bench:
    def __init__(self, args):
        self.args = args
        self.cfg = quick_or_full(args.mode)
        if args.reps:
            self.cfg["reps"] = args.reps
        self.mounts = Mounts()
        self.samples = {}   # (row, lower, workload) -> [values]
        self.failures = {}  # (row, lower) -> reason
        self.stats = {}     # (row, lower) -> last `fusebpf stats --json` snapshot
        self.work = args.work

    # -- mounting --

    def mount(self, row, backing, mp, lower):
        os.makedirs(mp, exist_ok=True)
        if row.kind == "native":
            return backing
        log_path = os.path.join(self.work, "logs", f"{row.name}-{lower}.log")
        if row.kind == "fusebpf":
            cmd = [self.args.fusebpf, "mount", "--cache=auto", "--threads", "2", "--log", log_path]
            cmd += ["--transport=uring"] if row.name == "fusebpf-uring" else ["--transport=dev"]
            if row.name == "fusebpf-nopt":
                cmd.append("--no-passthrough")
            cmd += [x for x in row.extra if x]
            cmd += [backing, mp]
            self.mounts.add(mp, "fusebpf")
            p = run(cmd, MOUNT_TIMEOUT, check=False)
            if p.returncode != 0 or not mounted(mp):
                raise RuntimeError(f"fusebpf mount failed: {(p.stderr or p.stdout).strip()[-300:]}")
            return mp
        # peers: started in the foreground so we own the pid
        if row.name == "bindfs":
            cmd = ["bindfs", "-f", "--multithreaded", "-o", "kernel_cache,attr_timeout=1,entry_timeout=1",
                   backing, mp]
        elif row.name == "passthrough_ll":
            cmd = [self.args.passthrough_ll, "-f", "-o", f"source={backing},cache=auto,clone_fd,writeback", mp]
        elif row.name == "passthrough_hp":
            cmd = [self.args.passthrough_hp, backing, mp, "--foreground"]
        elif row.name == "fuse-overlayfs":
            base = os.path.dirname(backing)
            empty, work = os.path.join(base, "ovl-lower"), os.path.join(base, "ovl-work")
            os.makedirs(empty, exist_ok=True)
            os.makedirs(work, exist_ok=True)
            cmd = ["fuse-overlayfs", "-f", "-o",
                   f"lowerdir={empty},upperdir={backing},workdir={work},threaded=1,noacl", mp]
        elif row.name == "mergerfs":
            cmd = ["mergerfs", "-f", "-o",
                   "cache.files=auto-full,dropcacheonclose=false,cache.attr=1,cache.entry=1,"
                   "cache.writeback=true,threads=2,category.create=ff,minfreespace=4K", backing, mp]
        else:
            raise RuntimeError(f"unknown row {row.name}")
        logf = open(log_path, "ab")
        proc = subprocess.Popen(cmd, stdout=logf, stderr=logf, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        logf.close()
        self.mounts.add(mp, "peer", proc)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while time.monotonic() < deadline:
            if mounted(mp):
                return mp
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        self.mounts.unmount(mp, self.args.fusebpf)
        with open(log_path, errors="replace") as f:
            tail = f.read()[-300:].strip()
        raise RuntimeError(f"{cmd[0]} did not mount within {MOUNT_TIMEOUT}s: {tail}")

    def unmount(self, row, mp):
        if row.kind == "native":
            return
        if not self.mounts.unmount(mp, self.args.fusebpf):
            log(f"warning: {mp} needed a lazy unmount")

    def fusebpf_stats(self, row, mp):
        if row.kind != "fusebpf":
            return None
        p = run([self.args.fusebpf, "stats", mp, "--json"], 20, check=False)
        if p.returncode != 0:
            return None
        return json.loads(p.stdout)

    # -- one (rep, lower, row) --

    def add(self, row, lower, workload, value):
        self.samples.setdefault((row.name, lower, workload), []).append(value)

    def run_row(self, rep, row, lower, lower_root):
        cfg, args = self.cfg, self.args
        base = os.path.join(lower_root, f"{row.name}.{rep}")
        backing = os.path.join(base, "data")
        os.makedirs(backing)
        mp = os.path.join(self.work, "mnt", f"{row.name}-{lower}")
        self._stats1 = None
        t0 = time.monotonic()
        try:
            root = self.mount(row, backing, mp, lower)
            groups = set(args.groups.split(","))
            if "data" in groups:
                self.run_data(row, lower, root)
            if groups & {"metadata", "source-tree"}:
                root = self.run_meta(row, lower, root, backing, mp, groups)
            stats2 = self.fusebpf_stats(row, mp)
            if stats2 is not None:
                self.stats[(row.name, lower)] = {"before_remount": self._stats1, "after_remount": stats2}
        except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError,
                ValueError) as e:
            reason = str(e)
            if isinstance(e, subprocess.CalledProcessError):
                reason = f"{shlex.join(map(str, e.cmd))[:160]} exited {e.returncode}: {(e.stderr or '').strip()[-300:]}"
            elif isinstance(e, subprocess.TimeoutExpired):
                reason = f"timed out: {shlex.join(map(str, e.cmd))[:160]}"
                abort_connection(mp)
            log(f"  {row.name} on {lower}: FAILED: {reason}")
            self.failures.setdefault((row.name, lower), reason)
        finally:
            self.unmount(row, mp)
            subprocess.run(["rm", "-rf", base], check=False, timeout=900)
        log(f"  rep {rep} {lower:5} {row.name:16} {time.monotonic() - t0:6.1f}s")

    def run_data(self, row, lower, root):
        cfg = self.cfg
        fio_dir = os.path.join(root, "fio")
        os.mkdir(fio_dir)
        fio_timeout = cfg["fio_runtime"] + cfg["fio_ramp"] + 300
        for job in FIO_JOBS:
            # Start each job with nothing dirty: writeback left over from the previous job
            # otherwise lands on whichever row runs next (seen as native ext4 random writes
            # at 1/7 of their speed right after the 1 GiB sequential write).
            os.sync()
            self.add(row, lower, job[0], fio(cfg, fio_dir, job, fio_timeout))
        run(["rm", "-rf", fio_dir], 300)

    def run_meta(self, row, lower, root, backing, mp, groups):
        cfg, args = self.cfg, self.args
        meta = os.path.join(root, "meta")
        for sub in ("create", "files", "rename"):
            os.makedirs(os.path.join(meta, sub))
        n = cfg["meta_files"]
        if "metadata" in groups:
            self.add(row, lower, "create+unlink",
                     fsops(args, "create", os.path.join(meta, "create"), n)["ops_per_s"])
            fsops(args, "populate", os.path.join(meta, "files"), n)
            # cold: unmount (the daemon forgets everything), drop the kernel's caches, remount
            self._stats1 = self.fusebpf_stats(row, mp)
            self.unmount(row, mp)
            drop_caches()
            root = self.mount(row, backing, mp, lower)
            files = os.path.join(root, "meta", "files")
            self.add(row, lower, "stat-cold", fsops(args, "stat", files, n)["ops_per_s"])
            self.add(row, lower, "stat-warm", fsops(args, "stat", files, n)["ops_per_s"])
            self.add(row, lower, "readdir", fsops(args, "readdir", files, cfg["readdir_rounds"])["ops_per_s"])
            self.add(row, lower, "open+close", fsops(args, "openclose", files, n, cfg["openclose"])["ops_per_s"])
            self.add(row, lower, "rename",
                     fsops(args, "rename", os.path.join(root, "meta", "rename"), cfg["rename"])["ops_per_s"])
        if "source-tree" in groups:
            src = os.path.join(root, "tree")
            os.mkdir(src)
            self.add(row, lower, "tree-extract", timed(["tar", "-xf", args.tree_tar, "-C", src], 900))
            self.add(row, lower, "tree-find", timed(["find", src, "-name", "*.h"], 600))
            self.add(row, lower, "tree-read", fsops(args, "readall", src, timeout=900)["seconds"])
            self.add(row, lower, "tree-du", timed(["du", "-s", src], 600))
            self.add(row, lower, "tree-walk", fsops(args, "walk", src, timeout=900)["seconds"])
        return root


# ---------------------------------------------------------------------------------------------
# Lower file systems

def setup_lowers(args, mounts):
    lowers = {}
    want = args.lowers.split(",")
    if "tmpfs" in want:
        d = os.path.join(args.work, "lower-tmpfs")
        os.makedirs(d)
        run(["mount", "-t", "tmpfs", "-o", "size=12g,mode=0755", "bench-tmpfs", d], 30)
        mounts.add(d, "bind")
        lowers["tmpfs"] = d
    if "ext4" in want:
        d = os.path.join(args.work, "lower-ext4")
        os.makedirs(d)
        run(["truncate", "-s", args.ext4_size, args.ext4_image], 30)
        run(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", args.ext4_image], 300)
        loop = run(["losetup", "--find", "--show", args.ext4_image], 30).stdout.strip()
        args.loop_device = loop
        with open(os.path.join(args.work, "loopdev"), "w") as f:
            f.write(loop)
        run(["mount", "-o", "noatime", loop, d], 60)
        mounts.add(d, "bind")
        lowers["ext4"] = d
    return lowers


# ---------------------------------------------------------------------------------------------
# Output

def median(v):
    return statistics.median(v) if v else None


def summarize(bench, rows, lowers):
    out = []
    for lower in lowers:
        for w, (group, unit, hib) in WORKLOADS.items():
            nat = median(bench.samples.get(("native", lower, w), []))
            for row in rows:
                rec = {"row": row.name, "lower": lower, "workload": w, "group": group, "unit": unit,
                       "higher_is_better": hib}
                vals = bench.samples.get((row.name, lower, w), [])
                if row.unavailable:
                    rec.update(status=row.unavailable, median=None, ratio=None, values=[])
                elif (row.name, lower) in bench.failures and not vals:
                    rec.update(status="failed: " + bench.failures[(row.name, lower)], median=None,
                               ratio=None, values=[])
                else:
                    m = median(vals)
                    ratio = None
                    if m and nat:
                        ratio = m / nat if hib else nat / m
                    rec.update(status="ok", median=m, ratio=ratio, values=vals)
                out.append(rec)
    return out


def fmt_abs(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return f"{v:.2f} s" if v >= 1 else f"{v * 1000:.0f} ms"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M {unit}"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k {unit}"
    return f"{v:.0f} {unit}"


def write_charts(outdir, results, rows, lowers):
    charts = []
    for lower in lowers:
        for group in ("data", "metadata", "source-tree"):
            works = [w for w, (g, _, _) in WORKLOADS.items() if g == group]
            crow = [r for r in rows if not r.unavailable and r.name != "native"]
            if not crow or not any(x["ratio"] for x in results if x["lower"] == lower and x["group"] == group):
                continue
            stem = f"{group}-{lower}"
            dat = os.path.join(outdir, f"{stem}.dat")
            with open(dat, "w") as f:
                f.write("workload " + " ".join(f'"{r.name}"' for r in crow) + "\n")
                for w in works:
                    vals = []
                    for r in crow:
                        rec = next(x for x in results if x["row"] == r.name and x["lower"] == lower
                                   and x["workload"] == w)
                        vals.append(f"{rec['ratio']:.4f}" if rec["ratio"] is not None else "NaN")
                    f.write(f'"{w}" ' + " ".join(vals) + "\n")
            for term, ext in (("svg size 1000,420 dynamic font 'sans,11'", "svg"),
                              ("pngcairo size 1000,420 font 'sans,10'", "png")):
                gp = (f"set terminal {term}\nset output '{stem}.{ext}'\n"
                      f"set title '{group} on {lower}: speed relative to native (higher is better)'\n"
                      "set termoption noenhanced\n" + ("set logscale y 10\nset yrange [0.01:*]\n" if group != "data" else "set yrange [0:*]\n") +
                      "set style data histograms\nset style histogram clustered gap 1\n"
                      "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
                      "set grid ytics\nset key outside right top\nset ylabel 'x native'\n"
                      "set xtics nomirror\nset arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2\n"
                      f"plot for [i=2:{len(crow) + 1}] '{stem}.dat' using i:xtic(1) title columnheader(i)\n")
                with open(os.path.join(outdir, f"{stem}.{ext}.gp"), "w") as f:
                    f.write(gp)
                p = subprocess.run(["gnuplot", f"{stem}.{ext}.gp"], cwd=outdir, timeout=60,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                if p.returncode != 0:
                    log(f"gnuplot {stem}.{ext}: {p.stdout[-200:]}")
                else:
                    charts.append(f"{stem}.{ext}")
    return charts


def evaluate_targets(results, bench, lowers):
    lines = []
    get = {(r["row"], r["lower"], r["workload"]): r for r in results}

    def ratio(row, lower, w):
        r = get.get((row, lower, w))
        return r["ratio"] if r else None

    # 1. data path >= 0.95x native
    for row in ("fusebpf", "fusebpf-uring"):
        bad, shown = [], []
        for lower in lowers:
            for w in ("seq-read", "seq-write", "rand-read-1j", "rand-read-2j"):
                x = ratio(row, lower, w)
                shown.append(f"{w}/{lower} {x:.2f}x" if x is not None else f"{w}/{lower} n/a")
                if x is None or x < 0.95:
                    bad.append(f"{w}/{lower}")
        verdict = "MET" if not bad else "MISSED (" + ", ".join(bad) + ")"
        lines.append(f"- Data path with passthrough >= 0.95x native, `{row}`: **{verdict}** — " + "; ".join(shown))
    # 2. metadata and source tree >= 2x the best peer
    peers = ("bindfs", "passthrough_ll", "passthrough_hp", "fuse-overlayfs", "mergerfs")
    for row in ("fusebpf", "fusebpf-uring"):
        bad, shown = [], []
        for lower in lowers:
            for w, (group, _, _) in WORKLOADS.items():
                if group == "data" or (row, lower, w) not in bench.samples:
                    continue
                ours = ratio(row, lower, w)
                pr = [(ratio(p, lower, w), p) for p in peers if ratio(p, lower, w) is not None]
                if ours is None or not pr:
                    shown.append(f"{w}/{lower} n/a")
                    bad.append(f"{w}/{lower}")
                    continue
                best, who = max(pr)
                adv = ours / best
                shown.append(f"{w}/{lower} {adv:.2f}x vs {who}")
                if adv < 2.0:
                    bad.append(f"{w}/{lower}")
        verdict = "MET" if not bad else f"MISSED in {len(bad)} of {len(shown)}"
        if not shown:
            verdict = "NOT MEASURED (workload groups not run)"
        lines.append(f"- Metadata and source tree >= 2x the best peer, `{row}`: **{verdict}** — " + "; ".join(shown))
    # 3. trace filter overhead
    for eng in ("interp", "jit"):
        r = f"fusebpf-bpf-{eng}"
        recs = [x for x in results if x["row"] == r]
        if not recs or recs[0]["status"] != "ok":
            lines.append(f"- Trace-every-operation BPF filter ({eng}) <= 3% over no filter: **NOT MEASURED** — "
                         + (recs[0]["status"] if recs else "row not run"))
            continue
        worst = []
        for x in recs:
            base = get.get(("fusebpf", x["lower"], x["workload"]))
            if base and base["ratio"] and x["ratio"]:
                worst.append((1 - x["ratio"] / base["ratio"], f"{x['workload']}/{x['lower']}"))
        worst.sort(reverse=True)
        ok = all(c <= 0.03 for c, _ in worst)
        lines.append(f"- Trace filter ({eng}) <= 3%: **{'MET' if ok else 'MISSED'}** — worst: "
                     + ", ".join(f"{w} {c * 100:+.1f}%" for c, w in worst[:4]))
    return lines


def percpu_markdown(path):
    """The table bench/latency_cpu.sh wrote (run.sh runs it before the harness)."""
    if not path or not os.path.exists(path):
        return "(not run: see bench/latency_cpu.sh)"
    with open(path) as f:
        return f.read().strip() + "\n\nProduced by `bench/latency_cpu.sh` in the same run.\n"


def latency_section(bench):
    lines = []
    for (row, lower), snap in sorted(bench.stats.items()):
        s = snap["after_remount"]
        lines.append(f"\n**{row} on {lower}** (transport {s.get('transport')}, requests {s.get('requests')}, "
                     f"via io_uring {s.get('uring_requests', 0)}; last repetition, after the remount: "
                     "stat/readdir/open/rename/source tree)\n")
        lines.append("| op | count | p50 us | p90 us | p99 us |\n|---|---|---|---|---|")
        ops = sorted(s.get("ops", {}).items(), key=lambda kv: -kv[1].get("count", 0))
        for name, op in ops[:14]:
            lines.append(f"| {name} | {op.get('count')} | {op.get('p50_us', 0):.1f} | {op.get('p90_us', 0):.1f} "
                         f"| {op.get('p99_us', 0):.1f} |")
    return lines


def write_report(bench, rows, lowers, results, charts, machine, outdir, micro):
    L = []
    L.append(f"# fusebpf benchmark — {machine['date']} ({machine['mode']} mode)\n")
    L.append(f"Machine: {machine['cpu']}, {machine['cpus']} CPUs, {machine['mem_gib']} GiB RAM, kernel "
             f"{machine['kernel']}, {machine['os']}; commit {machine['commit']}. "
             f"{bench.cfg['reps']} repetitions, rows interleaved (native, fusebpf, ..., peers; then again), "
             "medians. **Ratio = speed relative to native in the same run** (higher is better; for "
             "timed workloads native seconds / row seconds). The machine is shared: only ratios measured "
             "together mean anything.\n")
    L.append("## Rows and mount options\n")
    L.append("| row | options | status |\n|---|---|---|")
    for r in rows:
        L.append(f"| {r.name} | `{r.options}` | {r.unavailable or 'ran'} |")
    L.append("")
    L.append(f"Lower file systems: {', '.join(f'`{k}`' for k in lowers)} (tmpfs `size=12g`; ext4 on a loop "
             f"device over a {bench.args.ext4_size} sparse file in /dev/shm, mounted `noatime`). "
             "Each row gets a fresh directory on the lower fs per repetition.\n")
    L.append("Workloads: fio psync, buffered (`--direct=0 --invalidate=0`, so reads come from the page "
             f"cache: this measures the file system layers, not a disk), time based {bench.cfg['fio_runtime']} s "
             f"after {bench.cfg['fio_ramp']} s ramp, seq {bench.cfg['seq_size']} file with 1 MiB blocks, random "
             f"4 KiB over {bench.cfg['rand_size']} per job, writes end with fsync. Metadata (bench/tools/fsops.cc): "
             f"create+unlink of {bench.cfg['meta_files']} empty files (pairs/s); stat of {bench.cfg['meta_files']} files "
             "cold (unmount, `echo 3 > drop_caches`, remount) and warm (right after); readdir of that directory "
             f"{bench.cfg['readdir_rounds']}x (entries/s); open+close {bench.cfg['openclose']}x; rename back and "
             f"forth {bench.cfg['rename']}x. Source tree: a synthetic tree of {bench.cfg['tree_files']} files "
             "(lognormal sizes, median ~2 KiB) as a tar: extract into the mount, `find -name '*.h'`, read every "
             "file, `du -s`, and a `git status`-like walk (readdir + lstat of every entry).\n")
    for lower in lowers:
        for group in ("data", "metadata", "source-tree"):
            works = [w for w, (g, _, _) in WORKLOADS.items() if g == group]
            if not any(x["median"] for x in results if x["lower"] == lower and x["group"] == group):
                continue
            L.append(f"### {group} on {lower}\n")
            L.append("| row | " + " | ".join(works) + " |")
            L.append("|---|" + "---|" * len(works))
            for r in rows:
                cells = []
                for w in works:
                    rec = next(x for x in results if x["row"] == r.name and x["lower"] == lower and x["workload"] == w)
                    if rec["status"] != "ok":
                        cells.append("n/a")
                    elif rec["ratio"] is None:
                        cells.append(fmt_abs(rec["median"], rec["unit"]))
                    else:
                        cells.append(f"**{rec['ratio']:.2f}x** ({fmt_abs(rec['median'], rec['unit'])})")
                L.append(f"| {r.name} | " + " | ".join(cells) + " |")
            L.append("")
            for c in charts:
                if c == f"{group}-{lower}.svg":
                    L.append(f"![{group} on {lower}]({c})\n")
    fails = [(k, v) for k, v in bench.failures.items()]
    unav = [r for r in rows if r.unavailable]
    if fails or unav:
        L.append("## Rows that did not run\n")
        for r in unav:
            L.append(f"- `{r.name}`: {r.unavailable}")
        for (row, lower), reason in fails:
            L.append(f"- `{row}` on {lower}: failed: {reason}")
        L.append("")
    L.append("## Targets (issue 4)\n")
    L += evaluate_targets(results, bench, lowers)
    L.append("\n## Per-operation latency from `fusebpf stats --json`\n")
    L += latency_section(bench)
    L.append("\n## Per-CPU latency (issue 5): caller pinned to each CPU, `--cache=none`, tmpfs\n")
    L.append(percpu_markdown(bench.args.percpu_md))
    if micro:
        L.append("\n## Micro-benchmarks (bench/micro_*, Google Benchmark; median of 3 repetitions)\n")
        L += micro
    with open(os.path.join(outdir, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")


def micro_summary(directory):
    """Report lines for the micro-benchmarks, with issue 2's ratios for the BPF filter."""
    if not directory or not os.path.isdir(directory):
        return []
    med = {}
    lines = ["| benchmark | median CPU time | median wall time |", "|---|---|---|"]
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name)) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        for b in data.get("benchmarks", []):
            if b.get("aggregate_name") != "median":
                continue
            base = b["run_name"]
            # CPU time: on a shared machine wall time includes time spent descheduled
            med[base] = (b["cpu_time"], b["time_unit"])
            lines.append(f"| {base} | {b['cpu_time']:.3g} {b['time_unit']} | {b['real_time']:.3g} {b['time_unit']} |")
    def ns(key):
        v = med.get(key)
        if not v:
            return None
        return v[0] * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[v[1]]
    nat, itp, jit = ns("BM_FilterNative"), ns("BM_FilterInterpreter"), ns("BM_FilterJit")
    ver = ns("BM_Verify4k/4000")
    lines.append("")
    if nat and jit:
        lines.append(f"- Filter (name compare + map lookup), JIT / native C++ = **{jit / nat:.2f}x** (target <= 1.5x): "
                     f"**{'MET' if jit / nat <= 1.5 else 'MISSED'}**")
    if nat and itp:
        lines.append(f"- Interpreter / native C++ = **{itp / nat:.2f}x** (target <= 8x): "
                     f"**{'MET' if itp / nat <= 8 else 'MISSED'}**")
    if ver:
        lines.append(f"- verify() of a 4,000-instruction program: **{ver / 1e6:.2f} ms** (target < 10 ms): "
                     f"**{'MET' if ver < 10e6 else 'MISSED'}**")
    return lines


def machine_info(args):
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // (1024 * 1024)
    osname = "Linux"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", args.repo, "rev-parse", "--short", "HEAD"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.strip() or "unknown"
    return {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "kernel": platform.release(),
            "cpus": os.cpu_count(), "cpu": cpu, "mem_gib": mem, "os": osname, "commit": commit,
            "mode": args.mode}


# ---------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("smoke", "quick", "full"), default="quick")
    ap.add_argument("--repo", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fusebpf", required=True)
    ap.add_argument("--fsops", required=True)
    ap.add_argument("--passthrough-ll", dest="passthrough_ll", default="")
    ap.add_argument("--passthrough-hp", dest="passthrough_hp", default="")
    ap.add_argument("--ext4-image", dest="ext4_image", required=True)
    ap.add_argument("--ext4-size", dest="ext4_size", default="6G")
    ap.add_argument("--lowers", default="tmpfs,ext4")
    ap.add_argument("--rows", default="")
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--groups", default="data,metadata,source-tree")
    ap.add_argument("--micro-dir", dest="micro_dir", default="",
                    help="directory of Google Benchmark JSON files to summarize in the report")
    ap.add_argument("--percpu-md", dest="percpu_md", default="",
                    help="markdown from bench/latency_cpu.sh to include as the per-CPU section")
    args = ap.parse_args()

    bench = Bench(args)
    mounts = bench.mounts

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    os.makedirs(os.path.join(args.work, "mnt"), exist_ok=True)
    os.makedirs(os.path.join(args.work, "logs"), exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    cli_help = run([args.fusebpf, "mount", "--help"], 20, check=False).stdout
    rows = make_rows(args, cli_help)
    machine = machine_info(args)
    try:
        args.tree_tar = os.path.join(args.work, "tree.tar")
        ndirs = make_tree_tar(args.tree_tar, bench.cfg["tree_files"])
        log(f"tree: {bench.cfg['tree_files']} files in {ndirs} directories, "
            f"{os.path.getsize(args.tree_tar) >> 20} MiB tar")
        lowers = setup_lowers(args, mounts)
        active = [r for r in rows if not r.unavailable]
        for r in rows:
            if r.unavailable:
                log(f"row {r.name}: {r.unavailable}")
        for rep in range(bench.cfg["reps"]):
            for lower, root in lowers.items():
                for row in active:
                    bench.run_row(rep, row, lower, root)
    finally:
        mounts.cleanup(args.fusebpf)
        if getattr(args, "loop_device", None):
            subprocess.run(["losetup", "-d", args.loop_device], check=False, timeout=30)
        if os.path.exists(args.ext4_image):
            os.unlink(args.ext4_image)
    micro = micro_summary(args.micro_dir)
    results = summarize(bench, rows, list(lowers))
    charts = write_charts(args.out, results, rows, list(lowers))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": machine, "config": bench.cfg,
                   "rows": [{"row": r.name, "options": r.options, "status": r.unavailable or "ran"} for r in rows],
                   "results": results,
                   "fusebpf_stats": [{"row": k[0], "lower": k[1], **v} for k, v in bench.stats.items()],
                   "failures": [{"row": k[0], "lower": k[1], "reason": v} for k, v in bench.failures.items()]},
                  f, indent=1)
    write_report(bench, rows, list(lowers), results, charts, machine, args.out, micro)
    log(f"report: {os.path.join(args.out, 'report.md')}")


if __name__ == "__main__":
    main()
