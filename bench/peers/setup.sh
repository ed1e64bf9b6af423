#!/usr/bin/env bash
# The peers' Python environment for the benchmarks: a virtual environment (default build/peers-venv)
# with onnxruntime (CPU), onnx, numpy and pillow from PyPI; Debian's python3-venv makes it. With
# PEERS_OPENVINO=1 also openvino (OpenVINO's CPU plugin, the bf16 peer: bench/peers/ov_forward.py).
# Idempotent: an environment that already imports them is left alone, one that lacks some gets them
# added. Prints the environment's python.
# Usage: [PEERS_OPENVINO=1] bench/peers/setup.sh [VENV]
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${1:-build/peers-venv}
if ! "$venv/bin/python" -c "import onnxruntime, onnx, numpy, PIL" 2>/dev/null; then
    if ! "$venv/bin/python" -c "import sys" 2>/dev/null; then
        echo "peers: creating $venv" >&2
        rm -rf "$venv"
        /usr/bin/python3 -m venv "$venv"
    fi
    echo "peers: installing onnxruntime, onnx, numpy, pillow from PyPI into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check onnxruntime onnx numpy pillow >&2
fi
if [ "${PEERS_OPENVINO:-0}" = 1 ] && ! "$venv/bin/python" -c "import openvino" 2>/dev/null; then
    echo "peers: installing openvino from PyPI into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check openvino >&2
fi
echo "$venv/bin/python"
