#!/usr/bin/env bash
# CPU forward throughput, pda vs Debian's PyTorch, same machine, same thread count, one run:
# bench/forward.cc (Google Benchmark, median of repeats) then bench/torch_forward.py, then a table
# with the ratio. Usage: scripts/bench.sh [BUILD] ; env THREADS (default: all cores), REPEATS,
# FILTER (a benchmark regex; default '^forward/', e.g. '^forward/(alexnet|squeeze)').
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${THREADS:-$(nproc)}
repeats=${REPEATS:-3}
filter=${FILTER:-^forward/}
out=$(mktemp -d)
export OMP_NUM_THREADS=$threads PDA_SHARED_MODELS=${PDA_SHARED_MODELS:-../shared/models}
echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores, threads $threads, $(date -u +%F)"
"$build/bench/pda_bench" --benchmark_filter="$filter" --benchmark_repetitions="$repeats" \
    --benchmark_min_time=0.5 --benchmark_report_aggregates_only=true --benchmark_out="$out/pda.json" \
    --benchmark_out_format=json >&2
nets=$(/usr/bin/python3 -c "
import json,re; d=json.load(open('$out/pda.json'))
print(','.join(sorted({b['run_name'].split('/')[1] for b in d['benchmarks'] if b['run_name'].startswith('forward/')})))")
/usr/bin/python3 bench/torch_forward.py --threads "$threads" --repeats "$repeats" --min-time 0.5 --only "$nets" \
    > "$out/torch.json"
/usr/bin/python3 - "$out/pda.json" "$out/torch.json" <<'PY'
import json, sys
pda = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
ours = {}
runs = pda["benchmarks"]
if any(b.get("aggregate_name") for b in runs):  # repetitions > 1: the medians
    runs = [b for b in runs if b.get("aggregate_name") == "median"]
for b in runs:
    family, net, batch = b["run_name"].split("/")[:3]
    if family != "forward":  # forward_plain/ (all-plain layouts) and gpu_forward/ are not this table's
        continue
    ours[(net, int(batch))] = b["items_per_second"]
print(f"\nforward throughput, images/s (median), pda vs PyTorch {torch['torch']}, {torch['threads']} threads")
print("| network | batch | pda | PyTorch | pda / PyTorch |")
print("|---|---:|---:|---:|---:|")
for r in torch["results"]:
    k = (r["net"], r["batch"])
    if k in ours:
        print(f"| {r['net']} | {r['batch']} | {ours[k]:.2f} | {r['images_per_s']:.2f} | {ours[k] / r['images_per_s']:.2f}× |")
PY
rm -rf "$out"
