#!/usr/bin/env bash
# Builds scripts/gpu_probe.cu here (no GPU needed) into .carry/, or, with --run on a GPU machine,
# runs the carried probe with the NVIDIA wheels' libraries on LD_LIBRARY_PATH and prints facts.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--run" ]; then
    mkdir -p .carry
    nvcc -O2 -std=c++17 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 \
        scripts/gpu_probe.cu -o .carry/gpu_probe -lcudnn -lcublas -lcurand
    echo "built .carry/gpu_probe"; ldd .carry/gpu_probe | grep -E "cudnn|cublas|curand|cudart" || true
    exit 0
fi
nvidia-smi -L || true
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
site=$(python3 -c "import site; print(site.getsitepackages()[0])" 2>/dev/null || true)
echo "python site-packages: $site"
libs=$(ls -d "$site"/nvidia/*/lib 2>/dev/null | tr '\n' ':')
echo "nvidia wheel lib dirs: $libs"
ls "$site"/nvidia 2>/dev/null | tr '\n' ' '; echo
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" || true
which nvcc cmake ninja || true; nvcc --version | tail -1 || true
ls /usr/local/cuda*/lib64/libcudnn* /usr/lib/x86_64-linux-gnu/libcudnn* 2>/dev/null | head || true
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:-}"
ldd .carry/gpu_probe | grep -E "cudnn|cublas|curand|not found" || true
.carry/gpu_probe
