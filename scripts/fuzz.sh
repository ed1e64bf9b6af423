#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ for SECONDS each, JOBS of them at a time:
#   scripts/fuzz.sh SECONDS [TARGET...]     (default: every target; `make fuzz-smoke` is 30 s of each)
# Builds build-fuzz first if needed (clang, ASan + UBSan, CUDA off). Each target fuzzes a work corpus
# build-fuzz/work/<target>/ that starts as a copy of fuzz/corpus/<target>/ (the repository's seeds are
# never written to) and is kept between runs, so that longer campaigns continue where the last one
# stopped; PDA_FUZZ_FRESH=1 starts again from the seeds. Any crash, sanitizer report, leak, timeout
# (10 s), memory use over 2 GB or exception other than pda's input error is a finding: its input is
# saved under build-fuzz/findings/<target>/ and the script exits 1 after the summary.
# Environment: BUILD_FUZZ (build folder, default build-fuzz), JOBS (build jobs and targets fuzzed at once,
# default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(fuzz_onnx fuzz_image fuzz_sidecar fuzz_sampler_file)
if [ $# -lt 1 ] || ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
    echo "usage: scripts/fuzz.sh SECONDS [TARGET...]   (targets: ${all_targets[*]})" >&2
    exit 2
fi
seconds=$1
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
    [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "fuzz: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

build=${BUILD_FUZZ:-build-fuzz}
jobs=${JOBS:-$(nproc)}
if ! command -v clang++ >/dev/null; then
    echo "fuzz: clang++ not found; scripts/setup.sh installs it" >&2
    exit 2
fi
if [ ! -f "$build/build.ninja" ]; then
    # The configuration of the Makefile's instrumented lane (build-san) without its tests: warnings
    # follow PDA_WERROR's default as everywhere (errors under CI=true).
    CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
        -DPDA_SANITIZE=ON -DPDA_FUZZ=ON -DPDA_WITH_CUDA=OFF -DPDA_BUILD_TESTS=OFF -DPDA_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# Largest input per target: room for every seed and its mutations, small enough to stay fast.
max_len() {
    case $1 in
        fuzz_onnx | fuzz_image) echo 16384 ;;
        fuzz_sampler_file) echo 8192 ;;
        *) echo 4096 ;;
    esac
}
dict() {
    case $1 in
        fuzz_onnx) echo fuzz/dict/onnx.dict ;;
        fuzz_image) echo fuzz/dict/image.dict ;;
        *) echo fuzz/dict/json.dict ;;
    esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target: fuzz it, then write its summary line to $build/work/<target>.summary and its verdict
# (0 clean, 1 a finding) to $build/work/<target>.status.
fuzz_one() {
    local t=$1 work="$build/work/$1" findings="$build/findings/$1" log="$build/work/$1.log"
    [ "${PDA_FUZZ_FRESH:-0}" = 1 ] && rm -rf "$work"
    mkdir -p "$work" "$findings"
    cp -n fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    local before rc=0 execs rate corpus new status=0
    before=$(find "$findings" -type f | wc -l)
    "$build/fuzz/$t" "$work" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -dict="$(dict "$t")" -artifact_prefix="$findings/" -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1 ||
        rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    corpus=$(find "$work" -type f | wc -l)
    new=$(($(find "$findings" -type f | wc -l) - before))
    if [ "$rc" -ne 0 ] || [ "$new" -ne 0 ]; then
        status=1
        { echo "fuzz: $t FINDING (exit $rc); the report:"
          grep -E "ERROR|SUMMARY|fuzz finding|runtime error|Test unit written" "$log" | head -20 || tail -30 "$log"
        } >&2
    fi
    printf '%-18s %6s s %12s execs %8s exec/s %6s corpus %3s findings\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" \
        "$corpus" "$new" >"$build/work/$t.summary"
    echo "$status" >"$build/work/$t.status"
}

# Side by side, at most $jobs at once: each target is one single-threaded process.
mkdir -p "$build/work"
running=0
for t in "${targets[@]}"; do
    rm -f "$build/work/$t.summary" "$build/work/$t.status"
    echo "fuzz: $t for ${seconds} s (log $build/work/$t.log)"
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true
summary=()
status=0
for t in "${targets[@]}"; do
    # A target whose run left no verdict (the script itself failed) counts as a finding.
    if [ "$(cat "$build/work/$t.status" 2>/dev/null)" != 0 ]; then status=1; fi
    summary+=("$(cat "$build/work/$t.summary" 2>/dev/null || echo "$t: no result")")
done
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
[ "$status" -eq 0 ] || echo "fuzz: findings saved under $build/findings/" >&2
exit "$status"
