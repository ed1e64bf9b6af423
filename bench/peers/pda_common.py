"""The numpy parts the Python PDA peers share (bench/peers/pda_ort.py, bench/peers/pda_torch.py): a model's
preprocessing (pda's sidecar or preset, as api/loader.cc chooses it) and an image file brought into
network-input space as pda's io/preprocess.cc does, the windows of METHOD.md §2, pda's `.pdas` sampler
file, weight of evidence, and the occlusion, marginal and conditional samplers in numpy.
A module, not a program: `sys.path.insert(0, "bench/peers"); import pda_common`."""
import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image

# pda's presets (io/model_desc.cc); the input size is the graph's (api/loader.cc).
PRESETS = {
    "caffe": {"output_kind": "probabilities", "resize_shorter": 256, "crop": "center", "channel_order": "BGR",
              "scale": 255, "mean": [104, 117, 123], "std": [1, 1, 1]},
    "torchvision": {"output_kind": "logits", "resize_shorter": 256, "crop": "center", "channel_order": "RGB",
                    "scale": 1, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
}
REQUIRED = ("output_kind", "input_size", "resize_shorter", "channel_order", "scale", "mean", "std")


def model_preprocessing(model_path, preset=None, graph_hw=None):
    """The preprocessing dict of an .onnx file: `preset` if given (input size: graph_hw, the graph's
    (H, W)), else the sidecar <stem>.json beside it, as pda chooses."""
    if preset:
        if preset not in PRESETS:
            raise SystemExit(f"pda peer: unknown preset '{preset}' (caffe, torchvision)")
        if not graph_hw or not all(isinstance(v, int) and v > 0 for v in graph_hw):
            raise SystemExit(f"pda peer: {model_path}: the graph's input has no fixed H, W for the preset")
        return dict(PRESETS[preset], input_size=list(graph_hw))
    side = os.path.splitext(model_path)[0] + ".json"
    if not os.path.exists(side):
        raise SystemExit(f"pda peer: {model_path}: no sidecar {side}; pass --preset caffe or --preset torchvision")
    with open(side) as f:
        pre = json.load(f)
    missing = [k for k in REQUIRED if k not in pre]
    if missing:
        raise SystemExit(f"pda peer: {side}: missing {', '.join(missing)}")
    return pre


def preprocess(path, pre):
    """An image file → (1, C, H, W) float32 in network-input space, as pda's io/preprocess.cc: PIL's
    bilinear resize of the shorter side, centre crop, channel order, pixel·scale/255 rounded once to
    float32, then float32 mean and std."""
    im = Image.open(path).convert("RGB")
    h, w = pre["input_size"]
    s = pre["resize_shorter"]
    nh, nw = h, w
    if s > 0:
        shorter, longer = min(im.height, im.width), max(im.height, im.width)
        new_long = int(float(s * longer) / float(shorter))
        nw, nh = (s, new_long) if im.width <= im.height else (new_long, s)
    if (nh, nw) != (im.height, im.width):
        im = im.resize((nw, nh), Image.BILINEAR)
    top, left = (nh - h) // 2, (nw - w) // 2
    a = np.asarray(im, dtype=np.float64)[top:top + h, left:left + w]
    if pre["channel_order"] == "BGR":
        a = a[:, :, ::-1]
    a = (a * pre["scale"] / 255.0).astype(np.float32)  # rounded once to float, as pda's table
    a = (a - np.float32(pre["mean"])) / np.float32(pre["std"])
    return np.ascontiguousarray(a.transpose(2, 0, 1)[None]).astype(np.float32)


def image_files(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder)
                  if f.lower().endswith((".png", ".jpg", ".jpeg", ".bmp")))


def window_starts(n, k, stride):
    """0, stride, 2·stride, … and the border position n − k (METHOD.md §2)."""
    s = list(range(0, n - k + 1, stride))
    return s if s[-1] == n - k else s + [n - k]


def windows(H, W, k, stride):
    """Top-left corners of the k × k windows, rows outer, columns inner."""
    return [(r, c) for r in window_starts(H, k, stride) for c in window_starts(W, k, stride)]


def select_classes(p0, spec):
    """Class ids from 'topN', 'all' or 'a,b,c' and the clean image's probabilities p0 (K,)."""
    if spec == "all":
        return list(range(len(p0)))
    if spec.startswith("top"):
        n = int(spec[3:] or 3)
        return [int(c) for c in np.argsort(-np.asarray(p0, dtype=np.float64), kind="stable")[:n]]
    return [int(c) for c in spec.split(",")]


def log2_odds(p, N, K):
    """log2 odds of the Laplace-corrected probability (p·N + 1) / (N + K), float64 (METHOD.md §1)."""
    p = (np.asarray(p, dtype=np.float64) * N + 1) / (N + K)
    return np.log2(p / (1 - p))


def read_sampler_file(path, k, pad):
    """pda's fitted Gaussian (docs/sampler-file.md): (mean (d,), cov (d, d), C), float64."""
    with open(path, "rb") as f:
        if f.read(8) != b"PDASAMP1":
            raise SystemExit(f"pda peer: {path} is not a pda sampler file")
        n = int(np.frombuffer(f.read(8), "<u8")[0])
        h = json.loads(f.read(n))
        if (h["k"], h["pad"]) != (k, pad):
            raise SystemExit(f"pda peer: {path} was fitted for k {h['k']}, pad {h['pad']}")
        d = h["dim"]
        mean = np.frombuffer(f.read(8 * d), "<f8")
        cov = np.frombuffer(f.read(8 * d * d), "<f8").reshape(d, d)
    return mean.copy(), cov.copy(), h["channels"]


# ---- samplers: draw(x, windows, S, k) → (len(windows), S, C, k, k) float32 ------------------------
class Occlusion:
    """A constant in network-input space (pda's --fill, default 0: the mean of mean-subtracted inputs)."""

    def __init__(self, fill, C, k):
        self.value = np.full((1, 1, C, k, k), fill, dtype=np.float32)

    def draw(self, x, wins, S, k):
        return np.broadcast_to(self.value, (len(wins), 1) + self.value.shape[2:])


class Marginal:
    """The window's values at the same place in S other images, drawn without replacement."""

    def __init__(self, images, seed):
        self.images = images  # (N, C, H, W), the explained image not among them
        self.rng = np.random.default_rng(seed)

    def draw(self, x, wins, S, k):
        out = np.empty((len(wins), S) + (self.images.shape[1], k, k), dtype=np.float32)
        for j, (r, c) in enumerate(wins):
            idx = self.rng.choice(len(self.images), S, replace=False)
            out[j] = self.images[idx, :, r:r + k, c:c + k]
        return out


def cholesky_with_ridge(a):
    """Cholesky factor of a, with a ridge of 1e-6, 1e-5, … × its mean diagonal where the plain one
    fails (as pda's engine/gaussian.cc); returns (L, ridge)."""
    try:
        return np.linalg.cholesky(a), 0.0
    except np.linalg.LinAlgError:
        pass
    md = float(np.mean(np.diag(a)))
    rel = 1e-6
    while rel <= 100.0001:
        try:
            return np.linalg.cholesky(a + rel * md * np.eye(len(a))), rel * md
        except np.linalg.LinAlgError:
            rel *= 10
    raise SystemExit("pda peer: covariance cannot be factorised even with a ridge")


def fit_gaussian(images, k, pad, seed, max_patches):
    """Mean and covariance (float64) over all l × l × C patches of images (N, C, H, W), a seeded
    subset of at most max_patches; patch vector index (c·l + y)·l + x, as pda's."""
    l = k + 2 * pad
    v = np.lib.stride_tricks.sliding_window_view(images, (l, l), axis=(2, 3))  # (N, C, H', W', l, l)
    patches = v.transpose(0, 2, 3, 1, 4, 5).reshape(-1, images.shape[1] * l * l)
    if len(patches) > max_patches:
        patches = patches[np.random.default_rng(seed).permutation(len(patches))[:max_patches]]
    patches = patches.astype(np.float64)
    mean = patches.mean(0)
    d = patches - mean
    return mean, d.T @ d / (len(patches) - 1)


class Conditional:
    """Joint Gaussian over (C, l, l) patches (METHOD.md §3); per window offset in its context one
    (A = Σ_io Σ_oo⁻¹, L = chol Σ_{i|o}) pair, by Cholesky solves; context shifted inside the image."""

    def __init__(self, mean, cov, C, k, pad, H, W, seed):
        self.mu, self.cov, self.C, self.k, self.l, self.H, self.W = mean, cov, C, k, k + 2 * pad, H, W
        self.configs = {}
        self.rng = np.random.default_rng(seed + 1)
        self.ridges = 0

    def config(self, dy, dx):
        if (dy, dx) not in self.configs:
            C, l, k = self.C, self.l, self.k
            inner = np.zeros((C, l, l), dtype=bool)
            inner[:, dy:dy + k, dx:dx + k] = True
            i, o = np.flatnonzero(inner), np.flatnonzero(~inner)
            s_oo, s_io, s_ii = self.cov[np.ix_(o, o)], self.cov[np.ix_(i, o)], self.cov[np.ix_(i, i)]
            L_oo, ridge = cholesky_with_ridge(s_oo)
            self.ridges += ridge > 0
            # A = Σ_io Σ_oo⁻¹ = ((L Lᵀ)⁻¹ Σ_oi)ᵀ: two triangular solves, no inverse formed
            A = np.linalg.solve(L_oo.T, np.linalg.solve(L_oo, s_io.T)).T
            L, ridge = cholesky_with_ridge(s_ii - A @ s_io.T)
            self.ridges += ridge > 0
            mu_i, mu_o = self.mu[i].astype(np.float32), self.mu[o].astype(np.float32)
            self.configs[(dy, dx)] = (o, mu_i, mu_o, A.astype(np.float32), L.astype(np.float32))
        return self.configs[(dy, dx)]

    def draw(self, x, wins, S, k):
        C, l, pad = self.C, self.l, (self.l - self.k) // 2
        out = np.empty((len(wins), S, C, k, k), dtype=np.float32)
        for j, (r, c) in enumerate(wins):
            cr, cc = min(max(r - pad, 0), self.H - l), min(max(c - pad, 0), self.W - l)
            o, mu_i, mu_o, A, L = self.config(r - cr, c - cc)
            ctx = x[0, :, cr:cr + l, cc:cc + l].reshape(-1)
            mean = mu_i + A @ (ctx[o] - mu_o)
            z = self.rng.standard_normal((len(mu_i), S), dtype=np.float32)
            out[j] = (mean[:, None] + L @ z).T.reshape(S, C, k, k)
        return out


def timed_runs(run, repeat):
    """Calls run() `repeat` times; returns (seconds of each call, the last call's result)."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t)
    return times, out


def pda_arguments(doc, model_help, batch, batch_help, warmup_help):
    """The command line both PDA peers share (the same flags as pda's where they exist)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help=model_help)
    ap.add_argument("image")
    ap.add_argument("--preset", choices=sorted(PRESETS), help="preprocessing of an .onnx without a sidecar")
    ap.add_argument("--sampler", choices=["occlusion", "marginal", "conditional"], default="conditional")
    ap.add_argument("--sampler-file", help="conditional: pda's fitted Gaussian (.pdas) instead of a fit here")
    ap.add_argument("--sample-images", help="folder: the marginal sample set / a conditional fit here")
    ap.add_argument("--fill", type=float, default=0.0, help="occlusion value in network-input space")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--stride", type=int, default=1)
    ap.add_argument("--windows", type=int, default=-1, help="only the first N windows (throughput)")
    ap.add_argument("--classes", default="top3")
    ap.add_argument("--laplace-n", type=float, default=100000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=batch, help=batch_help)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=1, help="timed runs after the warm-up; the median is reported")
    ap.add_argument("--warmup", type=int, default=-1, help=warmup_help)
    ap.add_argument("--max-patches", type=int, default=200000)
    ap.add_argument("--save", help="folder: relevance.npy (M, H, W), counts.npy, classes.json")
    return ap


def save_and_print(res, save, rel, counts, classes, p0):
    """Writes relevance.npy, counts.npy (float32, as pda writes it) and classes.json into `save` when
    given, then the result JSON to stdout. rel, counts: numpy arrays; p0: the clean probabilities."""
    if save:
        os.makedirs(save, exist_ok=True)
        np.save(os.path.join(save, "relevance.npy"), rel)
        np.save(os.path.join(save, "counts.npy"), counts.astype(np.float32))
        with open(os.path.join(save, "classes.json"), "w") as f:
            json.dump({"classes": classes, "probabilities": [float(p0[c]) for c in classes]}, f)
    json.dump(res, sys.stdout, indent=1)
    print()
