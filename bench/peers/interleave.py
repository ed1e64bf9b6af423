#!/usr/bin/python3
"""Runs two benchmark commands alternately (pda, peer, pda, peer, ...) and reports medians, ratios and
how busy the machine was with other work during each run (used by scripts/bench-forward.sh).

Each run is a subprocess that prints JSON; `value` extracts its throughput. During each run the
other processes' CPU share is measured from /proc/stat (all CPUs' busy time) minus the run's own CPU
time (its rusage), over cores x wall time; a run with more than --max-other of the machine taken by
others is redone (up to --retries times) and, if still disturbed, kept and flagged.

Use as a module: `measure(cases, rounds, max_other, retries)` with cases of (label, [cmd_a, cmd_b, ...],
[value_a, value_b, ...]) and optionally the commands' names as a fourth element (default pda, peer for
two); returns per case the medians and the largest other-CPU share seen."""
import json
import os
import statistics
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def cpu_busy_seconds() -> float:
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK  # user nice system idle iowait irq softirq steal


def run_once(cmd):
    """Runs cmd; returns (parsed JSON of its stdout, other processes' CPU share during the run)."""
    busy0, t0 = cpu_busy_seconds(), time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    wall = time.perf_counter() - t0
    busy = cpu_busy_seconds() - busy0
    if p.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"interleave: {' '.join(cmd)} failed (exit {p.returncode})")
    own = child_cpu_seconds()
    other = max(0.0, busy - own) / (NCPU * wall)
    return json.loads(out), other


_last_children = [0.0]


def child_cpu_seconds() -> float:
    """CPU seconds of the children that ended since the last call."""
    r = os.times()
    total = r.children_user + r.children_system
    delta, _last_children[0] = total - _last_children[0], total
    return delta


def measure(cases, rounds=3, max_other=0.10, retries=3, log=sys.stderr):
    child_cpu_seconds()
    results = []
    for case in cases:
        label, cmds, values = case[:3]
        names = case[3] if len(case) > 3 else ["pda", "peer"] if len(cmds) == 2 else [str(i) for i in range(len(cmds))]
        got = [[] for _ in cmds]
        worst = 0.0
        for r in range(rounds):
            for i, cmd in enumerate(cmds):
                for attempt in range(retries + 1):
                    t0 = time.perf_counter()
                    data, other = run_once(cmd)
                    wall = time.perf_counter() - t0
                    if other <= max_other or attempt == retries:
                        break
                    log.write(f"  {label}: run disturbed ({other:.0%} of the CPU taken by others, {wall:.1f} s), "
                              "redone\n")
                worst = max(worst, other)
                got[i].append(values[i](data))
                log.write(f"  {label} round {r + 1} {names[i]}: "
                          f"{got[i][-1]:.2f} (others {other:.0%}, {wall:.1f} s)\n")
        results.append({"label": label, "medians": [statistics.median(g) for g in got], "runs": got,
                        "max_other": worst})
    return results
