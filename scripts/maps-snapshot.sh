#!/usr/bin/env bash
# Writes a fixed set of explanations with one pda binary, so that two builds can be compared bit for
# bit (scripts/maps-compare.py): the shared Caffe SqueezeNet on cat.png and the built-in AlexNet,
# GoogLeNet and VGG16 (seeded random weights), each with the occlusion, marginal and conditional
# samplers, incremental and full execution, a batch that leaves a partial last block, and one
# hidden node per net. Usage: scripts/maps-snapshot.sh PDA_BINARY OUT [SHARED_DIR]
set -euo pipefail
pda=${1:?usage: maps-snapshot.sh PDA_BINARY OUT [SHARED_DIR]}
out=${2:?usage: maps-snapshot.sh PDA_BINARY OUT [SHARED_DIR]}
shared=${3:-$(dirname "$0")/../../shared}
images=$shared/images
[[ -d $images && -f $shared/models/squeezenet1.1-caffe.onnx ]] || { echo "maps-snapshot: $shared has no models/images" >&2; exit 2; }
mkdir -p "$out"
# model | node | stride (few windows: the full-execution runs of VGG16 stay short on a CPU)
nets=("$shared/models/squeezenet1.1-caffe.onnx|fire5_concat|37"
      "alexnet|conv3|61"
      "googlenet|inception_3b/output|71"
      "vgg16|conv3_3|107")
for row in "${nets[@]}"; do
    IFS='|' read -r model node stride <<<"$row"
    name=$(basename "$model" .onnx)
    for sampler in occlusion marginal conditional; do
        extra=()
        case $sampler in
            marginal) extra=(--sample-images "$images" --samples 3) ;;
            conditional) extra=(--sample-images "$images" --samples 3 --max-patches 4000) ;;
        esac
        for exec in incremental full; do
            dir=$out/$name-$sampler-$exec
            "$pda" explain "$model" "$images/cat.png" --sampler "$sampler" "${extra[@]}" --k 10 --stride "$stride" \
                --exec "$exec" --batch 7 --node "$node" --classes top2 --seed 3 --device cpu --quiet --out "$dir"
            echo "$dir"
        done
    done
done
