#!/usr/bin/env bash
# PDA throughput when another process takes one core: pda (incremental and full) and the onnxruntime
# batched PDA (bench/peers/pda_ort.py) on the same ONNX file, sampler file and windows, each measured on
# a quiet machine and with a busy loop (one thread) running beside it, alternately (quiet, loaded,
# quiet, ...). Prints each program's images/s both ways and how far it fell (quiet / loaded); quiet runs
# with more than MAX_OTHER of the CPU taken by others are redone (bench/peers/interleave.py).
# Usage: scripts/bench-contention.sh [BUILD]
# env: NETS ("squeezenet1.1"; also alexnet: torchvision's, exported), THREADS (all cores), WINDOWS (48),
#      ROUNDS (3), SAMPLES (10), K (10), PAD (2), MAX_OTHER (0.10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
[ -x "$pda" ] || { echo "bench-contention: $pda not built (make build)" >&2; exit 2; }
peer_py=$(bench/peers/setup.sh "$build/peers-venv")
threads=${THREADS:-$(nproc)}
work="$build/bench-contention"
mkdir -p "$work"
models=()
for net in ${NETS:-squeezenet1.1}; do
    case $net in
        squeezenet1.1) path=../shared/models/squeezenet1.1-caffe.onnx ;;
        alexnet)
            /usr/bin/python3 bench/peers/export_torchvision.py "$build/bench-models" alexnet
            path=$build/bench-models/alexnet.onnx ;;
        *) echo "bench-contention: NETS: unknown network '$net' (squeezenet1.1, alexnet)" >&2; exit 2 ;;
    esac
    [ -f "$path" ] || { echo "bench-contention: $path not found" >&2; exit 2; }
    "$pda" fit-sampler "$path" --images ../shared/images --k "${K:-10}" --pad "${PAD:-2}" -o "$work/$net.pdas" >&2
    models+=("$net=$path")
done
exec /usr/bin/python3 - "$pda" "$peer_py" "$threads" "${WINDOWS:-48}" "${ROUNDS:-3}" "${SAMPLES:-10}" \
    "${K:-10}" "${PAD:-2}" "${MAX_OTHER:-0.10}" "$work" "${models[@]}" <<'PY'
import os, statistics, subprocess, sys
sys.path.insert(0, "bench/peers")
import interleave

pda, peer_py, threads, windows, rounds, samples, k, pad, max_other, work = sys.argv[1:11]
models = [m.split("=", 1) for m in sys.argv[11:]]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
date = subprocess.run(["date", "-u", "+%F"], capture_output=True, text=True).stdout.strip()
print(f"machine: {cpu}, {os.cpu_count()} cores, threads {threads}, {date}, commit {commit}")
print(f"conditional sampler, k {k}, pad {pad}, {samples} samples/window, the first {windows} windows of "
      f"../shared/images/cat.png; median of {rounds} rounds, each quiet then with a busy loop on one core")
rate = lambda d: d["images_per_s"]
rows = []
for name, path in models:
    common = ["--sampler", "conditional", "--sampler-file", f"{work}/{name}.pdas", "--k", k, "--pad", pad,
              "--samples", samples, "--windows", windows, "--threads", threads]
    img = "../shared/images/cat.png"
    cmds = [[pda, "bench", path, img, *common, "--exec", "incremental", "--repeat", "3", "--json"],
            [pda, "bench", path, img, *common, "--exec", "full", "--repeat", "3", "--json"],
            [peer_py, "bench/peers/pda_ort.py", path, img, *common, "--repeat", "3"]]
    names = ["pda incremental", "pda full", "onnxruntime PDA"]
    quiet, loaded = [[] for _ in cmds], [[] for _ in cmds]
    for r in range(int(rounds)):
        q = interleave.measure([(f"{name} quiet", cmds, [rate] * 3, names)], rounds=1, max_other=float(max_other))
        busy = subprocess.Popen(["/usr/bin/python3", "-c", "while True: pass"])
        try:
            l = interleave.measure([(f"{name} loaded", cmds, [rate] * 3, names)], rounds=1, max_other=1.0)
        finally:
            busy.kill()
            busy.wait()
        for i in range(len(cmds)):
            quiet[i] += q[0]["runs"][i]
            loaded[i] += l[0]["runs"][i]
    for i, n in enumerate(names):
        a, b = statistics.median(quiet[i]), statistics.median(loaded[i])
        rows.append((name, n, a, b))
print("\n| model | program | quiet images/s | one core taken | fell by |")
print("|---|---|---:|---:|---:|")
for name, n, a, b in rows:
    print(f"| {name} | {n} | {a:.1f} | {b:.1f} | {a / b:.2f}× |")
PY
