#!/usr/bin/env python3
"""The PyTorch-on-GPU baseline of scripts/device-check.sh: forward images/s and a batched PDA loop
(seconds per image, extrapolated to every window at stride 1) for the same networks pda runs.

Networks: BVLC AlexNet (227 px), BVLC GoogLeNet and VGG16 (224 px) defined here with the structure of
tests/golden/make_golden.py (torchvision's alexnet/googlenet have other topologies), PyTorch's
default random initialisation; SqueezeNet 1.1 as torchvision's squeezenet1_1 at 227 px (the same fire
modules as squeezenet1.1-caffe; random weights: the cost is the network, not the weights).

PDA loop, per batch of W windows × S samples (k × k, all channels, rows outer, columns inner,
stride 1, the first --windows windows): the clean image copied W·S times on the device, each copy's
window overwritten by Gaussian noise of the same shape (an approximation of the conditional sampler:
pda draws from a Gaussian conditioned on the window's ring, whose cost is a small GEMM, not the
network), softmax of the network, the mean of the S probability vectors, weight of evidence with the
Laplace correction for the top-3 classes of the clean image, added to a per-pixel map. Timed after a
warm-up batch, with cudnn.benchmark on; seconds per image = time × (all stride-1 windows) / windows.

Precisions: fp32 (TF32 off), tf32, fp16 and bf16 (torch.autocast: 16-bit convolutions and GEMMs with
FP32 accumulation, softmax in FP32) — the same scheme as pda's.

usage: pda_torch_gpu.py --out torch.json [--forward] [--pda alexnet=2000,googlenet=1000,...]
       [--precisions fp32,fp16,bf16] [--k 10] [--samples 10] [--repeat 2] [--time-limit SECONDS]
The JSON is rewritten after every measurement, so a run cut short keeps what it measured.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- networks (tests/golden/make_golden.py's structure, width 1) ---------------------------------
class BvlcAlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, stride=4)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.fc6 = nn.Linear(256 * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.lrn = nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)

    def forward(self, x):
        x = F.max_pool2d(self.lrn(F.relu(self.conv1(x))), 3, 2)
        x = F.max_pool2d(self.lrn(F.relu(self.conv2(x))), 3, 2)
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = F.max_pool2d(F.relu(self.conv5(x)), 3, 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc7(F.relu(self.fc6(x))))
        return self.fc8(x)


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


class Inception(nn.Module):
    def __init__(self, cin, n1, n3r, n3, n5r, n5, npp):
        super().__init__()
        self.b1 = nn.Conv2d(cin, n1, 1)
        self.b3r, self.b3 = nn.Conv2d(cin, n3r, 1), nn.Conv2d(n3r, n3, 3, padding=1)
        self.b5r, self.b5 = nn.Conv2d(cin, n5r, 1), nn.Conv2d(n5r, n5, 5, padding=2)
        self.bp = nn.Conv2d(cin, npp, 1)

    def forward(self, x):
        return torch.cat([F.relu(self.b1(x)), F.relu(self.b3(F.relu(self.b3r(x)))),
                          F.relu(self.b5(F.relu(self.b5r(x)))),
                          F.relu(self.bp(F.max_pool2d(x, 3, 1, 1, ceil_mode=True)))], 1)


class BvlcGoogLeNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.conv2r = nn.Conv2d(64, 64, 1)
        self.conv2 = nn.Conv2d(64, 192, 3, padding=1)
        self.lrn = nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0)
        blocks, cin = [], 192
        for _, n1, n3r, n3, n5r, n5, npp in INCEPTION:
            blocks.append(Inception(cin, n1, n3r, n3, n5r, n5, npp))
            cin = n1 + n3 + n5 + npp
        self.blocks = nn.ModuleList(blocks)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.lrn(F.max_pool2d(F.relu(self.conv1(x)), 3, 2, ceil_mode=True))
        x = self.lrn(F.relu(self.conv2(F.relu(self.conv2r(x)))))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        for (name, *_), block in zip(INCEPTION, self.blocks):
            x = block(x)
            if name in ("inception_3b", "inception_4e"):
                x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        x = F.avg_pool2d(x, 7, 1)
        return self.classifier(torch.flatten(x, 1))


VGG16_CONVS = [64, 64, "pool", 128, 128, "pool", 256, 256, 256, "pool", 512, 512, 512, "pool", 512, 512, 512, "pool"]


class Vgg16(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        convs, cin = [], 3
        for item in VGG16_CONVS:
            if item != "pool":
                convs.append(nn.Conv2d(cin, item, 3, padding=1))
                cin = item
        self.convs = nn.ModuleList(convs)
        self.fc6, self.fc7, self.fc8 = nn.Linear(cin * 49, 4096), nn.Linear(4096, 4096), nn.Linear(4096, num_classes)

    def forward(self, x):
        convs = iter(self.convs)
        for item in VGG16_CONVS:
            x = F.max_pool2d(x, 2, 2) if item == "pool" else F.relu(next(convs)(x))
        x = torch.flatten(x, 1)
        return self.fc8(F.relu(self.fc7(F.relu(self.fc6(x)))))


def make_net(name):
    if name == "alexnet":
        return BvlcAlexNet(), 227
    if name == "googlenet":
        return BvlcGoogLeNet(), 224
    if name == "vgg16":
        return Vgg16(), 224
    if name == "squeezenet":
        import torchvision
        return torchvision.models.squeezenet1_1(weights=None), 227
    raise SystemExit("unknown network " + name)


# ---- precision ------------------------------------------------------------------------------------
def set_precision(p):
    torch.backends.cuda.matmul.allow_tf32 = p == "tf32"
    torch.backends.cudnn.allow_tf32 = p == "tf32"


def autocast(p):
    if p in ("fp16", "bf16"):
        return torch.autocast("cuda", dtype=torch.float16 if p == "fp16" else torch.bfloat16)
    return torch.autocast("cuda", enabled=False)


# ---- measurements -----------------------------------------------------------------------------
def forward_rate(model, size, batch, p, iters=10):
    x = torch.randn(batch, 3, size, size, device="cuda") * 50
    with torch.no_grad(), autocast(p):
        for _ in range(3):
            model(x)
        ts = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            model(x)
            e.record()
            e.synchronize()
            ts.append(s.elapsed_time(e))
    return batch * 1e3 / statistics.median(ts)


def pda_run(model, x, windows, k, S, per_batch, targets, p0, p):
    """The PDA loop over `windows` ((row, col) pairs, a multiple of per_batch); returns the map."""
    _, C, H, W = x.shape
    ar = torch.arange(k, device="cuda")
    wmap = torch.zeros(len(targets), H * W, device="cuda")
    count = torch.zeros(H * W, device="cuda")
    n_classes = p0.numel()
    lap = lambda q: (q * 10000 + 1) / (10000 + n_classes)  # noqa: E731  Laplace correction, N = 10000
    odds0 = torch.log2(lap(p0[targets]) / (1 - lap(p0[targets])))
    for b in range(0, len(windows), per_batch):
        rc = windows[b:b + per_batch]  # (n, 2)
        n = rc.shape[0]
        imgs = x.expand(n * S, C, H, W).clone()
        rows = rc[:, 0].repeat_interleave(S)[:, None, None] + ar[None, :, None]
        cols = rc[:, 1].repeat_interleave(S)[:, None, None] + ar[None, None, :]
        bi = torch.arange(n * S, device="cuda")[:, None, None]
        # Gaussian noise of the window's shape in place of the conditional sample (see the docstring).
        imgs[bi, :, rows, cols] = torch.randn(n * S, k, k, C, device="cuda") * 50
        with autocast(p):
            logits = model(imgs)
        prob = F.softmax(logits.float(), dim=1).view(n, S, -1).mean(1)[:, targets]  # p(c | x \ w)
        we = torch.log2(lap(prob) / (1 - lap(prob))) - odds0  # (n, T)
        pix = ((rc[:, 0, None, None] + ar[None, :, None]) * W + rc[:, 1, None, None] + ar[None, None, :]).reshape(n, -1)
        wmap.index_add_(1, pix.reshape(-1), we.t().repeat_interleave(k * k, dim=1))
        count.index_add_(0, pix.reshape(-1), torch.ones(pix.numel(), device="cuda"))
    return wmap / count.clamp(min=1)


def pda_seconds(model, size, p, n_windows, k, S, per_batch, repeat):
    x = torch.randn(1, 3, size, size, device="cuda") * 50
    with torch.no_grad():
        with autocast(p):
            p0 = F.softmax(model(x).float(), dim=1)[0]
        targets = torch.topk(p0, 3).indices
        side = size - k + 1
        n_windows = max(per_batch, n_windows // per_batch * per_batch)
        idx = torch.arange(n_windows, device="cuda")
        windows = torch.stack([idx // side, idx % side], 1)
        pda_run(model, x, windows[:per_batch], k, S, per_batch, targets, p0, p)  # warm-up (cudnn.benchmark)
        torch.cuda.synchronize()
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            pda_run(model, x, windows, k, S, per_batch, targets, p0, p)
            torch.cuda.synchronize()
            ts.append(time.perf_counter() - t)
    t = statistics.median(ts)
    return {"windows": n_windows, "seconds": t, "images_per_s": n_windows * S / t,
            "s_per_image": t * side * side / n_windows, "batch": per_batch * S}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--forward", action="store_true")
    ap.add_argument("--pda", default="", help="net=windows,... (alexnet, googlenet, vgg16, squeezenet)")
    ap.add_argument("--precisions", default="fp32,fp16,bf16", help="for the PDA loop")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--time-limit", type=float, default=1e9, help="start nothing new after this many seconds")
    a = ap.parse_args()
    t0 = time.time()
    res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "forward": [], "pda": [],
           "sampler": "Gaussian noise of the window's shape (conditional-like; the cost is the network)",
           "skipped": []}

    def save():
        json.dump(res, open(a.out, "w"), indent=1)

    def late(what):
        if time.time() - t0 > a.time_limit:
            res["skipped"].append(what)
            print("skipped (time limit):", what, flush=True)
            return True
        return False

    torch.backends.cudnn.benchmark = True
    if a.forward:
        for name, batches in (("alexnet", [64, 256, 1024]), ("googlenet", [64, 256]), ("vgg16", [32, 128])):
            model, size = make_net(name)
            model = model.cuda().eval()
            for p in ("fp32", "tf32", "fp16", "bf16"):
                set_precision(p)
                for b in batches:
                    if late(f"forward {name} {p} {b}"):
                        continue
                    r = {"net": name, "precision": p, "batch": b, "images_per_s": forward_rate(model, size, b, p)}
                    res["forward"].append(r)
                    print(r, flush=True)
                    save()
            del model
            torch.cuda.empty_cache()
    for item in filter(None, a.pda.split(",")):
        name, n_windows = item.split("=")
        model, size = make_net(name)
        model = model.cuda().eval()
        per_batch = 25 if name == "vgg16" else 100  # windows per batch: 250 or 1000 images
        for p in a.precisions.split(","):
            set_precision(p)
            if late(f"pda {name} {p}"):
                continue
            r = {"net": name, "precision": p, "k": a.k, "samples": a.samples, "stride": 1}
            try:
                r.update(pda_seconds(model, size, p, int(n_windows), a.k, a.samples, per_batch, a.repeat))
            except Exception as e:  # noqa: BLE001  one failure must not lose the other rows
                r["error"] = f"{type(e).__name__}: {e}"
            res["pda"].append(r)
            print(r, flush=True)
            save()
        del model
        torch.cuda.empty_cache()
    save()


if __name__ == "__main__":
    sys.exit(main())
