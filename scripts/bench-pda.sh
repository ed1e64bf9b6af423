#!/usr/bin/env bash
# PDA throughput on the CPU, pda vs a straightforward batched PyTorch PDA (bench/peers/pda_torch.py),
# same machine, same run: SqueezeNet 1.1 (Caffe, ../shared), AlexNet and VGG16 (pda: built-in, random
# weights; peer: the BVLC AlexNet / VGG16 of tests/golden/make_golden.py, random weights: same cost,
# not same values), the same photo, the same fitted conditional sampler file, k, pad, samples, first
# N windows and threads. Prints the command lines and a table with the ratio and the execution mode
# pda reports. Usage: scripts/bench-pda.sh [BUILD]
# env: NETS (default "squeezenet1.1 alexnet vgg16"), THREADS (default all cores), WINDOWS (32),
#      WINDOWS_VGG16 (8: a VGG16 forward is ~20× an AlexNet one), REPEATS (3), SAMPLES (10), K (10),
#      PAD (2), SAMPLER (conditional | marginal | occlusion), EXEC (pda's --exec: incremental | full;
#      default incremental), BATCH (pda's; default from memory),
#      PEER_BATCH (the peer's resampled images per forward, default 40: its best on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
threads=${THREADS:-$(nproc)}
nets=${NETS:-squeezenet1.1 alexnet vgg16}
windows=${WINDOWS:-32}
windows_vgg16=${WINDOWS_VGG16:-8}
exec_mode=${EXEC:-incremental}
repeats=${REPEATS:-3}
samples=${SAMPLES:-10}
k=${K:-10}
pad=${PAD:-2}
sampler=${SAMPLER:-conditional}
peer_batch=${PEER_BATCH:-40}
py=/usr/bin/python3
if [ -f ../shared/models/squeezenet1.1-caffe.onnx ]; then
    squeeze=../shared/models/squeezenet1.1-caffe.onnx
    photos=../shared/images
    image=../shared/images/cat.png
else
    scripts/fetch-models.sh models >&2
    squeeze=models/squeezenet1.1.onnx
    photos=models/images
    image=models/images/cat.jpg
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores, threads $threads," \
    "$(date -u +%F), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "PDA: sampler $sampler, k $k, pad $pad, $samples samples/window, the first windows (per row) of $image," \
    "median of $repeats runs after a warm-up; pda --exec $exec_mode"
common="--sampler $sampler --k $k --pad $pad --samples $samples --repeat $repeats --threads $threads"
[ "$sampler" = marginal ] && common="$common --sample-images $photos"
run() {  # echo the command line, then run it
    echo "\$ $*" >&2
    "$@"
}
rows=()
for net in $nets; do
    case $net in
        squeezenet1.1) model=$squeeze n=$windows ;;
        alexnet) model=alexnet n=$windows ;;
        vgg16) model=vgg16 n=$windows_vgg16 ;;
        *) echo "bench-pda.sh: NETS: unknown network '$net' (squeezenet1.1, alexnet, vgg16)" >&2; exit 2 ;;
    esac
    flags="$common --windows $n"
    if [ "$sampler" = conditional ]; then  # one fit per model, shared by both programs
        run "$pda" fit-sampler "$model" --images "$photos" --k "$k" --pad "$pad" -o "$out/$net.pdas" >&2
        flags="$flags --sampler-file $out/$net.pdas"
    fi
    # shellcheck disable=SC2086  # $flags is a list of flags
    run "$pda" bench "$model" "$image" $flags --exec "$exec_mode" ${BATCH:+--batch $BATCH} --json > "$out/$net.pda.json"
    # shellcheck disable=SC2086
    run $py bench/peers/pda_torch.py "$model" "$image" $flags --batch "$peer_batch" > "$out/$net.peer.json"
    rows+=("$net")
done
[ ${#rows[@]} -gt 0 ] || { echo "bench-pda.sh: NETS is empty" >&2; exit 2; }
$py - "$out" "${rows[@]}" <<'PY'
import json, sys
out, nets = sys.argv[1], sys.argv[2:]
pda = {n: json.load(open(f"{out}/{n}.pda.json")) for n in nets}
peer = {n: json.load(open(f"{out}/{n}.peer.json")) for n in nets}
print("\n| network | windows | resampled images | pda images/s | PyTorch images/s | pda / PyTorch "
      "| pda s/image (stride 1) | PyTorch s/image (stride 1) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for n in nets:
    a, b = pda[n], peer[n]
    w = str(a["windows"]) if a["windows"] == b["windows"] else f"{a['windows']} / {b['windows']}"
    print(f"| {n} | {w} | {a['resampled_images_per_run']} (batch {a['batch']} / {b['batch']}) | "
          f"{a['images_per_s']:.1f} | {b['images_per_s']:.1f} | {a['images_per_s'] / b['images_per_s']:.2f}× | "
          f"{a['seconds_per_image_stride1']:.0f} | {b['seconds_per_image_stride1']:.0f} |")
modes = {a["execution"] for a in pda.values()}  # as pda ran it, not as asked
mode = modes.pop() if len(modes) == 1 else ", ".join(f"{n} {a['execution']}" for n, a in pda.items())
a0 = pda[nets[0]]
print(f"\npda {a0['device']}, {a0['precision']}, {mode} execution; PyTorch {peer[nets[0]]['torch']} (full execution)")
PY
