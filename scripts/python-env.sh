#!/usr/bin/env bash
# The Python environment that builds the module (python/) and runs its tests: a virtual environment
# (default build/py-venv) over Debian's interpreter with Debian's packages visible (numpy, torch,
# onnx, pytest, tqdm, matplotlib from scripts/setup.sh), plus nanobind and scikit-build-core from
# PyPI. Idempotent: an environment that already imports them is left alone. Prints its python.
# Usage: scripts/python-env.sh [VENV]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-build/py-venv}
if ! "$venv/bin/python" -c "import nanobind, scikit_build_core" 2>/dev/null; then
    if ! "$venv/bin/python" -c "import sys" 2>/dev/null; then
        echo "python: creating $venv" >&2
        rm -rf "$venv"
        /usr/bin/python3 -m venv --system-site-packages "$venv"
    fi
    echo "python: installing nanobind and scikit-build-core from PyPI into $venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "nanobind>=2.0" "scikit-build-core>=0.10" >&2
fi
echo "$(cd "$venv" && pwd)/bin/python"
