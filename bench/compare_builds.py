#!/usr/bin/env python3
"""Two pda binaries on the same `pda bench` jobs, interleaved (A B A B ...), on the CPU: the median
resampled images/s of each and their ratio, the peak resident memory of each run, and the share of
the CPU that other processes used during each run (/proc/stat), so that a disturbed run can be
seen and redone. Used to check that a change to the engine costs no speed.

Usage: bench/compare_builds.py OLD_PDA NEW_PDA [--rounds 3] [--shared ../shared] [--only alexnet,...]"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def cpu_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v), v[3] + v[4]  # total, idle + iowait


def run(cmd):
    """Runs cmd; returns (its JSON output, peak RSS in MiB, share of the machine used by others)."""
    t0, i0 = cpu_ticks()
    c0 = os.times()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    c1 = os.times()
    t1, i1 = cpu_ticks()
    if p.returncode != 0:
        sys.exit(f"compare_builds: {' '.join(cmd)} failed: {err.decode().strip()}")
    busy = (t1 - t0) - (i1 - i0)
    ours = ((c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)) * os.sysconf("SC_CLK_TCK")
    other = max(0.0, (busy - ours) / max(t1 - t0, 1))
    return json.loads(out), other


def peak_mib(cmd):
    """Peak resident memory of one run of cmd, in MiB (GNU time is not needed: wait4's rusage)."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(cmd[0], cmd)
    _, status, ru = os.wait4(pid, 0)
    return ru.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    squeeze = os.path.join(a.shared, "models", "squeezenet1.1-caffe.onnx")
    # net, windows per timed run (VGG16 full is slow on a CPU)
    nets = [("alexnet", 16), ("vgg16", 4), (squeeze, 16)]
    jobs = []
    for net, windows in nets:
        for sampler in ("occlusion", "conditional"):
            for exe in ("full", "incremental"):
                name = f"{os.path.basename(net).replace('.onnx', '')} {sampler} {exe}"
                if a.only and not any(o in name for o in a.only.split(",")):
                    continue
                args = ["bench", net, "--sampler", sampler, "--exec", exe, "--windows", str(windows),
                        "--repeat", "3", "--device", "cpu", "--json"]
                jobs.append((name, args))
    print(f"machine: {os.cpu_count()} cores, {time.strftime('%Y-%m-%d', time.gmtime())}; "
          f"A = {a.old}, B = {a.new}; {a.rounds} interleaved rounds, each the median of 3 timed runs")
    print("| job | A images/s | B images/s | B / A | A peak MiB | B peak MiB | others' CPU (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, args in jobs:
        ra, rb, others = [], [], []
        for _ in range(a.rounds):
            for exe, acc in ((a.old, ra), (a.new, rb)):
                out, other = run([exe] + args)
                acc.append(out["images_per_s"])
                others.append(other)
        ma, mb = peak_mib([a.old] + args), peak_mib([a.new] + args)
        A, B = statistics.median(ra), statistics.median(rb)
        print(f"| {name} | {A:.1f} | {B:.1f} | {B / A:.3f} | {ma:.0f} | {mb:.0f} | {100 * max(others):.0f}% |",
              flush=True)


if __name__ == "__main__":
    main()
