#!/usr/bin/env bash
# ONE command for the lent GPU machine (../shared/docs/DEVICE.md, docs/gpu-machine.md): unpacks the
# build that scripts/device-build.sh carried in .carry/device/, points the loader at it and at the
# NVIDIA wheels (cuDNN 9.19 before the system's 9.14), prints the card and library versions, runs
# the GPU tests (Cuda*) and the GPU benchmarks (+ a PyTorch baseline), writes logs and results.json
# under $OUT, and prints one short table last. Every step has a timeout; the whole stays < 8 min.
#   scripts/device-check.sh [--dry-run|--quick]   --dry-run: here, without a GPU (exercises unpack +
#   skips); --quick: the GPU tests and the AlexNet benchmark only (a first look in ~3 minutes).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CARRY=${CARRY:-$ROOT/.carry/device}
DRY=0 QUICK=0
[[ ${1:-} == --dry-run ]] && DRY=1
[[ ${1:-} == --quick ]] && QUICK=1
OUTDIR=${OUT:-$(mktemp -d /tmp/pda-device-out.XXXX)}
mkdir -p "$OUTDIR/logs"
WORK=$(mktemp -d /tmp/pda-device.XXXX)
T0=$(date +%s)
STEPS=()

# step NAME SECONDS CMD...: runs CMD with a timeout, its output to logs/NAME.log (and the tail here).
step() {
    local name=$1 limit=$2
    shift 2
    local t=$(date +%s)
    echo "=== $name (timeout ${limit}s)"
    timeout --kill-after=10 "$limit" "$@" >"$OUTDIR/logs/$name.log" 2>&1
    local rc=$?
    tail -n "${TAIL:-15}" "$OUTDIR/logs/$name.log"
    STEPS+=("$name rc=$rc $(($(date +%s) - t))s")
    return $rc
}

# ---- unpack ---------------------------------------------------------------------------------------
if [[ ! -x $CARRY/bin/pda_tests ]]; then
    echo "no carried build in $CARRY: run scripts/device-build.sh here first" >&2
    exit 3
fi
mkdir -p "$WORK/lib"
cp "$CARRY"/lib/* "$WORK/lib/" 2>/dev/null
for f in "$WORK"/lib/*.xz; do [[ -e $f ]] && xz -d "$f"; done
BIN=$CARRY/bin

# NVIDIA wheels first (cuDNN 9.19, cuBLAS 13, cuRAND), then the carried libraries.
PY=python3
[[ -x /opt/torch/.venv/bin/python3 ]] && PY=/opt/torch/.venv/bin/python3
WHEELS=""
for d in /opt/torch/.venv/lib/python3*/site-packages/nvidia/*/lib; do [[ -d $d ]] && WHEELS="$WHEELS:$d"; done
LIBPATH="${WHEELS#:}"
LIBPATH="${LIBPATH:+$LIBPATH:}$WORK/lib"
# Our libstdc++ only if the system's lacks the newest GLIBCXX version the binaries need.
need=$(cat "$CARRY/glibcxx-needed" 2>/dev/null)
sys_cxx=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
if [[ -n $need && -n $sys_cxx ]] && ! grep -qa "$need" "$sys_cxx"; then
    echo "system libstdc++ lacks $need: using the carried one"
    LIBPATH="$CARRY/lib-cxx:$LIBPATH"
fi
export LD_LIBRARY_PATH="$LIBPATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PATH="/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH"

echo "=== machine"
echo "commit $(cat "$CARRY/commit") built $(cat "$CARRY/built"); glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}'), needs $(cat "$CARRY/glibc-needed")"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
    nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader
elif ((DRY)); then
    echo "nvidia-smi: absent (dry run)"
fi
missing=$(ldd "$BIN/pda_tests" "$BIN/pda_bench" "$BIN/pda" | grep "not found" | sort -u)
[[ -n $missing ]] && echo "UNRESOLVED LIBRARIES:" && echo "$missing"
ldd "$BIN/pda_tests" | grep -E "cudnn|cublas|curand|dnnl|stdc\+\+" | sed 's/^/  /'
"$BIN/pda" --version
"$BIN/pda_tests" --gtest_filter=CudaDevice.Info 2>&1 | grep '\[ cuda' -A4

# ---- tests and benchmarks ---------------------------------------------------------------------------
TAIL=25 step tests 150 "$BIN/pda_tests" --gtest_filter='Cuda*' --gtest_output="json:$OUTDIR/tests.json"
grep -E '^\[ (match|oom|fitting|batch)' "$OUTDIR/logs/tests.log" >"$OUTDIR/matches.txt"
declare -A LIMIT=([alexnet]=60 [googlenet]=60 [vgg16]=110)
NETS=(alexnet googlenet vgg16)
((QUICK)) && NETS=(alexnet)
for net in "${NETS[@]}"; do
    TAIL=4 step "bench_$net" "${LIMIT[$net]}" "$BIN/pda_bench" --benchmark_filter="gpu_forward/$net/" \
        --benchmark_out="$OUTDIR/bench_$net.json" --benchmark_out_format=json
done

# PyTorch on the same GPU, same networks and batches, FP32 (TF32 off) and TF32: the baseline.
if ((!DRY && !QUICK)) && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    TAIL=3 step torch 70 "$PY" - "$OUTDIR/torch.json" <<'PYEOF'
import json, sys, torch, torchvision
res = []
nets = {"alexnet": ([64, 256, 1024], 227), "googlenet": ([64, 256], 224), "vgg16": ([32, 128], 224)}
for tf32 in (False, True):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    for name, (batches, size) in nets.items():
        kw = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        m = getattr(torchvision.models, name)(weights=None, **kw).cuda().eval()
        for b in batches:
            x = torch.randn(b, 3, size, size, device="cuda")
            with torch.no_grad():
                for _ in range(3): m(x)
                ts = []
                for _ in range(10):
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record(); m(x); e.record(); e.synchronize(); ts.append(s.elapsed_time(e))
            ts.sort()
            res.append({"net": name, "batch": b, "precision": "tf32" if tf32 else "fp32",
                        "images_per_s": b * 1e3 / ts[len(ts) // 2]})
            print(res[-1], flush=True)
        del m
        torch.cuda.empty_cache()
json.dump(res, open(sys.argv[1], "w"))
PYEOF
else
    echo "=== torch: skipped (no CUDA PyTorch here)"
fi

# ---- one table -------------------------------------------------------------------------------------
STEPS+=("total $(($(date +%s) - T0))s")
printf '%s\n' "${STEPS[@]}" >"$OUTDIR/steps.txt"
"$PY" - "$OUTDIR" <<'PYEOF'
import glob, json, os, sys
out = sys.argv[1]
r = {"steps": open(os.path.join(out, "steps.txt")).read().split("\n")[:-1], "tests": {}, "forward": []}
try:
    t = json.load(open(os.path.join(out, "tests.json")))
    cases = [c for s in t["testsuites"] for c in s["testsuite"]]
    r["tests"] = {"run": len(cases),
                  "failed": [c["classname"] + "." + c["name"] for c in cases if c.get("failures")],
                  "skipped": [c["classname"] + "." + c["name"] for c in cases if c.get("result") == "SKIPPED"]}
except Exception as e:
    r["tests"] = {"error": str(e)}
torch = {}
try:
    for x in json.load(open(os.path.join(out, "torch.json"))):
        torch[(x["net"], x["batch"], x["precision"])] = x["images_per_s"]
except Exception:
    pass
for f in sorted(glob.glob(os.path.join(out, "bench_*.json"))):
    for b in json.load(open(f)).get("benchmarks", []):
        parts = b["name"].split("/")  # gpu_forward/net/precision/batch/...
        row = {"net": parts[1], "precision": parts[2], "batch": int(parts[3])}
        if b.get("error_occurred"):
            row["error"] = b.get("error_message", "")
        else:
            row["images_per_s"] = b.get("images_per_s")
            row["median_ms"] = b.get("median_ms")
        row["torch_images_per_s"] = torch.get((row["net"], row["batch"], row["precision"]))
        r["forward"].append(row)
json.dump(r, open(os.path.join(out, "results.json"), "w"), indent=1)
print("\n==================== pda device check ====================")
print("  ".join(r["steps"]))
ts = r["tests"]
if "run" in ts:
    print(f"tests: {ts['run']} run, {len(ts['failed'])} failed, {len(ts['skipped'])} skipped")
    for n in ts["failed"]: print("  FAILED", n)
else:
    print("tests:", ts)
print(f"{'network':10} {'prec':5} {'batch':>6} {'pda img/s':>10} {'torch img/s':>11} {'ratio':>6}")
for x in r["forward"]:
    if "error" in x:
        print(f"{x['net']:10} {x['precision']:5} {x['batch']:>6}  {x['error'][:60]}")
        continue
    t, ips = x["torch_images_per_s"], x["images_per_s"]
    ts_ = "%.0f" % t if t else "-"
    ratio = "%.2f" % (ips / t) if t else "-"
    print(f"{x['net']:10} {x['precision']:5} {x['batch']:>6} {ips:>10.0f} {ts_:>11} {ratio:>6}")
print("logs, results.json:", out)
PYEOF
rm -rf "$WORK"
