#!/usr/bin/env bash
# Downloads a public pretrained SqueezeNet 1.1 (ONNX model zoo, opset 7, torchvision-style
# preprocessing, logits), its ImageNet labels and two public photos into DIR (default models/),
# and writes the sidecar pda reads. Only the demo uses this, and only where ../shared is absent.
set -euo pipefail
dir=${1:-models}
mkdir -p "$dir/images"
zoo=https://github.com/onnx/models/raw/main/validated/vision/classification
get() { [ -s "$2" ] || { echo "fetching $1"; curl -fsSL --retry 3 -o "$2.part" "$1" && mv "$2.part" "$2"; }; }
get "$zoo/squeezenet/model/squeezenet1.1-7.onnx" "$dir/squeezenet1.1.onnx"
get "$zoo/synset.txt" "$dir/synset.txt"
get https://upload.wikimedia.org/wikipedia/commons/3/3a/Cat03.jpg "$dir/images/cat.jpg"
get https://upload.wikimedia.org/wikipedia/commons/4/4d/Cat_November_2010-1a.jpg "$dir/images/cat2.jpg"
cat > "$dir/squeezenet1.1.json" <<'JSON'
{
  "output_kind": "logits",
  "input_size": [224, 224],
  "resize_shorter": 256,
  "crop": "center",
  "channel_order": "RGB",
  "scale": 1,
  "mean": [0.485, 0.456, 0.406],
  "std": [0.229, 0.224, 0.225],
  "labels": "synset.txt"
}
JSON
echo "models in $dir"
