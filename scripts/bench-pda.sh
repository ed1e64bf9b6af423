#!/usr/bin/env bash
# PDA on the CPU, pda vs a straightforward batched Python PDA on the very same ONNX files, same machine,
# same run, interleaved (pda full, pda incremental, peer, pda full, ...) with the other processes' CPU
# share measured during each run and disturbed runs redone (bench/peers/interleave.py). The peer is
# bench/peers/pda_ort.py on onnxruntime (PEER=ort, the default; its venv from bench/peers/setup.sh) or
# bench/peers/pda_torch.py on Debian's PyTorch (PEER=torch). Models: SqueezeNet 1.1 Caffe (../shared),
# torchvision's AlexNet and VGG16 with random weights (bench/peers/export_torchvision.py, kept in
# BUILD/bench-models). Three parts (bench/peers/bench_pda.py prints a markdown table for each):
#   throughput   `pda bench --windows N --json` vs the peer on the same first N windows: images/s
#   occlusion    whole jobs, `pda explain` vs the peer, each a whole timed process, maps compared
#   conditional  whole jobs on one `pda fit-sampler` file per model, shared by both
# The explained classes are pda's top 3 (`pda predict`), given to both. Maps and sampler files stay in
# BUILD/bench-pda. Defaults take about 20 min on 2 cores (more when other work makes runs be redone).
# Usage: scripts/bench-pda.sh [BUILD]
# env: PEER (ort | torch), NETS ("squeezenet1.1 alexnet vgg16"), PARTS ("throughput occlusion conditional"),
#      EXECS (pda's --exec modes, "full incremental", each optionally :PRECISION: "incremental:winograd"), THREADS (all cores), ROUNDS (throughput's interleaved
#      rounds, 3), JOB_ROUNDS (whole jobs' interleaved rounds, 3), REPEATS (timed runs inside each
#      throughput run, 3), WINDOWS (32), WINDOWS_VGG16 (8), SAMPLER (throughput: conditional | occlusion),
#      SAMPLES (10), K (10), PAD (2), OCC_STRIDES ("squeezenet1.1=4 alexnet=4 vgg16=24"), COND_STRIDES
#      ("squeezenet1.1=16 alexnet=16 vgg16=72"), BATCH (pda's; default its own), PEER_BATCH (onnxruntime
#      32, PyTorch 40: about each one's best on 2 cores), MAX_OTHER (others' CPU share above which a run
#      is redone, 0.10)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
[ -x "$pda" ] || { echo "bench-pda: $pda not built (make build)" >&2; exit 2; }
peer=${PEER:-ort}
case $peer in
    ort) peer_py=$(bench/peers/setup.sh "$build/peers-venv") peer_batch=${PEER_BATCH:-32} ;;
    torch) peer_py=/usr/bin/python3 peer_batch=${PEER_BATCH:-40} ;;
    *) echo "bench-pda: PEER: unknown peer '$peer' (ort, torch)" >&2; exit 2 ;;
esac
if [ -f ../shared/models/squeezenet1.1-caffe.onnx ]; then
    squeeze=../shared/models/squeezenet1.1-caffe.onnx
    photos=../shared/images
    image=../shared/images/cat.png
else
    scripts/fetch-models.sh models >&2
    squeeze=models/squeezenet1.1.onnx
    photos=models/images
    image=models/images/cat.jpg
fi
models=()
for net in ${NETS:-squeezenet1.1 alexnet vgg16}; do
    case $net in
        squeezenet1.1) path=$squeeze ;;
        alexnet | vgg16)
            /usr/bin/python3 bench/peers/export_torchvision.py "$build/bench-models" "$net"
            path=$build/bench-models/$net.onnx ;;
        *) echo "bench-pda: NETS: unknown network '$net' (squeezenet1.1, alexnet, vgg16)" >&2; exit 2 ;;
    esac
    [ -f "$path" ] || { echo "bench-pda: $path not found" >&2; exit 2; }
    models+=("$net=$path")
done
[ ${#models[@]} -gt 0 ] || { echo "bench-pda: NETS is empty" >&2; exit 2; }
exec /usr/bin/python3 bench/peers/bench_pda.py --pda "$pda" --peer "$peer" --peer-python "$peer_py" \
    --work "$build/bench-pda" --image "$image" --photos "$photos" \
    --parts "${PARTS:-throughput occlusion conditional}" --execs "${EXECS:-full incremental}" \
    --threads "${THREADS:-$(nproc)}" --rounds "${ROUNDS:-3}" --job-rounds "${JOB_ROUNDS:-3}" \
    --max-other "${MAX_OTHER:-0.10}" --windows "${WINDOWS:-32}" --windows-vgg16 "${WINDOWS_VGG16:-8}" \
    --repeats "${REPEATS:-3}" --sampler "${SAMPLER:-conditional}" --samples "${SAMPLES:-10}" --k "${K:-10}" \
    --pad "${PAD:-2}" --occ-strides "${OCC_STRIDES:-squeezenet1.1=4 alexnet=4 vgg16=24}" \
    --cond-strides "${COND_STRIDES:-squeezenet1.1=16 alexnet=16 vgg16=72}" --batch "${BATCH:-}" \
    --peer-batch "$peer_batch" "${models[@]}"
