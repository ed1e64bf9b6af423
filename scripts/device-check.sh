#!/usr/bin/env bash
# ONE command for the lent GPU machine (../shared/docs/DEVICE.md, docs/gpu-machine.md): unpacks the
# build that scripts/device-build.sh carried in .carry/device/ (binaries, libraries, SqueezeNet and
# three photos under shared/), points the loader at it and at the NVIDIA wheels (cuDNN 9.19 before
# the system's 9.14), prints the card and library versions, then, each step under a timeout and all
# under one deadline (DEADLINE_S, default 440 s: the call's 8 minutes less unpacking and a margin):
#   1. the GPU tests (Cuda*, including the CudaExplain* suites);
#   2. forward images/s per network and batch in fp32, tf32, fp16 and bf16 (pda_bench);
#   3. seconds per image for the full PDA (k 10, S 10, stride 1, conditional sampler; `pda bench`
#      extrapolates its first --windows windows) for AlexNet, GoogLeNet, VGG16 (built in, random
#      weights) and SqueezeNet 1.1 (real, on a real photo) in fp32, then the PyTorch-on-GPU baseline
#      (bench/peers/pda_torch_gpu.py: the same networks, forward and PDA), then fp16 and bf16;
# and prints one table last. Under $OUT: results.json, tests.json, steps.txt, logs/{tests,bench,pda,
# torch}.log (7 files). A step that does not fit before the deadline is skipped and says so.
#   scripts/device-check.sh [--dry-run|--quick]
#   --dry-run: here, without a GPU: unpacking, the skips, and the table from a tiny CPU `pda bench`;
#   --quick: the tests, AlexNet forward and AlexNet PDA (fp32, fp16) with its PyTorch baseline.
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
mkdir -p "$WORK/json"
T0=$(date +%s)
DEADLINE=$((T0 + ${DEADLINE_S:-440}))
STEPS=()

# step NAME LOG SECONDS CMD...: runs CMD under min(SECONDS, time to the deadline), appending its
# output to logs/LOG.log (the last TAIL lines shown here); skipped when under 15 s remain.
step() {
    local name=$1 log=$OUTDIR/logs/$2.log limit=$3
    shift 3
    local t=$(date +%s)
    local left=$((DEADLINE - t))
    ((left < limit)) && limit=$left
    if ((limit < 15)); then
        echo "=== $name: skipped (deadline)"
        STEPS+=("$name skipped")
        return 124
    fi
    echo "=== $name (timeout ${limit}s)"
    echo "=== $name: $*" >>"$log"
    timeout --kill-after=5 "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    ((${TAIL:-0} > 0)) && tail -n "$TAIL" "$log"
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
SHARED=$CARRY/shared
export PDA_SHARED_DIR=$SHARED # the tests read the real models from here (tests/test_util.h)

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
ls "$SHARED"/models "$SHARED"/images 2>/dev/null | tr '\n' ' '
echo

# ---- 1. tests -------------------------------------------------------------------------------------
TAIL=6 step tests tests 150 "$BIN/pda_tests" --gtest_filter='Cuda*' --gtest_output="json:$OUTDIR/tests.json"
grep -E '^\[ (precision|batch|fitting)|^\[  FAILED' "$OUTDIR/logs/tests.log" | sort -u | head -30

# ---- 2. forward images/s --------------------------------------------------------------------------
declare -A FWD_LIMIT=([alexnet]=70 [googlenet]=60 [vgg16]=80)
NETS=(alexnet googlenet vgg16)
((QUICK)) && NETS=(alexnet)
for net in "${NETS[@]}"; do
    step "forward_$net" bench "${FWD_LIMIT[$net]}" "$BIN/pda_bench" --benchmark_filter="gpu_forward/$net/" \
        --benchmark_out="$WORK/json/forward_$net.json" --benchmark_out_format=json
done

# ---- 3. PDA seconds per image ---------------------------------------------------------------------
# Windows per timed run: about a second of GPU work each in FP32 (pda bench: warm-up + 2 runs).
declare -A WINDOWS=([alexnet]=2000 [googlenet]=1000 [vgg16]=200 [squeezenet]=2000)
declare -A PDA_LIMIT=([alexnet]=45 [googlenet]=50 [vgg16]=70 [squeezenet]=45)
PDA_NETS=(alexnet googlenet vgg16 squeezenet)
((QUICK)) && PDA_NETS=(alexnet)
DEVICE=cuda
((DRY)) && DEVICE=cpu PDA_NETS=(squeezenet) WINDOWS[squeezenet]=2
# pda_row NET PRECISION: one `pda bench ... --json` into $WORK/json/pda_NET_PRECISION.json.
pda_row() {
    local net=$1 p=$2 model=$1 extra=()
    if [[ $net == squeezenet ]]; then
        model=$SHARED/models/squeezenet1.1-caffe.onnx
        extra=("$SHARED/images/cat.png" --sample-images "$SHARED/images")
    fi
    step "pda_${net}_$p" pda "${PDA_LIMIT[$net]}" bash -c '"$@" > '"$WORK/json/pda_${net}_$p.json" _ \
        "$BIN/pda" bench "$model" "${extra[@]}" --device "$DEVICE" --precision "$p" --windows "${WINDOWS[$net]}" \
        --samples 10 --k 10 --stride 1 --sampler conditional --repeat 2 --json
}
for net in "${PDA_NETS[@]}"; do pda_row "$net" fp32; done

# PyTorch on the same GPU: the same networks, forward and PDA (fp32, fp16, bf16).
if ((!DRY)) && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    spec=""
    for net in "${PDA_NETS[@]}"; do spec="$spec,$net=${WINDOWS[$net]}"; done
    fwd=--forward
    ((QUICK)) && fwd=""
    left=$((DEADLINE - $(date +%s) - 100)) # leaves time for pda's fp16 / bf16 rows
    ((left > 120)) && left=120
    step torch torch $((left + 10)) "$PY" bench/peers/pda_torch_gpu.py --out "$WORK/json/torch.json" $fwd \
        --pda "${spec#,}" --precisions fp32,fp16,bf16 --time-limit $((left - 15))
else
    echo "=== torch: skipped (no CUDA PyTorch here)"
    STEPS+=("torch skipped")
fi

REDUCED=(fp16 bf16)
((QUICK)) && REDUCED=(fp16)
((DRY)) && REDUCED=()
for p in "${REDUCED[@]}"; do
    for net in "${PDA_NETS[@]}"; do pda_row "$net" "$p"; done
done

# ---- one table -------------------------------------------------------------------------------------
STEPS+=("total $(($(date +%s) - T0))s")
printf '%s\n' "${STEPS[@]}" >"$OUTDIR/steps.txt"
"$PY" - "$OUTDIR" "$WORK/json" <<'PYEOF'
import glob, json, os, sys
out, js = sys.argv[1], sys.argv[2]
def load(path):
    try:
        return json.load(open(path))
    except Exception:
        return None
r = {"steps": open(os.path.join(out, "steps.txt")).read().split("\n")[:-1], "tests": {}, "forward": [], "pda": []}
t = load(os.path.join(out, "tests.json"))
if t:
    cases = [c for s in t["testsuites"] for c in s["testsuite"]]
    r["tests"] = {"run": len(cases),
                  "failed": [c["classname"] + "." + c["name"] for c in cases if c.get("failures")],
                  "skipped": [c["classname"] + "." + c["name"] for c in cases if c.get("result") == "SKIPPED"]}
else:
    r["tests"] = {"error": "no tests.json"}
torch = load(os.path.join(js, "torch.json")) or {}
r["torch"] = torch
tf = {(x["net"], x["batch"], x["precision"]): x["images_per_s"] for x in torch.get("forward", [])}
tp = {(x["net"], x["precision"]): x for x in torch.get("pda", [])}
for f in sorted(glob.glob(os.path.join(js, "forward_*.json"))):
    for b in (load(f) or {}).get("benchmarks", []):
        parts = b["name"].split("/")  # gpu_forward/net/precision/batch/...
        row = {"net": parts[1], "precision": parts[2], "batch": int(parts[3])}
        if b.get("error_occurred"):
            row["error"] = b.get("error_message", "")
        else:
            row["images_per_s"] = b.get("images_per_s")
            row["median_ms"] = b.get("median_ms")
            row["workspace_MiB"] = b.get("workspace_MiB")
        row["torch_images_per_s"] = tf.get((row["net"], row["batch"], row["precision"]))
        r["forward"].append(row)
GOAL = {"alexnet": 15.0, "googlenet": 30.0, "vgg16": 300.0}  # issue 4: FP32 s/image on an H100
for net in ("alexnet", "googlenet", "vgg16", "squeezenet"):
    for p in ("fp32", "fp16", "bf16"):
        path = os.path.join(js, f"pda_{net}_{p}.json")
        tr = tp.get((net, p), {})
        if not os.path.exists(path) and not tr:
            continue
        d = load(path)
        row = {"net": net, "precision": p, "torch_s_per_image": tr.get("s_per_image"), "torch_error": tr.get("error")}
        if d:
            row.update({k: d.get(k) for k in ("device", "batch", "windows", "images_per_s", "seconds_compile")})
            row["s_per_image"] = d.get("seconds_per_image_stride1")
            if d.get("precision") != p:
                row["error"] = f"ran {d.get('precision')}, asked {p}"
        else:
            row["error"] = "n/a (pda bench failed or was skipped: logs/pda.log)"
        r["pda"].append(row)
json.dump(r, open(os.path.join(out, "results.json"), "w"), indent=1)

def f(v, fmt):
    return fmt % v if isinstance(v, (int, float)) and v else "-"
print("\n==================== pda device check ====================")
print("  ".join(r["steps"]))
ts = r["tests"]
if "run" in ts:
    print(f"tests: {ts['run']} run, {len(ts['failed'])} failed, {len(ts['skipped'])} skipped")
    for n in ts["failed"]:
        print("  FAILED", n)
else:
    print("tests:", ts)
print(f"\nforward {'network':10} {'prec':5} {'batch':>6} {'pda img/s':>10} {'torch img/s':>11} {'ratio':>6}")
for x in r["forward"]:
    if "error" in x:
        print(f"forward {x['net']:10} {x['precision']:5} {x['batch']:>6}  {x['error'][:70]}")
        continue
    t, ips = x["torch_images_per_s"], x["images_per_s"]
    print(f"forward {x['net']:10} {x['precision']:5} {x['batch']:>6} {f(ips, '%.0f'):>10} {f(t, '%.0f'):>11} "
          f"{f(ips / t if t and ips else 0, '%.2f'):>6}")
print(f"\npda     {'network':10} {'prec':5} {'pda s/img':>10} {'torch s/img':>11} {'ratio':>6}  goal (issue 4)")
fp32 = {x["net"]: x.get("s_per_image") for x in r["pda"] if x["precision"] == "fp32"}
for x in r["pda"]:
    s, t = x.get("s_per_image"), x.get("torch_s_per_image")
    goal = GOAL.get(x["net"])
    note = ""
    if goal and s:
        g = goal if x["precision"] == "fp32" else goal / 3
        note = f"<= {g:.0f} s: {'met' if s <= g else 'NOT met'}"
        if x["precision"] != "fp32" and fp32.get(x["net"]):
            sp = fp32[x["net"]] / s
            note += f"; {sp:.1f}x fp32 ({'>= 3x' if sp >= 3 else '< 3x'})"
    if x.get("device") and not str(x["device"]).startswith("cuda"):
        note += f" [device {x['device']}]"
    if "error" in x:
        note = x["error"][:60]
    print(f"pda     {x['net']:10} {x['precision']:5} {f(s, '%.2f'):>10} {f(t, '%.2f'):>11} "
          f"{f(t / s if s and t else 0, '%.2f'):>6}  {note}")
print("ratio: torch / pda (forward: pda img/s / torch img/s); >1 means pda is faster")
print("torch PDA sampler:", torch.get("sampler", "-"), "| torch", torch.get("torch", "-"))
print("logs, results.json:", out)
PYEOF
rm -rf "$WORK"
