#!/usr/bin/env bash
# Debian 12's oneDNN (2.6) against a newer one, kernel for kernel: bench/onednn/conv_shapes.cc built
# twice, against the system oneDNN and against PyPI's onednn-devel-cpu-gomp (oneDNN 3.2, GNU OpenMP
# like pda; the newer PyPI builds need TBB and the SYCL runtime), run interleaved ROUNDS times.
# The PyPI package goes into a virtual environment (default build/onednn3-venv).
# Usage: scripts/bench-onednn.sh [BUILD]   env: ROUNDS (2), SECONDS_PER_SHAPE (0.5), THREADS (all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
venv=$build/onednn3-venv
mkdir -p "$build/bench-onednn"
if [ ! -f "$venv/include/oneapi/dnnl/dnnl.hpp" ]; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check onednn-devel-cpu-gomp==2023.2.0 >&2
fi
src=bench/onednn/conv_shapes.cc out=$build/bench-onednn
g++ -O2 -std=c++17 "$src" -o "$out/conv_shapes_system" -ldnnl
g++ -O2 -std=c++17 -I"$venv/include" "$src" -o "$out/conv_shapes_pypi" -L"$venv/lib" -ldnnl -Wl,-rpath,"$PWD/$venv/lib"
export OMP_NUM_THREADS=${THREADS:-$(nproc)}
for r in $(seq "${ROUNDS:-2}"); do
    for v in system pypi; do
        echo "== round $r, $v, $(cut -d' ' -f1 /proc/loadavg) load"
        "$out/conv_shapes_$v" "${SECONDS_PER_SHAPE:-0.5}"
    done
done
