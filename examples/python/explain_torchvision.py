"""Export a torchvision classifier to ONNX and explain it with pda.

    python examples/python/explain_torchvision.py                      # ResNet-18, random weights
    python examples/python/explain_torchvision.py --weights resnet18.pth --image dog.jpg

torch.onnx.export writes the network; `preset="torchvision"` tells pda its preprocessing (resize the
shorter side to 256, centre crop 224, ImageNet mean and std, RGB) and that it outputs logits. Without
--weights (a state_dict saved with torch.save) the weights are random, so the maps show the mechanics,
not what a trained network looks at. The script checks that pda's probabilities equal PyTorch's on the
same preprocessed tensor, which it hands to pda as a torch tensor (no copy: DLPack / buffer protocol).
"""

import argparse
import os
import tempfile

import numpy as np
import torch
import torchvision

import pda

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="resnet18", help="a torchvision.models constructor")
    ap.add_argument("--weights", help="a state_dict file for it (default: random weights)")
    ap.add_argument("--image", default=os.path.join(SHARED, "images", "dog.jpg"))
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--out", default="pda-torchvision")
    args = ap.parse_args()

    torch.manual_seed(0)
    net = getattr(torchvision.models, args.arch)(weights=None)
    if args.weights:
        net.load_state_dict(torch.load(args.weights, map_location="cpu"))
    net.eval()
    onnx_path = os.path.join(tempfile.mkdtemp(), args.arch + ".onnx")
    torch.onnx.export(net, torch.zeros(1, 3, 224, 224), onnx_path, opset_version=13, input_names=["input"],
                      output_names=["logits"])

    model = pda.Model(onnx_path, preset="torchvision")
    x = torch.from_numpy(model.preprocess(args.image))  # (3, 224, 224) float32, as pda feeds the network
    with torch.no_grad():
        torch_probs = torch.softmax(net(x[None]), dim=1).numpy()
    pda_probs = model.predict(x)
    print(f"pda vs PyTorch, largest probability difference: {np.abs(pda_probs - torch_probs).max():.2e}")

    explainer = pda.Explainer(model, sampler="occlusion", k=16, stride=args.stride, classes="top2")
    result = explainer.explain(x, out_dir=args.out, name=os.path.splitext(os.path.basename(args.image))[0])
    for c, rel in zip(result.classes, result.relevance):
        print(f"class {c.class_id} (p = {c.probability:.4f}): weight of evidence from {rel.min():+.4f} "
              f"to {rel.max():+.4f} bits")
    print(f"{result.windows} windows in {result.seconds['total']:.1f} s; maps and heatmaps in {result.folder}")


if __name__ == "__main__":
    main()
