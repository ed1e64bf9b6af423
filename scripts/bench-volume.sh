#!/usr/bin/env bash
# Volume PDA on the CPU, the paper's MRI setting: the synthetic cohort of tests/volumes/make_cohort.py
# (made once into BUILD/bench-volume/cohort, about 40 s), a conditional sampler fitted on it (k 3,
# pad 2), then bench/bench_volume.py: whole `pda explain` runs of the logistic regression (every window,
# conditional and marginal) and of the 3-D CNN (full vs incremental execution), interleaved, with the
# other processes' CPU share measured and disturbed runs redone. Prints a markdown table.
# Usage: scripts/bench-volume.sh [BUILD]
# env: THREADS (all cores), ROUNDS (3), CNN_STRIDE (9), CASES ("logreg-conditional logreg-marginal cnn"),
#      MAX_OTHER (0.10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
[ -x "$pda" ] || { echo "bench-volume: $pda not built (make build)" >&2; exit 2; }
template=../shared/volumes/mni_icbm152_wm_2009a_1mm.nii.gz
[ -f "$template" ] || { echo "bench-volume: $template is missing" >&2; exit 2; }
work="$build/bench-volume"
cohort="$work/cohort"
[ -f "$cohort/model_logreg.onnx" ] || /usr/bin/python3 tests/volumes/make_cohort.py "$cohort" --template "$template" >&2
[ -f "$work/sampler.pdas" ] ||
    "$pda" fit-sampler "$cohort/model_logreg.onnx" --images "$cohort/subjects" --k 3 --pad 2 -o "$work/sampler.pdas" >&2
exec /usr/bin/python3 bench/bench_volume.py --pda "$pda" --cohort "$cohort" --sampler "$work/sampler.pdas" \
    --work "$work/runs" --threads "${THREADS:-$(nproc)}" --rounds "${ROUNDS:-3}" --cnn-stride "${CNN_STRIDE:-9}" \
    --cases "${CASES:-logreg-conditional logreg-marginal cnn}" --max-other "${MAX_OTHER:-0.10}"
