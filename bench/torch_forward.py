#!/usr/bin/env python3
"""PyTorch CPU forward throughput on the same networks, batches and thread count as
bench/forward.cc: BVLC AlexNet / GoogLeNet and VGG16 from tests/golden/make_golden.py, and
torchvision's squeezenet1_1 (the topology of both shared SqueezeNet models). Median of repeats.

usage: torch_forward.py --threads N [--batches 1,16,64] [--repeats R] [--min-time S] > out.json
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "golden"))
from make_golden import BvlcAlexNet, BvlcGoogLeNet, Vgg16  # noqa: E402


class FirstOutput(torch.nn.Module):  # the golden nets return (logits, probabilities)
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)[1]


def nets():
    sq = lambda: torchvision.models.squeezenet1_1(weights=None)  # noqa: E731
    return [("alexnet", lambda: FirstOutput(BvlcAlexNet()), 227), ("googlenet", lambda: FirstOutput(BvlcGoogLeNet()), 224),
            ("vgg16", lambda: FirstOutput(Vgg16()), 224), ("squeezenet1.1-caffe", sq, 227),
            ("squeezenet1.1-torchvision", sq, 224)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--batches", default="1,16,64")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-time", type=float, default=1.0, help="seconds per repeat, at least one forward")
    p.add_argument("--only", default="")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    out = {"torch": torch.__version__, "threads": a.threads, "results": []}
    for name, make, size in nets():
        if a.only and name not in a.only.split(","):
            continue
        model = make().eval()
        for b in [int(x) for x in a.batches.split(",")]:
            x = torch.randn(b, 3, size, size) * 50
            with torch.inference_mode():
                model(x)  # warm-up
                rates = []
                for _ in range(a.repeats):
                    n, t0 = 0, time.perf_counter()
                    while True:
                        model(x)
                        n += 1
                        dt = time.perf_counter() - t0
                        if dt >= a.min_time:
                            break
                    rates.append(n * b / dt)
            out["results"].append({"net": name, "batch": b, "images_per_s": statistics.median(rates)})
            print(f"torch {name} batch {b}: {statistics.median(rates):.2f} images/s", file=sys.stderr)
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
