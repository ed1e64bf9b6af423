#!/usr/bin/env bash
# CPU forward throughput, pda vs onnxruntime (CPU execution provider), on the same ONNX files, the
# same batch sizes and thread count, interleaved (pda, onnxruntime, pda, ...), with the other
# processes' CPU share measured during each run and disturbed runs redone (bench/peers/interleave.py).
# Models: the shared SqueezeNet 1.1 files (Caffe and torchvision) and torchvision's AlexNet and VGG16
# exported with random weights (bench/peers/export_torchvision.py, kept in BUILD/bench-models).
# PRECISION=bf16: pda's bf16 convolutions (forward_bf16/, --precision bf16; CPUs with AVX-512-BF16 or
# AMX) against OpenVINO's bf16 (bench/peers/ov_forward.py) and onnxruntime's fp32; PEERS=openvino
# adds OpenVINO to an fp32 run (fp32 explicitly). OpenVINO is installed into the peers' venv then.
# PRECISION=winograd: pda's Winograd convolutions (forward_winograd/, --precision winograd) against the
# peers' fp32.
# Usage: scripts/bench-forward.sh [BUILD]
# env: THREADS (default all cores), BATCHES ("1 16 64"), ROUNDS (3), MIN_TIME (s per run, 1),
#      NETS ("squeezenet1.1-caffe squeezenet1.1-torchvision alexnet vgg16"), MAX_OTHER (0.10),
#      PRECISION (fp32 | bf16 | winograd), PEERS ("onnxruntime", or "onnxruntime openvino")
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${THREADS:-$(nproc)}
batches=${BATCHES:-1 16 64}
nets=${NETS:-squeezenet1.1-caffe squeezenet1.1-torchvision alexnet vgg16}
[ -x "$build/bench/pda_bench" ] || { echo "bench-forward: $build/bench/pda_bench not built (make build)" >&2; exit 2; }
precision=${PRECISION:-fp32}
peers=${PEERS:-onnxruntime}
case $precision in
    fp32 | winograd) ;;
    bf16) peers="onnxruntime openvino" ;;
    *) echo "bench-forward: PRECISION must be fp32, bf16 or winograd" >&2; exit 2 ;;
esac
case " $peers " in *" openvino "*) export PEERS_OPENVINO=1 ;; esac
peer_py=$(bench/peers/setup.sh "$build/peers-venv")
models=()
for net in $nets; do
    case $net in
        squeezenet1.1-*) path=../shared/models/$net.onnx ;;
        alexnet | vgg16)
            /usr/bin/python3 bench/peers/export_torchvision.py "$build/bench-models" "$net"
            path=$build/bench-models/$net.onnx ;;
        *) echo "bench-forward: NETS: unknown network '$net'" >&2; exit 2 ;;
    esac
    [ -f "$path" ] || { echo "bench-forward: $path not found" >&2; exit 2; }
    models+=("$net=$path")
done
exec /usr/bin/python3 - "$build" "$peer_py" "$threads" "${ROUNDS:-3}" "${MIN_TIME:-1}" "${MAX_OTHER:-0.10}" \
    "$batches" "$precision" "$peers" "${models[@]}" <<'PY'
import json, os, platform, subprocess, sys
sys.path.insert(0, "bench/peers")
import interleave

build, peer_py, threads, rounds, min_time, max_other, batches, precision, peers = sys.argv[1:10]
models = [m.split("=", 1) for m in sys.argv[10:]]
with_ov = "openvino" in peers.split()
os.environ["OMP_NUM_THREADS"] = threads
os.environ.setdefault("GOMP_SPINCOUNT", "3000")  # pda_bench waits as the pda program does (cli/main.cc)
os.environ["PDA_BENCH_ONNX"] = ",".join(f"x-{n}={p}" for n, p in models)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"machine: {cpu}, {os.cpu_count()} cores, threads {threads}, "
      f"{subprocess.run(['date', '-u', '+%F'], capture_output=True, text=True).stdout.strip()}, commit {commit}")

def pda_value(d):
    return d["benchmarks"][0]["items_per_second"]

family = {"bf16": "forward_bf16", "winograd": "forward_winograd"}.get(precision, "forward")
peer_precision = "bf16" if precision == "bf16" else "fp32"
cases = []
for name, path in models:
    for b in batches.split():
        pda = [f"{build}/bench/pda_bench", f"--benchmark_filter=^{family}/x-{name}/{b}(/|$)",
               f"--benchmark_min_time={min_time}", "--benchmark_format=json"]
        ort = [peer_py, "bench/peers/ort_forward.py", path, "--batch", b, "--threads", threads,
               "--min-time", min_time]
        cmds, values, names = [pda, ort], [pda_value, lambda d: d["images_per_s"]], ["pda", "onnxruntime"]
        if with_ov:
            cmds.append([peer_py, "bench/peers/ov_forward.py", path, "--batch", b, "--threads", threads,
                         "--min-time", min_time, "--precision", peer_precision])
            values.append(lambda d: d["images_per_s"])
            names.append("openvino")
        cases.append((f"{name} batch {b}", cmds, values, names))
res = interleave.measure(cases, rounds=int(rounds), max_other=float(max_other))
ver = subprocess.run([peer_py, "-c", "import onnxruntime; print(onnxruntime.__version__)"], capture_output=True,
                     text=True).stdout.strip()
head = f"pda {precision} vs onnxruntime {ver} (CPU EP, fp32)"
if with_ov:
    ov_ver = subprocess.run([peer_py, "-c", "import openvino; print(openvino.__version__.split('-')[0])"],
                            capture_output=True, text=True).stdout.strip()
    head += f" and OpenVINO {ov_ver} (CPU, {peer_precision})"
print(f"\nforward images/s, median of {rounds} interleaved runs; {head}, {threads} threads")
if with_ov:
    print("| model | batch | pda | onnxruntime | openvino | pda / onnxruntime | pda / openvino | others' CPU (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
else:
    print("| model | batch | pda | onnxruntime | pda / onnxruntime | others' CPU (max) |")
    print("|---|---:|---:|---:|---:|---:|")
for r in res:
    name, b = r["label"].rsplit(" batch ", 1)
    m = r["medians"]
    if with_ov:
        print(f"| {name} | {b} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | {m[0] / m[1]:.2f}× | {m[0] / m[2]:.2f}× "
              f"| {r['max_other']:.0%} |")
    else:
        print(f"| {name} | {b} | {m[0]:.2f} | {m[1]:.2f} | {m[0] / m[1]:.2f}× | {r['max_other']:.0%} |")
PY
