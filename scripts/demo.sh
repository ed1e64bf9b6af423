#!/usr/bin/env bash
# The demo: explains a photo of a cat with SqueezeNet 1.1 by Prediction Difference Analysis. Fits
# the conditional sampler on the shared photos, then explains the photo at k = 10, 10 samples per
# window, stride 7 (32 × 32 windows that tile the 227 px crop exactly: 10 240 forward passes, 28 s
# on a 2-core EPYC with incremental execution; stride 1 would be 46× that) and prints where the heatmaps are. Where
# ../shared is absent, scripts/fetch-models.sh downloads a public SqueezeNet 1.1 (224 px input: a
# few border pixels stay uncovered at stride 7, and pda says so) and two photos into models/ first.
# Usage: scripts/demo.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
out="$build/demo"
if [ -f ../shared/models/squeezenet1.1-caffe.onnx ]; then
    model=../shared/models/squeezenet1.1-caffe.onnx
    photos=../shared/images
    image=../shared/images/cat.png
else
    scripts/fetch-models.sh models
    model=models/squeezenet1.1.onnx
    photos=models/images
    image=models/images/cat.jpg
fi
mkdir -p "$out"
"$pda" --version | head -n 1
echo
echo "== what $(basename "$model") sees in $(basename "$image")"
"$pda" predict "$model" "$image" --top 3
echo
echo "== fitting the conditional sampler (14 x 14 x 3 patches) on the photos in $photos"
"$pda" fit-sampler "$model" --images "$photos" --k 10 --pad 2 -o "$out/sampler.pdas"
echo
echo "== explaining $(basename "$image"): k 10, 10 samples per window, stride 7"
start=$(date +%s)
"$pda" explain "$model" "$image" --sampler conditional --sampler-file "$out/sampler.pdas" --k 10 --pad 2 \
    --samples 10 --stride 7 --overwrite --report --out "$out"
stem=$(basename "${image%.*}")
echo
echo "done in $(($(date +%s) - start)) s. Heatmaps (red: evidence for the class, blue: against):"
ls -1 "$out/$stem"/heatmap-*.png
echo "maps: $out/$stem/relevance.npy (float32, classes x H x W; order in summary.json)"
echo "report (open in a browser; threshold, opacity, figures at the photo's resolution): $out/report/index.html"
