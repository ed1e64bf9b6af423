#!/usr/bin/env bash
# The volume demo: the paper's MRI experiment (section 4.2) on a synthetic cohort. Builds the cohort
# of tests/volumes/make_cohort.py once (80 FA volumes, 91 x 109 x 91 on the MNI152 2 mm grid, made
# from ../shared/volumes' white-matter template, with FA lowered inside a planted box in the
# patients; the paper's L2 logistic regression on slices 29-40; about 40 s), fits the conditional
# sampler (k 3, l 7) on the cohort, explains a held-out patient's volume with every 3 x 3 x 3 window at
# stride 1 (847 547 windows, 10 samples each) and prints the time, the top class and where the
# NIfTI maps and slice pictures are.
# Usage: scripts/demo-mri.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
out="$build/demo-mri"
mkdir -p "$out"
"$pda" --version | head -n 1
echo
echo "== the synthetic cohort (scripts/cohort.sh: made once, about 2 minutes)"
cohort=$(scripts/cohort.sh "$build")
model="$cohort/model_logreg.onnx"
patient=$(awk -F, '{ sub(/\r$/, "") } $2 == 1 { print $1; exit }' "$cohort/heldout.csv")  # never trained on
volume="$cohort/$patient"
echo
echo "== what the logistic regression says about $(basename "$volume") (a held-out patient)"
"$pda" predict "$model" "$volume" --top 2
echo
echo "== fitting the conditional sampler (7 x 7 x 7 patches) on the cohort's volumes"
"$pda" fit-sampler "$model" --images "$cohort/subjects" --k 3 --pad 2 -o "$out/sampler.pdas"
# The slices through the middle of the planted box (region.json: nibabel voxel indices, inclusive).
slices=$(/usr/bin/python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["planted"]
print(",".join(a + str((r[a][0] + r[a][1]) // 2) for a in "xyz"))' "$cohort/region.json")
echo
echo "== explaining $(basename "$volume"): k 3, l 7, 10 samples per window, every window (stride 1)"
start=$(date +%s%N)
"$pda" explain "$model" "$volume" --sampler conditional --sampler-file "$out/sampler.pdas" --k 3 --pad 2 \
    --samples 10 --stride 1 --classes 1 --slices "$slices" --overwrite --out "$out"
ms=$((($(date +%s%N) - start) / 1000000))
stem=$(basename "${volume%.nii.gz}")
echo
echo "done in $((ms / 1000)).$((ms % 1000 / 100)) s (the paper: about 30 minutes per volume on a CPU)."
echo "maps (NIfTI, the input's grid and affine): $out/$stem/relevance.nii.gz, $out/$stem/counts.nii.gz"
echo "slices $slices, through the planted box (red: evidence for 'patient', blue: against, |value| > 15% of max):"
ls -1 "$out/$stem"/slice-*.png
