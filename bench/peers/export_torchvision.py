#!/usr/bin/python3
"""Writes torchvision's AlexNet and VGG16 (whole, 224 x 224, seeded random weights) as ONNX files with
pda sidecars, for the forward benchmarks against onnxruntime: both programs then run the very same
file. Random weights give the real cost, not meaningful classes. A model already written is kept.

Usage: bench/peers/export_torchvision.py OUT_DIR [alexnet] [vgg16]    (Debian's python3-torch)"""
import json
import pathlib
import sys

SIDECAR = {  # torchvision's preprocessing (the `torchvision` preset of pda)
    "output_kind": "logits", "input_size": [224, 224], "resize_shorter": 256, "crop": "center",
    "channel_order": "RGB", "scale": 1, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
}


def export(name: str, out: pathlib.Path) -> None:
    onnx_path = out / f"{name}.onnx"
    if onnx_path.exists():
        return
    import torch
    import torchvision
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    x = torch.zeros(1, 3, 224, 224)
    tmp = onnx_path.with_suffix(".onnx.tmp")
    torch.onnx.export(model, x, str(tmp), opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    tmp.rename(onnx_path)
    (out / f"{name}.json").write_text(json.dumps(SIDECAR, indent=1) + "\n")
    print(f"export_torchvision: wrote {onnx_path}", file=sys.stderr)


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[2:] or ["alexnet", "vgg16"]:
        if name not in ("alexnet", "vgg16"):
            print(f"export_torchvision: unknown network '{name}' (alexnet, vgg16)", file=sys.stderr)
            return 2
        export(name, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
