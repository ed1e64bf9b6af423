#!/usr/bin/env bash
# Where the evidence lies on the synthetic MRI cohort (issue: volumes, "Fidelity"): the cohort of
# tests/volumes/make_cohort.py (made once into BUILD/cohort by scripts/cohort.sh), the held-out patients
# explained with the logistic regression, k 3, l 7, 10 samples, every window, by each sampler
# (conditional fitted on the training volumes, marginal over them, and any extra samplers of
# SAMPLERS), then tests/volumes/fidelity.py: the fraction of the positive evidence for "patient"
# inside the planted box dilated by k - 1 (goal >= 0.6), inside the mirrored box (goal <= 0.1), and
# the logistic regression's own |weights| fraction there (goal: the explanation's is at least twice).
# Prints one line per sampler: the mean over the held-out patients.
# Usage: scripts/fidelity-volume.sh [BUILD]
# env: SAMPLERS ("conditional marginal"; "conditional-cell" adds the location-conditioned sampler,
#      fitted with --cell ${CELL:-20}), MODEL (logreg, or cnn3d: the 3-D CNN, about 2 minutes per
#      patient and sampler at stride 1 on 2 cores), STRIDE (1; 3 puts k 3 windows side by side, every
#      voxel in one), THREADS (all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
[ -x "$pda" ] || { echo "fidelity-volume: $pda not built (make build)" >&2; exit 2; }
cohort=$(scripts/cohort.sh "$build")
work="$build/fidelity-volume"
mkdir -p "$work"
model_name=${MODEL:-logreg}
model="$cohort/model_$model_name.onnx"
[ -f "$model" ] || { echo "fidelity-volume: MODEL: no $model" >&2; exit 2; }
stride=${STRIDE:-1}
patients=$(awk -F, '{ sub(/\r$/, "") } $2 == 1 { print "'"$cohort"'/" $1 }' "$cohort/heldout.csv")
common=(--k 3 --stride "$stride" --samples 10 --classes 1 --quiet --threads "${THREADS:-$(nproc)}")
for sampler in ${SAMPLERS:-conditional marginal}; do
    case $sampler in
        conditional)
            [ -f "$work/$model_name-global.pdas" ] ||
                "$pda" fit-sampler "$model" --images "$cohort/subjects" --k 3 --pad 2 -o "$work/$model_name-global.pdas" >&2
            args=(--sampler conditional --sampler-file "$work/$model_name-global.pdas" --pad 2) ;;
        conditional-cell)
            cell=${CELL:-20}
            [ -f "$work/$model_name-cell$cell.pdas" ] || "$pda" fit-sampler "$model" --images "$cohort/subjects" --k 3 --pad 2 \
                --cell "$cell" -o "$work/$model_name-cell$cell.pdas" >&2
            args=(--sampler conditional --sampler-file "$work/$model_name-cell$cell.pdas" --pad 2) ;;
        marginal) args=(--sampler marginal --sample-images "$cohort/subjects") ;;
        *) echo "fidelity-volume: SAMPLERS: unknown sampler '$sampler'" >&2; exit 2 ;;
    esac
    runs="$work/$model_name-stride$stride-$sampler"
    rm -rf "$runs"
    for p in $patients; do "$pda" explain "$model" "$p" "${common[@]}" "${args[@]}" --out "$runs"; done
    echo "$model_name, stride $stride, $sampler: $(/usr/bin/python3 tests/volumes/fidelity.py "$cohort" "$runs"/*/ | tail -n 1)"
done
