#!/usr/bin/env bash
# The synthetic MRI cohort of tests/volumes/make_cohort.py, made once into BUILD/cohort (about 100 s)
# from ../shared/volumes' white-matter template, for make demo-mri, scripts/bench-volume.sh and
# scripts/fidelity-volume.sh. Prints the cohort's folder. A cohort made before held-out subjects
# existed is made again.
# Usage: scripts/cohort.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
template=../shared/volumes/mni_icbm152_wm_2009a_1mm.nii.gz
[ -f "$template" ] || { echo "cohort: $template is missing (the MNI152 templates of ../shared/volumes)" >&2; exit 2; }
cohort="$build/cohort"
if [ ! -f "$cohort/heldout.csv" ] || [ ! -f "$cohort/model_cnn3d.onnx" ]; then
    echo "making the synthetic cohort in $cohort (tests/volumes/make_cohort.py, about 100 s)" >&2
    rm -rf "$cohort"
    /usr/bin/python3 tests/volumes/make_cohort.py "$cohort" --template "$template" | tail -n 4 >&2
fi
echo "$cohort"
