#!/usr/bin/env bash
# Volume PDA on the CPU, the paper's MRI setting: the synthetic cohort of tests/volumes/make_cohort.py
# (made once into BUILD/cohort by scripts/cohort.sh), a conditional sampler fitted on it (k 3,
# pad 2), then bench/bench_volume.py: whole `pda explain` runs of the logistic regression (every window,
# conditional and marginal) and of the 3-D CNN (full vs incremental execution), interleaved, with the
# other processes' CPU share measured and disturbed runs redone. Prints a markdown table.
# Usage: scripts/bench-volume.sh [BUILD]
# env: THREADS (all cores), ROUNDS (3), CNN_STRIDE (9), CASES ("logreg-conditional logreg-marginal cnn";
#      "cnn-conditional" adds the CNN over every window with the conditional sampler), MAX_OTHER (0.10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
[ -x "$pda" ] || { echo "bench-volume: $pda not built (make build)" >&2; exit 2; }
cohort=$(scripts/cohort.sh "$build")
work="$build/bench-volume"
mkdir -p "$work"
[ -f "$work/sampler.pdas" ] ||
    "$pda" fit-sampler "$cohort/model_logreg.onnx" --images "$cohort/subjects" --k 3 --pad 2 -o "$work/sampler.pdas" >&2
exec /usr/bin/python3 bench/bench_volume.py --pda "$pda" --cohort "$cohort" --sampler "$work/sampler.pdas" \
    --work "$work/runs" --threads "${THREADS:-$(nproc)}" --rounds "${ROUNDS:-3}" --cnn-stride "${CNN_STRIDE:-9}" \
    --cases "${CASES:-logreg-conditional logreg-marginal cnn}" --max-other "${MAX_OTHER:-0.10}"
