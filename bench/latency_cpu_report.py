#!/usr/bin/env python3
"""Markdown tables for bench/latency_cpu.sh from the files it leaves in its scratch directory.

Usage: latency_cpu_report.py WORK ITERATIONS WARMUP NPROC. WORK holds results.tsv
("variant round cpu op p50 p90 p99" per line, from tools/latency_probe), load.tsv, and for the
fusebpf mounts requests.tsv (`fusebpf stats` around each probe run) and stats.<variant>.json.
"""
import collections, json, os, statistics, sys
work, iterations, warmup, nproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = collections.defaultdict(list)  # (variant, op, cpu) -> [(median, p90, p99)] per round
for line in open(os.path.join(work, "results.tsv")):
    v, r, cpu, op, med, p90, p99 = line.split()
    rows[(v, op, int(cpu))].append((float(med), float(p90), float(p99)))
label = {"native": "native tmpfs", "dev": "/dev/fuse", "uring": "io_uring",
         "null-dev": "null daemon, /dev/fuse", "null-uring": "null daemon, io_uring"}
variants = [v for v in label if any(k[0] == v for k in rows)]
ops = list(dict.fromkeys(k[1] for k in rows))
cpus = sorted({k[2] for k in rows})
rounds = max(len(x) for x in rows.values())


def med(v, op, cpu, i=0):
    xs = rows.get((v, op, cpu))
    return statistics.median(x[i] for x in xs) if xs else None


loads = [float(l.split()[2]) for l in open(os.path.join(work, "load.tsv"))]
out = [f"Per-CPU latency in µs: median over {rounds} rounds of each round's p50 / p90 / p99 "
       f"({iterations} timed operations per CPU, op and round after {warmup} warm-up; the caller "
       f"pinned to one CPU; `fusebpf mount --cache=none --threads 2` on tmpfs; {nproc} CPUs; "
       f"1-min load average during the runs {min(loads):.1f}..{max(loads):.1f}).\n"]
out.append("| transport | op | " + " | ".join(f"CPU {c} p50 / p90 / p99" for c in cpus)
           + " | spread (max/min p50) |")
out.append("|---|---|" + "---|" * (len(cpus) + 1))
for v in variants:
    for op in ops:
        cells, p50s = [], []
        for c in cpus:
            m = med(v, op, c)
            if m is None:
                cells.append("n/a")
                continue
            p50s.append(m)
            cells.append(f"{m:.1f} / {med(v, op, c, 1):.1f} / {med(v, op, c, 2):.1f}")
        spread = f"{max(p50s) / min(p50s):.2f}" if p50s else "n/a"
        out.append(f"| {label[v]} | {op} | " + " | ".join(cells) + f" | {spread} |")
out.append("")


def ratio_table(dev, uring, title):
    if dev not in variants or uring not in variants:
        return
    out.append(f"{title}\n")
    out.append("| op | " + " | ".join(f"dev / uring p50, CPU {c}" for c in cpus)
               + " | dev / uring, medians over the CPUs | uring spread (target <= 1.20) "
               "| dev's median over the CPUs / uring's slowest CPU (target >= 2) |")
    out.append("|---|" + "---|" * (len(cpus) + 3))
    for op in ops:
        d = [med(dev, op, c) for c in cpus]
        u = [med(uring, op, c) for c in cpus]
        if None in d or None in u:
            continue
        spread = max(u) / min(u)
        ratio = statistics.median(d) / statistics.median(u)
        worst = statistics.median(d) / max(u)
        out.append(f"| {op} | " + " | ".join(f"{a / b:.2f}x" for a, b in zip(d, u))
                   + f" | {ratio:.2f}x | {spread:.2f} {'met' if spread <= 1.2 else 'MISSED'} "
                   + f"| {worst:.2f}x {'met' if worst >= 2 else 'MISSED'} |")
    out.append("")


ratio_table("dev", "uring", "fusebpf, /dev/fuse against io_uring (issue 5's targets):")
ratio_table("null-dev", "null-uring",
            "Null daemon (probe_fs answers at once), the same ratios: the floor of each transport.")

# Requests per timed operation, from the daemon's counters around each probe run.
per = {}
for line in open(os.path.join(work, "requests.tsv")):
    left, right = line.rstrip("\n").split(" | ")
    v, r, op, *before = left.split()
    after = right.split()

    def counts(fields):
        return ({k: int(n) for k, n in (f.split("=") for f in fields[3:])}, int(fields[1]),
                int(fields[2]))
    b, bt, bu = counts(before)
    a, at, au = counts(after)
    per[(v, op)] = ({k: a[k] - b.get(k, 0) for k in a}, at - bt, au - bu)
if per:
    n = (iterations + warmup) * len(cpus)
    out.append("FUSE requests per timed operation (the daemon's counters around the probe run, "
               "last round):\n")
    out.append("| transport | op | requests per operation | through io_uring |")
    out.append("|---|---|---|---|")
    for v in ("dev", "uring"):
        for op in ops:
            if (v, op) not in per:
                continue
            diff, total, uring = per[(v, op)]
            parts = sorted(((k, c / n) for k, c in diff.items() if c / n >= 0.01),
                           key=lambda kv: -kv[1])
            desc = " + ".join(f"{k} {x:.2f}" for k, x in parts)
            share = f"{uring / total:.0%}" if total else "n/a"
            out.append(f"| {label[v]} | {op} | {desc} | {share} |")
    out.append("")

# The daemon's own time per request (decoded -> reply handed to the kernel), whole last mount.
stats = {}
for v in ("dev", "uring"):
    path = os.path.join(work, f"stats.{v}.json")
    if os.path.exists(path) and os.path.getsize(path):
        with open(path) as f:
            stats[v] = json.load(f)
if stats:
    names = ["GETATTR", "LOOKUP", "OPEN", "FLUSH", "CREATE", "UNLINK", "RELEASE"]
    out.append("Daemon time per request in µs, p50 / p90 / p99 (`fusebpf stats` of the last "
               "round's mount, all CPUs): the part of each round trip spent in fusebpf itself.\n")
    out.append("| transport | " + " | ".join(names) + " |")
    out.append("|---|" + "---|" * len(names))
    for v, s in stats.items():
        cells = []
        for name in names:
            o = s.get("ops", {}).get(name)
            cells.append(f"{o['p50_us']:.1f} / {o['p90_us']:.1f} / {o['p99_us']:.1f}" if o else "n/a")
        out.append(f"| {label[v]} | " + " | ".join(cells) + " |")
print("\n".join(out))
