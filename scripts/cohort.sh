#!/usr/bin/env bash
# The synthetic MRI cohort of tests/volumes/make_cohort.py, made once into BUILD/cohort (about 90 s)
# from ../shared/volumes' white-matter template, for make demo-mri, scripts/bench-volume.sh and
# scripts/fidelity-volume.sh. Prints the cohort's folder. A cohort of another generator version
# (cohort.json's "version") is made again.
# Usage: scripts/cohort.sh [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
template=../shared/volumes/mni_icbm152_wm_2009a_1mm.nii.gz
[ -f "$template" ] || { echo "cohort: $template is missing (the MNI152 templates of ../shared/volumes)" >&2; exit 2; }
cohort="$build/cohort"
version=$(sed -n 's/^ *"version": \([0-9]*\),$/\1/p' "$cohort/cohort.json" 2>/dev/null | head -n 1 || true)
if [ "$version" != 2 ] || [ ! -f "$cohort/heldout.csv" ] || [ ! -f "$cohort/model_cnn3d.onnx" ]; then
    echo "making the synthetic cohort in $cohort (tests/volumes/make_cohort.py, about 90 s)" >&2
    rm -rf "$cohort"
    /usr/bin/python3 tests/volumes/make_cohort.py "$cohort" --template "$template" | tail -n 4 >&2
fi
echo "$cohort"
