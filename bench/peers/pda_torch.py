#!/usr/bin/env python3
"""A straightforward batched PyTorch implementation of Prediction Difference Analysis (METHOD.md
§1–3): the peer pda's CPU explain loop is measured against, and an independent cross-check of its
maps (occlusion is deterministic, so the two must agree to float rounding).

Same windows (k × k, all channels, rows outer, columns inner, `--stride`, the first `--windows`),
S samples per window (occlusion: a constant, S = 1; marginal: the same place in S other images of
`--sample-images`; conditional: a Gaussian over l × l × C patches fitted here on `--sample-images`
or read from pda's `--sampler-file`, the window conditioned on its ring, context shifted inside the
image at borders), p(c|x\\w) as the mean of the S softmax vectors, weight of evidence with the
Laplace correction, per-pixel mean over covering windows. The model runs through a float32
PyTorch executor of the ONNX graph built from tests/real/onnx_torch.py's helpers (or, for
`alexnet` / `vgg16`, the BVLC AlexNet / VGG16 of tests/golden/make_golden.py with seeded random
weights: pda's built-ins' cost, not their values). Preprocessing follows the sidecar or `--preset`, or
for a built-in pda's `caffe` preset at the network's own input size (227 / 224), with PIL's antialiased
bilinear resize and a centre crop, as pda's does (bench/peers/pda_common.py, shared with pda_ort.py).

usage: pda_torch.py MODEL IMAGE [--preset caffe|torchvision] [--sampler occlusion|marginal|conditional]
       [--sample-images DIR] [--sampler-file F.pdas] [--k 10] [--pad 2] [--samples 10] [--stride 1] [--windows N]
       [--threads T] [--batch B] [--repeat R] [--warmup W] [--classes top3|all|ID,...] [--save DIR]
       > result.json   (resampled images/s, seconds per image at --stride and at stride 1)
"""
import os
import statistics
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "real"))
sys.path.insert(0, HERE)
import pda_common  # noqa: E402
from onnx_torch import attrs, pad_nd, pool  # noqa: E402

# pda's `caffe` preset (io/model_desc.cc), which its built-in networks use at their own input size.
CAFFE = {"resize_shorter": 256, "channel_order": "BGR", "scale": 255, "mean": [104, 117, 123], "std": [1, 1, 1],
         "output_kind": "probabilities"}
BUILTIN = {"alexnet": ("BvlcAlexNet", 227), "vgg16": ("Vgg16", 224)}  # make_golden.py class, input size


# ---- the model: onnx_torch.py's node-by-node execution, float32, weights converted once ---------
class OnnxModel:
    def __init__(self, path):
        self.model = onnx.load(path)
        self.opset = max(o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx"))
        self.weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in self.model.graph.initializer}
        self.weights = {k: (t.float() if t.is_floating_point() else t) for k, t in self.weights.items()}
        self.input = [i.name for i in self.model.graph.input if i.name not in self.weights][0]
        self.nodes = [(n, attrs(n)) for n in self.model.graph.node]

    def __call__(self, x, output):
        v = dict(self.weights)
        v[self.input] = x
        for n, a in self.nodes:
            v[n.output[0]] = self.node(n.op_type, a, [v[name] if name else None for name in n.input])
        return v[output]

    def node(self, op, a, i):
        if op == "Conv":
            nd = i[1].dim() - 2
            pads = a.get("pads", [0] * 2 * nd)
            sym = pads[:nd] == pads[nd:]  # symmetric pads go to the convolution itself (no copy)
            xx = i[0] if sym else pad_nd(i[0], pads, 0.0)
            fn = [F.conv1d, F.conv2d, F.conv3d][nd - 1]
            return fn(xx, i[1], i[2] if len(i) > 2 else None, a.get("strides", [1] * nd), pads[:nd] if sym else 0,
                      a.get("dilations", [1] * nd), a.get("group", 1))
        if op == "Relu":
            return F.relu(i[0])
        if op == "MaxPool":
            return pool(i[0], a, "max", self.opset)
        if op == "AveragePool":
            return pool(i[0], a, "avg", self.opset)
        if op == "GlobalAveragePool":
            return i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True)
        if op == "GlobalMaxPool":
            return i[0].amax(dim=tuple(range(2, i[0].dim())), keepdim=True)
        if op == "LRN":
            return F.local_response_norm(i[0], a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0))
        if op == "Gemm":
            A = i[0].t() if a.get("transA", 0) else i[0]
            B = i[1].t() if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            return y + a.get("beta", 1.0) * i[2] if len(i) > 2 and i[2] is not None else y
        if op == "MatMul":
            return torch.matmul(i[0], i[1])
        if op == "Flatten":
            ax = a.get("axis", 1)
            ax = ax + i[0].dim() if ax < 0 else ax
            return i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        if op == "Reshape":  # a leading 1 is the exported batch: keep the real one
            shape = [int(s) for s in i[1].tolist()]
            shape = [i[0].shape[j] if s == 0 else s for j, s in enumerate(shape)]
            if shape and shape[0] == 1 and i[0].shape[0] != 1:
                shape[0] = i[0].shape[0]
            return i[0].reshape(shape)
        if op == "Concat":
            return torch.cat(i, dim=a["axis"])
        if op == "Add":
            return i[0] + i[1]
        if op == "Mul":
            return i[0] * i[1]
        if op == "BatchNormalization":
            return F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5))
        if op == "Softmax":
            ax = a.get("axis", 1 if self.opset < 13 else -1)
            if self.opset < 13:
                ax = ax + i[0].dim() if ax < 0 else ax
                return torch.softmax(i[0].reshape(int(np.prod(i[0].shape[:ax])), -1), dim=1).reshape(i[0].shape)
            return torch.softmax(i[0], dim=ax)
        if op in ("Dropout", "Identity"):
            return i[0]
        raise SystemExit(f"pda_torch: op {op} not supported")


def load_model(name, preset=None):
    """(callable x → probabilities (N, K), preprocessing dict)."""
    if name in BUILTIN:
        sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "golden"))
        import make_golden  # noqa: E402
        cls, size = BUILTIN[name]
        torch.manual_seed(0)
        net = getattr(make_golden, cls)().eval()  # full width
        return (lambda x: net(x)[1]), dict(CAFFE, input_size=[size, size])
    m = OnnxModel(name)
    dims = next(i for i in m.model.graph.input if i.name == m.input).type.tensor_type.shape.dim
    pre = pda_common.model_preprocessing(name, preset, [d.dim_value or None for d in dims[2:4]])
    out = pre.get("output") or m.model.graph.output[0].name
    logits = pre["output_kind"] == "logits"
    return (lambda x: torch.softmax(m(x, out), dim=1) if logits else m(x, out)), pre


def preprocess(path, pre):
    """An image file → (1, C, H, W) float32 in network-input space, as pda's io/preprocess.cc."""
    return torch.from_numpy(pda_common.preprocess(path, pre))


image_files = pda_common.image_files


# ---- samplers: draw(window list) → (len, S, C, k, k) -------------------------------------------
class Occlusion:
    def __init__(self, fill, C, k):
        self.value = torch.full((1, 1, C, k, k), float(fill))

    def draw(self, x, wins, S, k):
        return self.value.expand(len(wins), 1, -1, -1, -1)


class Marginal:
    def __init__(self, images, seed):
        self.images = images  # (N, C, H, W), the explained image not among them
        self.rng = np.random.default_rng(seed)

    def draw(self, x, wins, S, k):
        out = []
        for r, c in wins:
            idx = torch.from_numpy(self.rng.choice(len(self.images), S, replace=False))
            out.append(self.images[idx, :, r:r + k, c:c + k])
        return torch.stack(out)


class Conditional:
    """Joint Gaussian over (C, l, l) patches; per window offset in its context one (A, L) pair."""

    def __init__(self, images, k, pad, seed, max_patches, H, W, fitted=None):
        self.k, self.l = k, k + 2 * pad
        self.C, self.H, self.W = images.shape[1] if fitted is None else fitted[2], H, W
        if fitted is None:  # fit here: all l × l patches of the sample images, a seeded subset, float64
            patches = F.unfold(images.double(), self.l).transpose(1, 2).reshape(-1, self.C * self.l * self.l)
            g = torch.Generator().manual_seed(seed)
            if len(patches) > max_patches:
                patches = patches[torch.randperm(len(patches), generator=g)[:max_patches]]
            self.mu = patches.mean(0)
            d = patches - self.mu
            self.cov = d.t() @ d / (len(patches) - 1)
        else:
            self.mu, self.cov = fitted[0], fitted[1]
        self.configs = {}
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.ridges = 0

    def config(self, dy, dx):
        if (dy, dx) not in self.configs:
            C, l, k = self.C, self.l, self.k
            inner = torch.zeros(C, l, l, dtype=torch.bool)
            inner[:, dy:dy + k, dx:dx + k] = True
            i, o = inner.flatten().nonzero().flatten(), (~inner).flatten().nonzero().flatten()
            s_oo, s_io, s_ii = self.cov[o][:, o], self.cov[i][:, o], self.cov[i][:, i]
            jitter = 0.0
            while True:
                L_oo, info = torch.linalg.cholesky_ex(s_oo + jitter * torch.eye(len(o), dtype=torch.float64))
                if info == 0:
                    break
                jitter = 1e-6 * float(s_oo.diagonal().mean()) if jitter == 0 else jitter * 10
                self.ridges += 1
            A = torch.cholesky_solve(s_io.t(), L_oo).t()  # Σ_io Σ_oo⁻¹ without an inverse
            cond = s_ii - A @ s_io.t()
            eye = torch.eye(len(i), dtype=torch.float64)
            L, _ = torch.linalg.cholesky_ex(cond + 1e-9 * float(cond.diagonal().mean()) * eye)
            self.configs[(dy, dx)] = (i, o, A.float(), L.float())
        return self.configs[(dy, dx)]

    def draw(self, x, wins, S, k):
        C, l, pad = self.C, self.l, (self.l - self.k) // 2
        out = torch.empty(len(wins), S, C, k, k)
        for j, (r, c) in enumerate(wins):
            cr, cc = min(max(r - pad, 0), self.H - l), min(max(c - pad, 0), self.W - l)
            i, o, A, L = self.config(r - cr, c - cc)
            ctx = x[0, :, cr:cr + l, cc:cc + l].reshape(-1)
            mean = self.mu[i].float() + A @ (ctx[o] - self.mu[o].float())
            z = torch.randn(len(i), S, generator=self.gen)
            out[j] = (mean[:, None] + L @ z).t().reshape(S, C, k, k)
        return out


def read_sampler_file(path, k, pad):
    """pda's fitted Gaussian (docs/sampler-file.md): (mean, cov, C), float64."""
    mean, cov, channels = pda_common.read_sampler_file(path, k, pad)
    return torch.from_numpy(mean), torch.from_numpy(cov), channels


# ---- the PDA loop ------------------------------------------------------------------------------
def log2_odds(p, N, K):
    p = (p * N + 1) / (N + K)
    return torch.log2(p / (1 - p))


def explain(net, x, p0, sampler, wins, k, S, batch, classes, laplace_n):
    """Relevance (M, H, W) float32 and counts (H, W) from the clean image's probabilities p0 (K,) and
    the resampled images, in batches of ≤ batch (whole windows)."""
    with torch.inference_mode():
        p0 = p0.double()
        K = p0.numel()
        lo0 = log2_odds(p0[classes], laplace_n, K)
        H, W = x.shape[2:]
        rel = torch.zeros(len(classes), H, W, dtype=torch.float64)
        counts = torch.zeros(H, W, dtype=torch.int32)
        per_batch = max(1, batch // S)  # whole windows per batch
        buf = x.expand(per_batch * S, -1, -1, -1).contiguous()
        for w0 in range(0, len(wins), per_batch):
            chunk = wins[w0:w0 + per_batch]
            n = len(chunk) * S
            samples = sampler.draw(x, chunk, S, k)
            b = buf[:n]
            b.copy_(x.expand(n, -1, -1, -1))
            for j, (r, c) in enumerate(chunk):
                b[j * S:(j + 1) * S, :, r:r + k, c:c + k] = samples[j]
            p = net(b).double().reshape(len(chunk), S, K).mean(1)  # p(c|x\w): mean of the softmax vectors
            we = lo0[None] - log2_odds(p[:, classes], laplace_n, K)  # (windows, M)
            for j, (r, c) in enumerate(chunk):
                rel[:, r:r + k, c:c + k] += we[j][:, None, None]
                counts[r:r + k, c:c + k] += 1
    rel = torch.where(counts > 0, rel / counts.clamp(min=1), torch.zeros(()))
    return rel.float(), counts


def main():
    ap = pda_common.pda_arguments(
        __doc__, ".onnx with its sidecar .json beside it, or alexnet | vgg16 (random weights)", 64,
        "resampled images per forward (whole windows)", "windows of the warm-up run (default: one batch)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    net, pre = load_model(a.model, a.preset)
    x = preprocess(a.image, pre)
    C, H, W = x.shape[1:]
    S = 1 if a.sampler == "occlusion" else a.samples
    t = time.perf_counter()
    if a.sampler == "occlusion":
        sampler = Occlusion(a.fill, C, a.k)
    elif a.sampler == "conditional" and a.sampler_file:
        fitted = read_sampler_file(a.sampler_file, a.k, a.pad)
        sampler = Conditional(None, a.k, a.pad, a.seed, a.max_patches, H, W, fitted)
    else:
        if not a.sample_images:
            raise SystemExit("pda_torch: --sample-images is required for the " + a.sampler + " sampler")
        me = os.path.realpath(a.image)
        files = [f for f in image_files(a.sample_images) if os.path.realpath(f) != me]
        images = torch.cat([preprocess(f, pre) for f in files])
        if a.sampler == "marginal":
            if len(images) < S:
                raise SystemExit(f"pda_torch: {len(images)} sample images, {S} samples asked for")
            sampler = Marginal(images, a.seed)
        else:
            sampler = Conditional(images, a.k, a.pad, a.seed, a.max_patches, H, W)
    setup_s = time.perf_counter() - t
    def starts(n):  # 0, stride, 2·stride, … and the border position n − k (METHOD.md §2)
        return pda_common.window_starts(n, a.k, a.stride)
    wins = pda_common.windows(H, W, a.k, a.stride)
    if a.windows >= 0:
        wins = wins[:a.windows]
    with torch.inference_mode():
        p0 = net(x)[0]
    K = p0.numel()
    if a.classes == "all":
        classes = list(range(K))
    elif a.classes == "top3":
        classes = p0.argsort(descending=True)[:3].tolist()
    else:
        classes = [int(c) for c in a.classes.split(",")]
    warm = max(1, a.batch // S) if a.warmup < 0 else a.warmup
    if warm:
        explain(net, x, p0, sampler, wins[:warm], a.k, S, a.batch, classes, a.laplace_n)
    times, (rel, counts) = pda_common.timed_runs(
        lambda: explain(net, x, p0, sampler, wins, a.k, S, a.batch, classes, a.laplace_n), a.repeat)
    sec = statistics.median(times)
    rate = len(wins) * S / sec
    full = (H - a.k + 1) * (W - a.k + 1)
    at_stride = len(starts(H)) * len(starts(W))
    res = {"peer": "bench/peers/pda_torch.py", "torch": torch.__version__, "threads": a.threads, "model": a.model,
           "sampler": a.sampler, "k": a.k, "pad": a.pad, "samples": S, "stride": a.stride, "windows": len(wins),
           "batch": max(1, a.batch // S) * S, "classes": classes, "setup_seconds": setup_s, "seconds": times,
           "images_per_s": rate, "seconds_per_image": at_stride * S / rate,
           "seconds_per_image_stride1": full * S / rate, "uncovered": int((counts == 0).sum())}
    pda_common.save_and_print(res, a.save, rel.numpy(), counts.numpy(), classes, p0)


if __name__ == "__main__":
    main()
