#!/usr/bin/env python3
"""Golden outputs for pda's tests, computed by an independent framework (PyTorch 1.13, float64).

Defines BVLC AlexNet / GoogLeNet / VGG16 with the Caffe layer names pda's built-in builders use
(networks/builtin.cc), takes torchvision's alexnet / vgg16 / googlenet, fills seeded random
weights, exports ONNX (opset 13, static batch) and writes inputs, expected outputs (.npy) and
manifest.json. Deterministic, offline; a folder whose manifest records this script's hash is left
as it is (--force regenerates). Full-width cases run at batch 1 (vgg16_torchvision is the full
138 M-parameter VGG16, 553 MB), narrow ones at batch 2–3. Run: /usr/bin/python3 make_golden.py --out DIR
"""
import argparse
import hashlib
import json
import math
import os
import time
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

OPSET = 13


# ---- LRN exported as one ONNX LRN node (torch decomposes nn.LocalResponseNorm) -------------------
class _LRNFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        return F.local_response_norm(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size, alpha, beta, k):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.Module):
    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)


# ---- channel scaling shared with networks/builtin.cc (scaled_channels) --------------------------
def scaled(c, width, multiple=1):
    """round(c·width) to a multiple of `multiple`, at least `multiple`; halves round up as in C++."""
    return max(multiple, int(math.floor(c * width / multiple + 0.5)) * multiple)


class Named(nn.Module):
    """Layers kept under their Caffe names ('/' stored as '__'; renamed back in the ONNX file)."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleDict()

    def add(self, name, module):
        self.layers[name.replace("/", "__")] = module
        return module

    def __getitem__(self, name):
        return self.layers[name.replace("/", "__")]


def caffe_param_name(torch_name):
    assert torch_name.startswith("layers.")
    return torch_name[len("layers."):].replace("__", "/")


# ---- BVLC AlexNet -------------------------------------------------------------------------------
class BvlcAlexNet(Named):
    def __init__(self, width=1.0, num_classes=1000):
        super().__init__()
        c = [scaled(n, width, 2) for n in (96, 256, 384, 384, 256)]
        fc = scaled(4096, width)
        self.add("conv1", nn.Conv2d(3, c[0], 11, stride=4))
        self.add("conv2", nn.Conv2d(c[0], c[1], 5, padding=2, groups=2))
        self.add("conv3", nn.Conv2d(c[1], c[2], 3, padding=1))
        self.add("conv4", nn.Conv2d(c[2], c[3], 3, padding=1, groups=2))
        self.add("conv5", nn.Conv2d(c[3], c[4], 3, padding=1, groups=2))
        self.add("fc6", nn.Linear(c[4] * 6 * 6, fc))
        self.add("fc7", nn.Linear(fc, fc))
        self.add("fc8", nn.Linear(fc, num_classes))
        self.lrn = LRN()

    def forward(self, x):
        L = self.layers
        x = F.max_pool2d(self.lrn(F.relu(L["conv1"](x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(L["conv2"](x))), 3, 2)
        x = F.relu(L["conv3"](x))
        x = F.relu(L["conv4"](x))
        x = F.max_pool2d(F.relu(L["conv5"](x)), 3, 2)
        x = torch.flatten(x, 1)
        x = F.relu(L["fc6"](x))
        x = F.relu(L["fc7"](x))
        logits = L["fc8"](x)
        return logits, F.softmax(logits, dim=1)


# ---- BVLC GoogLeNet (no auxiliary heads) --------------------------------------------------------
INCEPTION = [  # name, 1x1, 3x3_reduce, 3x3, 5x5_reduce, 5x5, pool_proj (deploy.prototxt)
    ("inception_3a", 64, 96, 128, 16, 32, 32),
    ("inception_3b", 128, 128, 192, 32, 96, 64),
    ("inception_4a", 192, 96, 208, 16, 48, 64),
    ("inception_4b", 160, 112, 224, 24, 64, 64),
    ("inception_4c", 128, 128, 256, 24, 64, 64),
    ("inception_4d", 112, 144, 288, 32, 64, 64),
    ("inception_4e", 256, 160, 320, 32, 128, 128),
    ("inception_5a", 256, 160, 320, 32, 128, 128),
    ("inception_5b", 384, 192, 384, 48, 128, 128),
]


class BvlcGoogLeNet(Named):
    def __init__(self, width=1.0, num_classes=1000):
        super().__init__()
        s = lambda n: scaled(n, width)  # noqa: E731
        self.add("conv1/7x7_s2", nn.Conv2d(3, s(64), 7, stride=2, padding=3))
        self.add("conv2/3x3_reduce", nn.Conv2d(s(64), s(64), 1))
        self.add("conv2/3x3", nn.Conv2d(s(64), s(192), 3, padding=1))
        cin = s(192)
        for name, n1, n3r, n3, n5r, n5, npp in INCEPTION:
            self.add(name + "/1x1", nn.Conv2d(cin, s(n1), 1))
            self.add(name + "/3x3_reduce", nn.Conv2d(cin, s(n3r), 1))
            self.add(name + "/3x3", nn.Conv2d(s(n3r), s(n3), 3, padding=1))
            self.add(name + "/5x5_reduce", nn.Conv2d(cin, s(n5r), 1))
            self.add(name + "/5x5", nn.Conv2d(s(n5r), s(n5), 5, padding=2))
            self.add(name + "/pool_proj", nn.Conv2d(cin, s(npp), 1))
            cin = s(n1) + s(n3) + s(n5) + s(npp)
        self.add("loss3/classifier", nn.Linear(cin, num_classes))
        self.lrn = LRN()

    def inception(self, name, x):
        L = self
        b1 = F.relu(L[name + "/1x1"](x))
        b3 = F.relu(L[name + "/3x3"](F.relu(L[name + "/3x3_reduce"](x))))
        b5 = F.relu(L[name + "/5x5"](F.relu(L[name + "/5x5_reduce"](x))))
        bp = F.relu(L[name + "/pool_proj"](F.max_pool2d(x, 3, 1, 1, ceil_mode=True)))
        return torch.cat([b1, b3, b5, bp], 1)

    def forward(self, x):
        x = F.relu(self["conv1/7x7_s2"](x))
        x = self.lrn(F.max_pool2d(x, 3, 2, ceil_mode=True))
        x = F.relu(self["conv2/3x3_reduce"](x))
        x = self.lrn(F.relu(self["conv2/3x3"](x)))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        for name, *_ in INCEPTION:
            x = self.inception(name, x)
            if name in ("inception_3b", "inception_4e"):
                x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        x = F.avg_pool2d(x, 7, 1, count_include_pad=False)  # pool5/7x7_s1 (no padding: exported without Pad)
        logits = self["loss3/classifier"](torch.flatten(x, 1))
        return logits, F.softmax(logits, dim=1)


# ---- VGG16 (Caffe names; same topology as torchvision's vgg16) ----------------------------------
VGG16_CONVS = [("conv1_1", 64), ("conv1_2", 64), "pool", ("conv2_1", 128), ("conv2_2", 128), "pool",
               ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), "pool", ("conv4_1", 512), ("conv4_2", 512),
               ("conv4_3", 512), "pool", ("conv5_1", 512), ("conv5_2", 512), ("conv5_3", 512), "pool"]


class Vgg16(Named):
    def __init__(self, width=1.0, num_classes=1000):
        super().__init__()
        cin = 3
        for item in VGG16_CONVS:
            if item != "pool":
                self.add(item[0], nn.Conv2d(cin, scaled(item[1], width), 3, padding=1))
                cin = scaled(item[1], width)
        fc = scaled(4096, width)
        self.add("fc6", nn.Linear(cin * 7 * 7, fc))
        self.add("fc7", nn.Linear(fc, fc))
        self.add("fc8", nn.Linear(fc, num_classes))

    def forward(self, x):
        for item in VGG16_CONVS:
            x = F.max_pool2d(x, 2, 2) if item == "pool" else F.relu(self[item[0]](x))
        x = torch.flatten(x, 1)
        x = F.relu(self["fc7"](F.relu(self["fc6"](x))))
        logits = self["fc8"](x)
        return logits, F.softmax(logits, dim=1)


# ---- torchvision parameter names -> the builders' names ------------------------------------------
def tv_alexnet_names(n):
    m = {"features.0": "conv1", "features.3": "conv2", "features.6": "conv3", "features.8": "conv4",
         "features.10": "conv5", "classifier.1": "fc6", "classifier.4": "fc7", "classifier.6": "fc8"}
    layer, _, p = n.rpartition(".")
    return m[layer] + "." + p


def tv_vgg16_names(n):
    convs = [it[0] for it in VGG16_CONVS if it != "pool"]
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    m = {f"features.{i}": c for i, c in zip(idx, convs)}
    m.update({"classifier.0": "fc6", "classifier.3": "fc7", "classifier.6": "fc8"})
    layer, _, p = n.rpartition(".")
    return m[layer] + "." + p


# ---- seeded weights with activations of a chosen scale ------------------------------------------
def randomise(model, x, targets, seed):
    """He-normal weights, random biases and BN statistics, then each Conv/Linear rescaled (weight and
    bias together, which scales its output exactly) so its output on x has the target std: large
    before LRN (as with Caffe's 0–255 inputs, so LRN is far from the identity), O(1) elsewhere."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
                if m.bias is not None:
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
        hooks = []

        def conv_hook(name):
            def hook(m, inp, out):
                s = targets(name) / max(out.std().item(), 1e-12)
                m.weight.mul_(s)
                if m.bias is not None:
                    m.bias.mul_(s)
                return out * s
            return hook

        def bn_hook(m, inp):  # statistics near the real ones, perturbed so BN is not a no-op
            v = inp[0].transpose(0, 1).flatten(1)
            mean, var = v.mean(1), v.var(1)
            m.running_mean.copy_(mean + torch.randn(mean.shape, generator=g) * 0.2 * var.sqrt())
            m.running_var.copy_(var * (torch.rand(var.shape, generator=g) + 0.5))

        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                hooks.append(m.register_forward_hook(conv_hook(name)))
            elif isinstance(m, nn.BatchNorm2d):
                hooks.append(m.register_forward_pre_hook(bn_hook))
        model(x)
        for h in hooks:
            h.remove()


def export(model, x, path, output_names, rename):
    torch.onnx.export(model, x, path, opset_version=OPSET, input_names=["data"], output_names=output_names,
                      do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    names = {t.name: rename(t.name) for t in m.graph.initializer}
    for t in m.graph.initializer:
        t.name = names[t.name]
    for node in m.graph.node:
        node.input[:] = [names.get(i, i) for i in node.input]
    for vi in m.graph.input:
        vi.name = names.get(vi.name, vi.name)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def make_case(out, name, model, input_size, batch, seed, targets, output_names, rename, builtin=None):
    torch.manual_seed(seed)
    model.eval()
    x = torch.randn(batch, 3, input_size, input_size, generator=torch.Generator().manual_seed(seed + 1))
    randomise(model, x, targets, seed)
    with torch.no_grad():  # reference in float64 with the float32 weights
        outs = model.double()(x.double())
    model.float()
    outs = outs if isinstance(outs, tuple) else (outs,)
    export(model, x, os.path.join(out, name + ".onnx"), output_names, rename)
    np.save(os.path.join(out, name + ".input.npy"), x.numpy().astype(np.float32))
    case = {"name": name, "onnx": name + ".onnx", "input_name": "data", "input": name + ".input.npy",
            "input_shape": list(x.shape), "tolerance": 1e-4, "outputs": []}
    for oname, o in zip(output_names, outs):
        fn = f"{name}.{oname.replace('/', '_')}.npy"
        np.save(os.path.join(out, fn), o.numpy().astype(np.float32))
        case["outputs"].append({"name": oname, "expected": fn})
    if builtin:
        case["builtin"] = builtin
    return case


def up_to_date(out, manifest_path, source_hash):
    try:
        with open(manifest_path) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return False
    files = [f for c in m.get("cases", []) for f in [c["onnx"], c["input"]] + [o["expected"] for o in c["outputs"]]]
    return m.get("source_sha256") == source_hash and all(os.path.exists(os.path.join(out, f)) for f in files)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true", help="regenerate even when the folder is up to date")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    with open(__file__, "rb") as f:
        source_hash = hashlib.sha256(f.read() + torch.__version__.encode()).hexdigest()
    manifest_path = os.path.join(args.out, "manifest.json")
    if not args.force and up_to_date(args.out, manifest_path, source_hash):
        print(f"make_golden: {args.out} is up to date")
        return
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # a half-written folder never looks complete
    warnings.filterwarnings("ignore")  # torch.onnx's notes on tracing and custom ops
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(min(os.cpu_count() or 1, 8))  # float64 reference: threads change only rounding

    # output std per layer: large before the LRNs, logits spread enough for a non-flat softmax
    before_lrn = ("layers.conv1", "layers.conv2", "layers.conv1__7x7_s2", "layers.conv2__3x3")
    logits = ("layers.fc8", "layers.loss3__classifier", "classifier.6", "fc")
    targets = lambda n: 100.0 if n in before_lrn else 3.0 if n in logits else 1.0  # noqa: E731
    both = ["fc8", "prob"]
    cases = []
    # (name, model, input size, batch, outputs, rename, builtin spec)
    specs = [
        ("alexnet_bvlc_w1", lambda: BvlcAlexNet(1.0), 227, 1, both, caffe_param_name,
         {"name": "alexnet", "width": 1.0}),
        ("alexnet_bvlc_w0.25", lambda: BvlcAlexNet(0.25), 227, 2, both, caffe_param_name,
         {"name": "alexnet", "width": 0.25}),
        ("googlenet_bvlc_w1", lambda: BvlcGoogLeNet(1.0), 224, 1, ["loss3/classifier", "prob"], caffe_param_name,
         {"name": "googlenet", "width": 1.0}),
        ("googlenet_bvlc_w0.125", lambda: BvlcGoogLeNet(0.125), 224, 3, ["loss3/classifier", "prob"],
         caffe_param_name, {"name": "googlenet", "width": 0.125}),
        ("vgg16_w0.25", lambda: Vgg16(0.25), 224, 2, both, caffe_param_name, {"name": "vgg16", "width": 0.25}),
        ("vgg16_torchvision", lambda: torchvision.models.vgg16(weights=None), 224, 1, ["fc8"], tv_vgg16_names,
         {"name": "vgg16", "width": 1.0}),
        ("alexnet_torchvision", lambda: torchvision.models.alexnet(weights=None), 224, 1, ["fc8"], tv_alexnet_names,
         {"name": "alexnet_torchvision", "width": 1.0}),
        ("googlenet_torchvision",
         lambda: torchvision.models.googlenet(weights=None, aux_logits=False, transform_input=False,
                                              init_weights=False), 224, 1, ["fc"], lambda n: n,
         {"name": "googlenet_torchvision", "width": 1.0}),
    ]
    for i, (name, ctor, size, batch, outs, rename, builtin) in enumerate(specs):
        t = time.time()
        torch.manual_seed(1000 + i)
        model = ctor()
        case = make_case(args.out, name, model, size, batch, 1000 + i, targets, outs, rename, builtin)
        cases.append(case)
        print(f"{name}: {time.time() - t:.1f} s", flush=True)
    with open(manifest_path + ".tmp", "w") as f:
        json.dump({"generator": "tests/golden/make_golden.py", "source_sha256": source_hash,
                   "torch": torch.__version__, "opset": OPSET, "cases": cases}, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"make_golden: {len(cases)} cases in {time.time() - t0:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
