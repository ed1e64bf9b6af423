#!/usr/bin/env python3
"""The fidelity fixture: a tiny CNN whose class is decided, by construction, by one small pattern.

Images are 3×32×32 Gaussian noise (grey 128 ± 32) with one 6×6 pattern at a random place, drawn in
a random saturated colour; the class is the pattern's shape (plus, checkerboard, square outline,
filled square). A small CNN (3 convolutions, global max pooling, linear, softmax) is trained on such images
(seeded, one thread: deterministic), then exported to ONNX (opset 13, input `data`, output `prob`)
with its sidecar JSON. Also written: `fit/` (training-like images, for `pda fit-sampler` and as the
marginal sample set), `test/` (held-out images) and `test/boxes.json` (each test image's class and
pattern box). A folder whose manifest records this script's hash is left as it is (--force redoes it).

Run: /usr/bin/python3 make_pattern_model.py --out DIR
"""
import argparse
import hashlib
import json
import os
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

SIZE, P = 32, 6  # image side, pattern side
LABELS = ["plus", "checker", "outline", "filled"]
COLOURS = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
                    [255, 255, 255], [0, 0, 0]], dtype=np.float32)
MEAN, STD = 0.5, 0.25  # normalisation of the 0–1 pixel values (sidecar: scale 1, mean, std)
N_TRAIN, N_HELD_OUT, N_FIT, N_TEST = 4000, 1000, 100, 8
EPOCHS, BATCH = 10, 50
DISTRACTORS = 3


def masks():
    m = np.zeros((len(LABELS), P, P), dtype=bool)
    m[0, 2:4, :] = m[0, :, 2:4] = True  # plus, arms 2 px thick
    i = np.arange(P) // 2
    m[1] = (i[:, None] + i[None, :]) % 2 == 0  # checkerboard of 2 × 2 blocks
    m[2, [0, P - 1], :] = m[2, :, [0, P - 1]] = True  # square outline
    m[3] = True  # filled square
    return m


def make_images(n, rng, classes=None):
    """n images (n, 32, 32, 3) uint8, their classes and pattern boxes [top, left, bottom, right).
    Besides the pattern, each image holds DISTRACTORS pieces (2–4 px squares cut from any shape, any
    colour) away from it: the class is the complete 6 × 6 shape, not a colour or a stray fragment,
    so that a window replaced by another image's pixels (marginal sampling) does not decide it."""
    m = masks()
    x = np.clip(rng.normal(128, 32, size=(n, SIZE, SIZE, 3)), 0, 255)
    cls = rng.integers(0, len(LABELS), size=n) if classes is None else np.asarray(classes)
    top = rng.integers(0, SIZE - P + 1, size=n)
    left = rng.integers(0, SIZE - P + 1, size=n)
    for j in range(n):
        x[j, top[j]:top[j] + P, left[j]:left[j] + P][m[cls[j]]] = COLOURS[rng.integers(len(COLOURS))]
        placed = 0
        while placed < DISTRACTORS:
            s = int(rng.integers(2, 5))
            y, xx = (int(v) for v in rng.integers(0, SIZE - s + 1, size=2))
            if y + s > top[j] - 1 and y < top[j] + P + 1 and xx + s > left[j] - 1 and xx < left[j] + P + 1:
                continue  # keep 1 px away from the pattern
            oy, ox = (int(v) for v in rng.integers(0, P - s + 1, size=2))
            piece = m[rng.integers(len(LABELS)), oy:oy + s, ox:ox + s]
            x[j, y:y + s, xx:xx + s][piece] = COLOURS[rng.integers(len(COLOURS))]
            placed += 1
    boxes = np.stack([top, left, top + P, left + P], axis=1)
    return np.round(x).astype(np.uint8), cls, boxes


def to_input(images):  # uint8 (n, H, W, 3) → normalised float32 (n, 3, H, W), as pda preprocesses
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD


class PatternNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 32, 3, padding=1)  # receptive field 10 px after the pooling
        self.fc = nn.Linear(32, len(LABELS))

    def logits(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        x = F.adaptive_max_pool2d(x, 1).flatten(1)  # global max pooling (exported as a 16 × 16 MaxPool)
        return self.fc(x)

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


def accuracy(model, x, y):
    with torch.no_grad():
        return float((model.logits(x).argmax(1) == y).float().mean())


def train(x, y):
    torch.manual_seed(0)
    model = PatternNet()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(1)
    for _ in range(EPOCHS):
        perm = torch.randperm(len(x), generator=order)
        for b in range(0, len(x), BATCH):
            idx = perm[b:b + BATCH]
            loss = F.cross_entropy(model.logits(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def save_pngs(folder, images, prefix):
    os.makedirs(folder, exist_ok=True)
    names = []
    for j, im in enumerate(images):
        names.append(f"{prefix}-{j:03d}.png")
        Image.fromarray(im, "RGB").save(os.path.join(folder, names[-1]))
    return names


def up_to_date(out, manifest_path, source_hash):
    try:
        with open(manifest_path) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return False
    return m.get("source_sha256") == source_hash and all(os.path.exists(os.path.join(out, f)) for f in m["files"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--force", action="store_true", help="regenerate even when the folder is up to date")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    with open(__file__, "rb") as f:
        source_hash = hashlib.sha256(f.read() + torch.__version__.encode()).hexdigest()
    manifest_path = os.path.join(args.out, "manifest.json")
    if not args.force and up_to_date(args.out, manifest_path, source_hash):
        print(f"make_pattern_model: {args.out} is up to date")
        return
    if os.path.exists(manifest_path):
        os.remove(manifest_path)  # a half-written folder never looks complete
    warnings.filterwarnings("ignore")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)  # one thread: the same weights on every machine with this torch

    rng = np.random.default_rng(20170101)
    train_im, train_cls, _ = make_images(N_TRAIN, rng)
    held_im, held_cls, _ = make_images(N_HELD_OUT, rng)
    fit_im, _, _ = make_images(N_FIT, rng)
    test_im, test_cls, test_boxes = make_images(N_TEST, rng, [j % len(LABELS) for j in range(N_TEST)])

    t0 = time.time()
    model = train(to_input(train_im), torch.from_numpy(train_cls))
    train_s = time.time() - t0
    acc_train = accuracy(model, to_input(train_im), torch.from_numpy(train_cls))
    acc_held = accuracy(model, to_input(held_im), torch.from_numpy(held_cls))
    with torch.no_grad():
        test_prob = model(to_input(test_im)).numpy()

    files = ["pattern.onnx", "pattern.json", "labels.txt", "test/boxes.json"]
    torch.onnx.export(model, to_input(test_im[:1]), os.path.join(args.out, "pattern.onnx"), opset_version=13,
                      input_names=["data"], output_names=["prob"], do_constant_folding=True)
    sidecar = {"input": "data", "output": "prob", "output_kind": "probabilities", "input_size": [SIZE, SIZE],
               "resize_shorter": 0, "crop": "center", "channel_order": "RGB", "scale": 1,
               "mean": [MEAN] * 3, "std": [STD] * 3, "labels": "labels.txt"}
    with open(os.path.join(args.out, "pattern.json"), "w") as f:
        json.dump(sidecar, f, indent=1)
    with open(os.path.join(args.out, "labels.txt"), "w") as f:
        f.write("".join(f"{name}\n" for name in LABELS))
    files += ["fit/" + n for n in save_pngs(os.path.join(args.out, "fit"), fit_im, "fit")]
    test_names = save_pngs(os.path.join(args.out, "test"), test_im, "test")
    files += ["test/" + n for n in test_names]
    tests = [{"image": n, "class": int(c), "label": LABELS[c], "box": [int(v) for v in b],
              "probability": float(p[c])} for n, c, b, p in zip(test_names, test_cls, test_boxes, test_prob)]
    with open(os.path.join(args.out, "test", "boxes.json"), "w") as f:
        json.dump({"box_format": "[top, left, bottom, right), pixels", "images": tests}, f, indent=1)

    info = {"generator": "tests/fidelity/make_pattern_model.py", "source_sha256": source_hash,
            "torch": torch.__version__, "train_images": N_TRAIN, "epochs": EPOCHS, "train_seconds": round(train_s, 2),
            "train_accuracy": acc_train, "held_out_images": N_HELD_OUT, "held_out_accuracy": acc_held,
            "files": files}
    with open(manifest_path + ".tmp", "w") as f:
        json.dump(info, f, indent=1)
    os.replace(manifest_path + ".tmp", manifest_path)
    print(f"make_pattern_model: trained in {train_s:.1f} s, accuracy {acc_train:.4f} (train), "
          f"{acc_held:.4f} (held out, {N_HELD_OUT} images) -> {args.out}")


if __name__ == "__main__":
    main()
