#!/usr/bin/env bash
# The demo: classifies the shared photos with both real SqueezeNet models. Where ../shared is
# absent, scripts/fetch-models.sh downloads a public SqueezeNet and a photo into models/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
pda="$build/pda"
if [ -f ../shared/models/squeezenet1.1-caffe.onnx ]; then
    models=(../shared/models/squeezenet1.1-caffe.onnx ../shared/models/squeezenet1.1-torchvision.onnx)
    images=(../shared/images/*.png ../shared/images/*.jpg)
else
    scripts/fetch-models.sh models
    models=(models/squeezenet1.1.onnx)
    images=(models/images/*.jpg)
fi
"$pda" --version
for m in "${models[@]}"; do
    echo
    echo "== $m"
    "$pda" predict "$m" "${images[@]}" --top 3
done
