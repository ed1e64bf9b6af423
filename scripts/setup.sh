#!/usr/bin/env bash
# Installs the Debian packages pda builds, tests and benchmarks with. Idempotent: when every package
# is already installed it only checks and returns (no apt-get update).
set -euo pipefail

packages=(
    build-essential cmake ninja-build pkg-config clang-format
    libdnnl-dev                                  # CPU convolution, pooling, LRN, inner product
    libonnx-dev libprotobuf-dev protobuf-compiler  # ONNX import
    libstb-dev libcli11-dev nlohmann-json3-dev    # PNG writing, command line, JSON
    libpng-dev libjpeg62-turbo-dev               # PNG and JPEG decoding
    libgtest-dev libbenchmark-dev                # tests, benchmarks
    clang libclang-rt-14-dev libomp-dev          # fuzz targets: clang++, libFuzzer and sanitizer runtimes, OpenMP
    libonnx-testdata                             # ONNX operator conformance cases
    python3 python3-numpy python3-onnx python3-torch python3-torchvision  # golden outputs
    python3-venv                                 # the benchmarks' peers (onnxruntime from PyPI)
    python3-dev python3-pytest python3-pil python3-tqdm python3-matplotlib  # the Python module, its tests and examples
    libnifti2-dev                                # NIfTI-1/-2 volumes (niftiio, znzlib)
    python3-nibabel python3-scipy python3-sklearn  # volume fixtures: resampling, cohort, classifiers
    slurm-wlm munge                              # tests/slurm: a one-node Slurm cluster (ctest -L slurm)
    chromium python3-websocket                   # tests/browser: the HTML report in headless Chromium (ctest -L browser)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#packages[@]} packages present"
    exit 0
fi
echo "setup: installing ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
