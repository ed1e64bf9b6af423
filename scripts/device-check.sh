#!/usr/bin/env bash
# ONE command for the lent GPU machine (../shared/docs/DEVICE.md, docs/gpu-machine.md): unpacks the
# build that scripts/device-build.sh carried in .carry/device/ (binaries, libraries, SqueezeNet and
# three photos under shared/), points the loader at it and at the NVIDIA wheels (cuDNN 9.19 before
# the system's 9.14), prints the card and library versions, then, each step under a timeout and all
# under one deadline (DEADLINE_S, default 440 s: the call's 8 minutes less unpacking and a margin):
#   1. the GPU tests (Cuda*, including the CudaExplain* suites), the CudaIncremental* suite apart;
#   2. forward images/s per network and batch in fp32, tf32, fp16 and bf16 (pda_bench);
#   3. seconds per image for the full PDA (k 10, S 10, stride 1, conditional sampler; `pda bench`
#      extrapolates its first --windows windows) for AlexNet, GoogLeNet, VGG16 (built in, random
#      weights) and SqueezeNet 1.1 (real, on a real photo), each with `--exec full` and `--exec
#      incremental` (the ratio is the incremental executor's speed-up), in fp32, then the
#      PyTorch-on-GPU baseline (bench/peers/pda_torch_gpu.py: the same networks, forward and PDA),
#      then fp16 and bf16 (full and incremental);
# and prints one table last. Under $OUT: results.json, tests.json, tests-incremental.json, steps.txt,
# logs/{tests,bench,pda,torch}.log (8 files). A step that does not fit before the deadline is skipped and says so.
#   scripts/device-check.sh [--dry-run|--quick]
#   --dry-run: here, without a GPU: unpacking, the skips, and the table from a tiny CPU `pda bench`;
#   --quick: the tests, AlexNet forward and AlexNet PDA (fp32, fp16) with its PyTorch baseline.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
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
    local t
    t=$(date +%s)
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
# shellcheck disable=SC2012  # a listing for the log
ls "$SHARED"/models "$SHARED"/images 2>/dev/null | tr '\n' ' '
echo

# ---- 1. tests -------------------------------------------------------------------------------------
TAIL=6 step tests tests 130 "$BIN/pda_tests" --gtest_filter='Cuda*:-CudaIncremental*' \
    --gtest_output="json:$OUTDIR/tests.json"
# The incremental executor's suite apart, so that a timeout there keeps the results above.
TAIL=6 step tests_incremental tests 100 "$BIN/pda_tests" --gtest_filter='CudaIncremental*' \
    --gtest_output="json:$OUTDIR/tests-incremental.json"
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
# Windows per timed run: about half a second of GPU work each in FP32 full execution (pda bench:
# warm-up + 2 runs, each compiling). Halved from the full-only table's, so that full and incremental
# together take about the loop time full alone took (compiles are not halved); incremental runs take
# the same windows (less work). Not yet timed on a GPU: the deadline skips what does not fit.
declare -A WINDOWS=([alexnet]=1000 [googlenet]=500 [vgg16]=100 [squeezenet]=1000)
declare -A PDA_LIMIT=([alexnet]=35 [googlenet]=40 [vgg16]=50 [squeezenet]=35)
# The PyTorch baseline keeps its windows (its own time limit bounds it).
declare -A TORCH_WINDOWS=([alexnet]=2000 [googlenet]=1000 [vgg16]=200 [squeezenet]=2000)
PDA_NETS=(alexnet googlenet vgg16 squeezenet)
((QUICK)) && PDA_NETS=(alexnet)
DEVICE=cuda
((DRY)) && DEVICE=cpu PDA_NETS=(squeezenet) WINDOWS[squeezenet]=2
# pda_run NET PRECISION EXEC: one `pda bench ... --json` into $WORK/json/pda_NET_PRECISION_EXEC.json.
pda_run() {
    local net=$1 p=$2 exec=$3 model=$1 extra=()
    if [[ $net == squeezenet ]]; then
        model=$SHARED/models/squeezenet1.1-caffe.onnx
        extra=("$SHARED/images/cat.png" --sample-images "$SHARED/images")
    fi
    step "pda_${net}_${p}_$exec" pda "${PDA_LIMIT[$net]}" bash -c '"$@" > '"$WORK/json/pda_${net}_${p}_$exec.json" _ \
        "$BIN/pda" bench "$model" "${extra[@]}" --device "$DEVICE" --precision "$p" --exec "$exec" \
        --windows "${WINDOWS[$net]}" --samples 10 --k 10 --stride 1 --sampler conditional --repeat 2 --json
}
# pda_row NET PRECISION: both executions, one after the other (a row of the table).
pda_row() {
    pda_run "$1" "$2" full
    pda_run "$1" "$2" incremental
}
for net in "${PDA_NETS[@]}"; do pda_row "$net" fp32; done

# PyTorch on the same GPU: the same networks, forward and PDA (fp32, fp16, bf16).
if ((!DRY)) && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    spec=""
    for net in "${PDA_NETS[@]}"; do spec="$spec,$net=${TORCH_WINDOWS[$net]}"; done
    fwd=--forward
    ((QUICK)) && fwd=""
    left=$((DEADLINE - $(date +%s) - 150)) # leaves time for pda's fp16 / bf16 rows (full and incremental)
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
t = [x for x in (load(os.path.join(out, n)) for n in ("tests.json", "tests-incremental.json")) if x]
if t:
    cases = [c for x in t for s in x["testsuites"] for c in s["testsuite"]]
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
GOAL = {"alexnet": 15.0, "googlenet": 30.0, "vgg16": 300.0}  # issue 4: FP32 full recomputation, s/image, H100
GOAL_INC = {"alexnet": 0.6, "googlenet": 3.0, "vgg16": 4.0}  # issue 5: reduced precision, incremental, s/image
EXECS = ("full", "incremental")
for net in ("alexnet", "googlenet", "vgg16", "squeezenet"):
    for p in ("fp32", "fp16", "bf16"):
        paths = {e: os.path.join(js, f"pda_{net}_{p}_{e}.json") for e in EXECS}
        tr = tp.get((net, p), {})
        if not any(os.path.exists(x) for x in paths.values()) and not tr:
            continue
        row = {"net": net, "precision": p, "torch_s_per_image": tr.get("s_per_image"), "torch_error": tr.get("error")}
        errors = []
        for e in EXECS:
            d = load(paths[e])
            if d:
                row[e] = {k: d.get(k) for k in ("device", "batch", "windows", "images_per_s", "seconds_compile",
                                                "execution")}
                row[e]["s_per_image"] = d.get("seconds_per_image_stride1")
                row["device"] = d.get("device")
                if d.get("precision") != p:
                    errors.append(f"{e}: ran {d.get('precision')}, asked {p}")
                if d.get("execution") != e:
                    errors.append(f"{e}: ran {d.get('execution')}")
            else:
                errors.append(f"{e} n/a")
        s_full = row.get("full", {}).get("s_per_image")
        s_inc = row.get("incremental", {}).get("s_per_image")
        row["s_per_image_full"], row["s_per_image_incremental"] = s_full, s_inc
        # The default execution (incremental) when it ran, for the goals and the peer ratio.
        row["s_per_image"] = s_inc or s_full
        if errors:
            row["error"] = "; ".join(errors) + (" (logs/pda.log)" if any("n/a" in x for x in errors) else "")
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
print(f"\npda     {'network':10} {'prec':5} {'full s/img':>10} {'incr s/img':>10} {'full/incr':>9} "
      f"{'torch s/img':>11} {'ratio':>6}  goals (issue 4: full; issue 5: incremental)")
fp32 = {x["net"]: x.get("s_per_image_full") for x in r["pda"] if x["precision"] == "fp32"}
for x in r["pda"]:
    s, t = x.get("s_per_image"), x.get("torch_s_per_image")
    sf, si = x.get("s_per_image_full"), x.get("s_per_image_incremental")
    goal, goal_inc = GOAL.get(x["net"]), GOAL_INC.get(x["net"])
    notes = []
    if goal and sf:  # issue 4: full recomputation, fp32 ≤ goal, reduced precision ≥ 3× faster than that
        g = goal if x["precision"] == "fp32" else goal / 3
        notes.append(f"full <= {g:.1f} s: {'met' if sf <= g else 'NOT met'}")
        if x["precision"] != "fp32" and fp32.get(x["net"]):
            sp = fp32[x["net"]] / sf
            notes.append(f"{sp:.1f}x fp32 full ({'>= 3x' if sp >= 3 else '< 3x'})")
    if goal_inc and si and x["precision"] != "fp32":  # issue 5: incremental at reduced precision
        notes.append(f"incr <= {goal_inc:.1f} s: {'met' if si <= goal_inc else 'NOT met'}")
    note = "; ".join(notes)
    if x.get("device") and not str(x["device"]).startswith("cuda"):
        note += f" [device {x['device']}]"
    if "error" in x:
        note = (note + "; " if note else "") + x["error"][:70]
    print(f"pda     {x['net']:10} {x['precision']:5} {f(sf, '%.2f'):>10} {f(si, '%.2f'):>10} "
          f"{f(sf / si if sf and si else 0, '%.2f'):>9} {f(t, '%.2f'):>11} {f(t / s if s and t else 0, '%.2f'):>6}  "
          f"{note}")
print("ratio: torch / pda (forward: pda img/s / torch img/s); >1 means pda is faster. pda's ratio uses")
print("incremental execution (full where it did not run); full/incr: the incremental executor's speed-up")
print("torch PDA sampler:", torch.get("sampler", "-"), "| torch", torch.get("torch", "-"))
print("logs, results.json:", out)
PYEOF
rm -rf "$WORK"
