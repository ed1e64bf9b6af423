#!/usr/bin/python3
"""The driver of scripts/bench-pda.sh: PDA on the CPU, pda (each --exec mode) against a batched Python PDA
peer (bench/peers/pda_ort.py on onnxruntime, or pda_torch.py) on the same ONNX files, run interleaved
through bench/peers/interleave.py (others' CPU share measured, disturbed runs redone), and markdown tables:
  throughput  `pda bench ... --windows N --json` vs `peer --windows N`: resampled images/s;
  occlusion   whole jobs, `pda explain ... --out DIR` vs `peer --save DIR`, each timed as a whole process
              (bench/peers/wall.py), with the maps' agreement (max |diff| / max |peer|, Pearson r);
  conditional whole jobs as above on one sampler file per model (`pda fit-sampler`, shared by both).
The explained classes are pda's top 3 (`pda predict`), passed to both programs.

Usage (normally through scripts/bench-pda.sh, which sets every flag):
  bench_pda.py --pda BUILD/pda --peer ort|torch --peer-python PY --work DIR --image IMG --photos DIR
      [flags, see --help] NAME=MODEL.onnx ..."""
import argparse
import json
import os
import platform
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interleave  # noqa: E402
import pda_common  # noqa: E402


def parse_strides(text, what):
    out = {}
    for item in text.split():
        name, _, s = item.partition("=")
        if not s.isdigit() or int(s) < 1:
            raise SystemExit(f"bench-pda: {what}: '{item}' is not NAME=STRIDE")
        out[name] = int(s)
    return out


def run_json(cmd):
    print("$ " + " ".join(cmd), file=sys.stderr)
    return json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout)


def agreement(pda_dir, peer_dir, classes):
    """(max |pda − peer| / max |peer| over the classes, smallest Pearson r, map shape) of the two
    relevance maps."""
    a, b = np.load(os.path.join(pda_dir, "relevance.npy")), np.load(os.path.join(peer_dir, "relevance.npy"))
    with open(os.path.join(pda_dir, "summary.json")) as f:
        ids = [c["id"] for c in json.load(f)["classes"]]
    if ids != classes or a.shape != b.shape:
        raise SystemExit(f"bench-pda: {pda_dir}: classes {ids} shape {a.shape}, peer {classes} {b.shape}")
    rel = max(float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)) for x, y in zip(a, b))
    r = min(float(np.corrcoef(x.ravel(), y.ravel())[0, 1]) for x, y in zip(a, b))
    return rel, r, b.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="NAME=MODEL.onnx")
    ap.add_argument("--pda", required=True)
    ap.add_argument("--peer", choices=["ort", "torch"], default="ort")
    ap.add_argument("--peer-python", required=True)
    ap.add_argument("--work", required=True, help="folder for sampler files and maps")
    ap.add_argument("--image", required=True)
    ap.add_argument("--photos", required=True, help="the sampler fit's photos")
    ap.add_argument("--parts", default="throughput occlusion conditional")
    ap.add_argument("--execs", default="full incremental",
                    help="pda's modes: full | incremental, each optionally :PRECISION (incremental:winograd)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--job-rounds", type=int, default=3, help="interleaved rounds of the whole jobs")
    ap.add_argument("--max-other", type=float, default=0.10)
    ap.add_argument("--windows", type=int, default=32)
    ap.add_argument("--windows-vgg16", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="throughput: timed runs inside each program")
    ap.add_argument("--sampler", default="conditional", help="throughput: occlusion | conditional")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--occ-strides", default="squeezenet1.1=4 alexnet=4 vgg16=24")
    ap.add_argument("--cond-strides", default="squeezenet1.1=16 alexnet=16 vgg16=72")
    ap.add_argument("--batch", default="", help="pda's --batch (empty: its default)")
    ap.add_argument("--peer-batch", type=int, default=32)
    a = ap.parse_args()
    parts, execs = a.parts.split(), a.execs.split()
    if not execs or any(e.split(":")[0] not in ("full", "incremental") or e.count(":") > 1 for e in execs):
        raise SystemExit(f"bench-pda: EXECS: '{a.execs}' (full, incremental, each optionally :PRECISION)")

    def exec_flags(e):  # "incremental:winograd" → --exec incremental --precision winograd
        mode, _, precision = e.partition(":")
        return ["--exec", mode] + (["--precision", precision] if precision else [])
    if any(p not in ("throughput", "occlusion", "conditional") for p in parts):
        raise SystemExit(f"bench-pda: PARTS: '{a.parts}' (throughput, occlusion, conditional)")
    if a.sampler not in ("occlusion", "conditional"):
        raise SystemExit(f"bench-pda: SAMPLER: '{a.sampler}' (occlusion, conditional)")
    occ_strides = parse_strides(a.occ_strides, "OCC_STRIDES")
    cond_strides = parse_strides(a.cond_strides, "COND_STRIDES")
    models = [m.split("=", 1) for m in a.models]
    peer_script = os.path.join(HERE, "pda_ort.py" if a.peer == "ort" else "pda_torch.py")
    peer_name = "onnxruntime" if a.peer == "ort" else "PyTorch"
    os.makedirs(a.work, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    wall = [sys.executable, os.path.join(HERE, "wall.py")]
    t = str(a.threads)

    # Per model: preset flags, explained classes, and (when needed) one sampler file shared by both.
    info = {}
    for name, path in models:
        side = os.path.splitext(path)[0] + ".json"
        preset = [] if os.path.exists(side) else ["--preset", "torchvision"]
        pred = run_json([a.pda, "predict", path, a.image, "--top", "3", "--json", "--threads", t] + preset)
        classes = [c["class"] for c in pred["results"][0]["top"]]
        pdas = None
        if "conditional" in parts or ("throughput" in parts and a.sampler == "conditional"):
            pdas = os.path.join(a.work, f"{name}.pdas")
            cmd = [a.pda, "fit-sampler", path, "--images", a.photos, "--k", str(a.k), "--pad", str(a.pad),
                   "-o", pdas, "--threads", t] + preset
            print("$ " + " ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True, stdout=sys.stderr)
        info[name] = {"path": path, "preset": preset, "classes": classes, "pdas": pdas}

    cases, meta = [], []
    names = [f"pda {e}" for e in execs] + [peer_name]
    for name, m in info.items():
        base = ["--k", str(a.k), "--threads", t] + m["preset"]
        cond = ["--pad", str(a.pad), "--samples", str(a.samples), "--sampler-file", m["pdas"] or ""]
        pda_batch = ["--batch", a.batch] if a.batch else []
        if "throughput" in parts:
            n = a.windows_vgg16 if name == "vgg16" else a.windows
            flags = base + ["--sampler", a.sampler, "--windows", str(n), "--repeat", str(a.repeats)]
            flags += cond if a.sampler == "conditional" else []
            cmds = [[a.pda, "bench", m["path"], a.image] + flags + exec_flags(e) + ["--json"] + pda_batch
                    for e in execs]
            cmds.append([a.peer_python, peer_script, m["path"], a.image] + flags + ["--batch", str(a.peer_batch)])
            cases.append((f"{name} throughput", cmds, [lambda d: d["images_per_s"]] * len(cmds), names))
            meta.append({"kind": "throughput", "name": name, "windows": n})
        for sampler in [s for s in ("occlusion", "conditional") if s in parts]:
            strides = occ_strides if sampler == "occlusion" else cond_strides
            if name not in strides:
                raise SystemExit(f"bench-pda: no {sampler} stride for {name} (OCC_STRIDES / COND_STRIDES)")
            flags = base + ["--sampler", sampler, "--stride", str(strides[name]),
                            "--classes", ",".join(map(str, m["classes"]))]
            flags += cond if sampler == "conditional" else []
            dirs = [os.path.join(a.work, f"{name}-{sampler}-{e.replace(':', '-')}") for e in execs]
            peer_dir = os.path.join(a.work, f"{name}-{sampler}-peer")
            cmds = [wall + [a.pda, "explain", m["path"], a.image] + flags + exec_flags(e) + ["--out", d, "--quiet",
                    "--overwrite"] + pda_batch for e, d in zip(execs, dirs)]  # redone each round, never skipped
            cmds.append(wall + [a.peer_python, peer_script, m["path"], a.image] + flags +
                        ["--batch", str(a.peer_batch), "--warmup", "0", "--repeat", "1", "--save", peer_dir])
            stem = os.path.splitext(os.path.basename(a.image))[0]
            cases.append((f"{name} {sampler} job", cmds, [lambda d: d["seconds"]] * len(cmds), names))
            meta.append({"kind": sampler, "name": name, "stride": strides[name], "classes": m["classes"],
                         "dirs": [os.path.join(d, stem) for d in dirs], "peer_dir": peer_dir})
    for case in cases:
        for cmd in case[1]:
            print("$ " + " ".join(cmd), file=sys.stderr)

    # Throughput cases first, then the jobs (fewer rounds): one interleave.measure per group.
    tp = [i for i, m in enumerate(meta) if m["kind"] == "throughput"]
    jobs = [i for i, m in enumerate(meta) if m["kind"] != "throughput"]
    res = [None] * len(cases)
    for group, rounds in ((tp, a.rounds), (jobs, a.job_rounds)):
        got = interleave.measure([cases[i] for i in group], rounds=rounds, max_other=a.max_other)
        for i, r in zip(group, got):
            res[i] = r

    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")),
               platform.machine())
    git = lambda *c: subprocess.run(["git", *c], capture_output=True, text=True).stdout.strip()  # noqa: E731
    dirty = " (+ uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    module = "onnxruntime" if a.peer == "ort" else "torch"
    ver = subprocess.run([a.peer_python, "-c", f"import {module}; print({module}.__version__)"], capture_output=True,
                         text=True).stdout.strip()
    date = subprocess.run(["date", "-u", "+%F"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {cpu}, {os.cpu_count()} cores, threads {a.threads}, {date}, "
          f"commit {git('rev-parse', '--short', 'HEAD') or 'unknown'}{dirty}")
    print(f"pda ({', '.join(execs)} execution) vs {peer_name} {ver} ({os.path.basename(peer_script)}, batch "
          f"{a.peer_batch}, full execution); k {a.k}; image {a.image}; ratio = pda speed / peer speed")
    head = lambda: "".join(f" pda {e} |" for e in execs) + f" {peer_name} |" + "".join(  # noqa: E731
        f" {e} / peer |" for e in execs)
    if tp:
        print(f"\nThroughput: resampled images/s on the first windows (stride 1), sampler {a.sampler}"
              + (f", pad {a.pad}, {a.samples} samples/window" if a.sampler == "conditional" else "")
              + f"; median of {a.rounds} interleaved rounds, each the median of {a.repeats} runs after a warm-up")
        print("| model | windows |" + head() + " others' CPU (max) |")
        print("|---|---:|" + "---:|" * (2 * len(execs) + 2))
        for i in tp:
            v = res[i]["medians"]
            print(f"| {meta[i]['name']} | {meta[i]['windows']} |" + "".join(f" {x:.1f} |" for x in v)
                  + "".join(f" {x / v[-1]:.2f}× |" for x in v[:-1]) + f" {res[i]['max_other']:.0%} |")
    if jobs:
        print(f"\nWhole jobs: seconds of the whole process (load, setup, all windows at the stride, maps "
              f"written), median of {a.job_rounds} interleaved round(s); classes: pda's top 3; conditional: "
              f"pad {a.pad}, {a.samples} samples/window, one `pda fit-sampler` file per model shared by both; "
              f"maps: max |pda − peer| / max |peer| and Pearson r, worst class and worst pda mode "
              f"(conditional: different random streams, r only)")
        print("| model | sampler | stride | windows |" + head() + " maps: max rel diff | maps: r | others' CPU (max) |")
        print("|---|---|---:|---:|" + "---:|" * (2 * len(execs) + 1) + "---:|---:|---:|")
        for i in jobs:
            m, v = meta[i], res[i]["medians"]
            try:
                agree = [agreement(d, m["peer_dir"], m["classes"]) for d in m["dirs"]]
                rel = max(g[0] for g in agree)
                r = min(g[1] for g in agree)
                rel_s = f"{rel:.1e}" if m["kind"] == "occlusion" else "–"
                r_s = f"{r:.9f}" if m["kind"] == "occlusion" else f"{r:.3f}"
                n = len(pda_common.windows(agree[0][2][1], agree[0][2][2], a.k, m["stride"]))
            except (OSError, KeyError, ValueError) as e:
                rel_s, r_s, n = "?", f"? ({e})", "?"
            print(f"| {m['name']} | {m['kind']} | {m['stride']} | {n} |" + "".join(f" {s:.1f} s |" for s in v)
                  + "".join(f" {v[-1] / s:.2f}× |" for s in v[:-1])
                  + f" {rel_s} | {r_s} | {res[i]['max_other']:.0%} |")


if __name__ == "__main__":
    main()
