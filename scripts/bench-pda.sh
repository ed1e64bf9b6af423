#!/usr/bin/env bash
# PDA throughput on the CPU, pda vs a straightforward batched PyTorch PDA (bench/peers/pda_torch.py),
# same machine, same run: SqueezeNet 1.1 (Caffe, ../shared) and AlexNet (pda: built-in, random
# weights; peer: the BVLC AlexNet of tests/golden/make_golden.py, random weights: same cost), the
# same photo, the same fitted conditional sampler file, k, pad, samples, first N windows and threads.
# Prints the command lines and a table with the ratio. Usage: scripts/bench-pda.sh [BUILD]
# env: THREADS (default all cores), WINDOWS (32), REPEATS (3), SAMPLES (10), K (10), PAD (2),
#      SAMPLER (conditional | marginal | occlusion), BATCH (pda's; default from memory),
#      PEER_BATCH (the peer's resampled images per forward, default 40: its best on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
threads=${THREADS:-$(nproc)}
windows=${WINDOWS:-32}
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
echo "PDA: sampler $sampler, k $k, pad $pad, $samples samples/window, first $windows windows of $image," \
    "median of $repeats runs after a warm-up"
common="--sampler $sampler --k $k --pad $pad --samples $samples --windows $windows --repeat $repeats --threads $threads"
[ "$sampler" = marginal ] && common="$common --sample-images $photos"
run() {  # echo the command line, then run it
    echo "\$ $*" >&2
    "$@"
}
rows=()
for net in squeezenet1.1 alexnet; do
    if [ "$net" = alexnet ]; then model=alexnet; else model=$squeeze; fi
    flags=$common
    if [ "$sampler" = conditional ]; then  # one fit per model, shared by both programs
        run "$pda" fit-sampler "$model" --images "$photos" --k "$k" --pad "$pad" -o "$out/$net.pdas" >&2
        flags="$flags --sampler-file $out/$net.pdas"
    fi
    # shellcheck disable=SC2086  # $flags is a list of flags
    run "$pda" bench "$model" "$image" $flags ${BATCH:+--batch $BATCH} --json > "$out/$net.pda.json"
    # shellcheck disable=SC2086
    run $py bench/peers/pda_torch.py "$model" "$image" $flags --batch "$peer_batch" > "$out/$net.peer.json"
    rows+=("$net")
done
$py - "$out" "${rows[@]}" <<'PY'
import json, sys
out, nets = sys.argv[1], sys.argv[2:]
print("\n| network | resampled images | pda images/s | PyTorch images/s | pda / PyTorch | pda s/image (stride 1) | PyTorch s/image (stride 1) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for n in nets:
    a = json.load(open(f"{out}/{n}.pda.json"))
    b = json.load(open(f"{out}/{n}.peer.json"))
    print(f"| {n} | {a['resampled_images_per_run']} (batch {a['batch']} / {b['batch']}) | {a['images_per_s']:.1f} | "
          f"{b['images_per_s']:.1f} | {a['images_per_s'] / b['images_per_s']:.2f}× | "
          f"{a['seconds_per_image_stride1']:.0f} | {b['seconds_per_image_stride1']:.0f} |")
print(f"\npda {json.load(open(f'{out}/{nets[0]}.pda.json'))['device']}, fp32, full execution; "
      f"PyTorch {json.load(open(f'{out}/{nets[0]}.peer.json'))['torch']}")
PY
