#!/usr/bin/env python3
"""Real torch.onnx.export outputs for pda's importer, with PyTorch's own outputs as the reference.

Exports, as torch.onnx.export writes them (opset 13, no editing of the file afterwards):
torchvision ResNet-18 and SqueezeNet 1.1 whole at 64x64, the features of AlexNet (96x96) and VGG16
(64x64) — their classifiers need 224x224 and hundreds of MB — and two tiny networks: one whose equal
zero biases the exporter shares through Identity nodes, one exported without constant folding so that
its bias is computed by Cast / Concat / Reshape / Transpose / Shape / Slice / Gather over Constant
nodes and initializers. Weights are seeded He-normal; many biases (and, in ResNet, the BatchNorm
shifts) are zero, which is what makes the exporter deduplicate them into Identity nodes; the script
checks that each file really has the nodes it is meant to test. The reference is the float64 forward
pass of the float32 weights on a seeded input. A folder whose manifest records this script's hash is
left as it is (--force regenerates). Without torch it writes a manifest saying so, and the tests skip.
Run: /usr/bin/python3 make_exported.py --out DIR
"""
import argparse
import hashlib
import json
import math
import os
import time
import warnings

OPSET = 13


def randomise(model, seed):
    """He-normal weights; biases of three Conv/Linear layers in four zero, of the rest small and random;
    BatchNorm of every other layer left at its defaults (a zero shift, so the folded biases are zero too)."""
    import torch
    import torch.nn as nn
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        for i, m in enumerate(layers):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / m.weight[0].numel()))
            if m.bias is not None:
                m.bias.copy_(torch.zeros(m.bias.shape) if i % 4 != 1 else torch.randn(m.bias.shape, generator=g) * 0.1)
        norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for i, m in enumerate(norms):
            if i % 2 == 0:
                continue
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)


def tiny_models():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SharedBias(nn.Module):
        """Three layers with equal zero biases of 4: the exporter keeps one and renames it twice."""

        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.fc = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 4, 3), nn.Linear(4 * 4 * 4, 4)

        def forward(self, x):
            x = torch.relu(self.c2(torch.relu(self.c1(x))))
            return self.fc(torch.flatten(x, 1))

    class ComputedBias(nn.Module):
        """A bias computed from a float16 and a float32 buffer; exported unfolded, it is a constant subgraph."""

        def __init__(self):
            super().__init__()
            self.c1, self.c2, self.fc = nn.Conv2d(3, 4, 3), nn.Conv2d(4, 6, 3), nn.Linear(6 * 4 * 4, 5)
            self.register_buffer("b_half", torch.zeros(3, dtype=torch.float16))
            self.register_buffer("b_rest", torch.zeros(3))

        def forward(self, x):
            b = torch.cat([self.b_half.float(), self.b_rest]).reshape(2, 3).t().flatten()
            x = torch.relu(self.c1(x))
            x = torch.relu(F.conv2d(x, self.c2.weight, b[torch.tensor([5, 4, 3, 2, 1, 0])]))
            return self.fc(x.reshape(1, -1))

    def fill_buffers(m, seed):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            m.b_half.copy_((torch.randn(3, generator=g) * 0.1).half())
            m.b_rest.copy_(torch.randn(3, generator=g) * 0.1)

    return SharedBias, ComputedBias, fill_buffers


def bias_producers(model):
    """Op types of the nodes that produce Conv and Gemm biases (inputs 2)."""
    producer = {o: n.op_type for n in model.graph.node for o in n.output}
    return sorted({producer[n.input[2]] for n in model.graph.node
                   if n.op_type in ("Conv", "Gemm") and len(n.input) > 2 and n.input[2] in producer})


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true", help="regenerate even when the folder is up to date")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest_path = os.path.join(args.out, "manifest.json")
    try:
        import numpy as np
        import onnx
        import torch
        import torchvision
    except ImportError as e:  # the C++ tests skip, naming the reason
        with open(manifest_path, "w") as f:
            json.dump({"skipped": f"python3-torch, torchvision, onnx or numpy is absent ({e})"}, f)
        print(f"make_exported: skipped, {e}")
        return
    t0 = time.time()
    with open(__file__, "rb") as f:
        source_hash = hashlib.sha256(f.read() + torch.__version__.encode()).hexdigest()
    try:
        with open(manifest_path) as f:
            old = json.load(f)
        files = [x for c in old.get("cases", []) for x in (c["onnx"], c["input"], c["expected"])]
        if not args.force and old.get("source_sha256") == source_hash and all(
                os.path.exists(os.path.join(args.out, x)) for x in files):
            print(f"make_exported: {args.out} is up to date")
            return
    except (OSError, ValueError):
        pass
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # a half-written folder never looks complete
    warnings.filterwarnings("ignore")  # torch.onnx's notes on tracing
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(min(os.cpu_count() or 1, 8))
    SharedBias, ComputedBias, fill_buffers = tiny_models()
    tv = torchvision.models
    # name, model, input size, constant folding by the exporter, op types the file must contain,
    # op types that must produce a Conv/Gemm bias
    specs = [
        ("tiny_shared_bias", lambda: SharedBias(), 8, True, {"Identity"}, {"Identity"}),
        ("tiny_computed_bias", lambda: ComputedBias(), 8, False,
         {"Constant", "Cast", "Concat", "Reshape", "Transpose", "Shape", "Slice", "Gather"}, {"Gather"}),
        ("alexnet_features", lambda: tv.alexnet(weights=None).features, 96, True, {"Identity"}, {"Identity"}),
        ("vgg16_features", lambda: tv.vgg16(weights=None).features, 64, True, {"Identity"}, {"Identity"}),
        ("resnet18", lambda: tv.resnet18(weights=None), 64, True, {"Identity", "Add", "Gemm"}, {"Identity"}),
        ("squeezenet1_1", lambda: tv.squeezenet1_1(weights=None), 64, True, {"Identity", "Concat"}, {"Identity"}),
    ]
    cases = []
    for i, (name, ctor, size, fold, must_have, bias_from) in enumerate(specs):
        t = time.time()
        seed = 2000 + i
        torch.manual_seed(seed)
        model = ctor().eval()
        randomise(model, seed)
        if hasattr(model, "b_half"):
            fill_buffers(model, seed)
        x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))
        path = os.path.join(args.out, name + ".onnx")
        torch.onnx.export(model, x, path, opset_version=OPSET, input_names=["input"], output_names=["output"],
                          do_constant_folding=fold)
        with torch.no_grad():  # the reference: float64 arithmetic on the float32 weights
            want = model.double()(x.double()).numpy()
        m = onnx.load(path)
        ops = sorted({n.op_type for n in m.graph.node})
        missing = sorted(must_have - set(ops))
        producers = bias_producers(m)
        assert not missing, f"{name}: the exported file has no {missing} nodes (ops: {ops})"
        assert bias_from <= set(producers), f"{name}: biases come from {producers}, expected {sorted(bias_from)}"
        np.save(os.path.join(args.out, name + ".input.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(args.out, name + ".expected.npy"), want)
        cases.append({"name": name, "onnx": name + ".onnx", "input": name + ".input.npy",
                      "expected": name + ".expected.npy", "input_shape": list(x.shape), "ops": ops,
                      "bias_producers": producers, "tolerance": 1e-4})
        print(f"{name}: {time.time() - t:.1f} s, ops {ops}, biases from {producers}", flush=True)
    with open(manifest_path + ".tmp", "w") as f:
        json.dump({"generator": "tests/golden/make_exported.py", "source_sha256": source_hash,
                   "torch": torch.__version__, "opset": OPSET, "cases": cases}, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"make_exported: {len(cases)} cases in {time.time() - t0:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
