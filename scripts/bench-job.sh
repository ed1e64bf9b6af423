#!/usr/bin/env bash
# Dataset jobs on the CPU (bench/bench_job.py): 100 small images explained as one job at the paper's
# defaults (stride 1, 10 samples), the job's wall time against its explain loops (overhead), the
# programs compiled per job, and two worker processes (shards) against one. Prints a markdown table;
# the model, images and results stay in BUILD/bench-job.
# Usage: scripts/bench-job.sh [BUILD]
# env: IMAGES (100), THREADS (all cores), ROUNDS (3), MAX_OTHER (0.10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
[ -x "$pda" ] || { echo "bench-job: $pda not built (make build)" >&2; exit 2; }
mkdir -p "$build/bench-job"
exec /usr/bin/python3 bench/bench_job.py --pda "$(realpath "$pda")" --work "$(realpath "$build/bench-job")" \
    --images "${IMAGES:-100}" --threads "${THREADS:-$(nproc)}" --rounds "${ROUNDS:-3}" --max-other "${MAX_OTHER:-0.10}"
