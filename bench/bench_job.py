#!/usr/bin/python3
"""Dataset jobs on the CPU: what a job costs beyond its explain loops, and two workers against one.

A small classifier (48 x 48 x 3 input; conv 3->16, relu, maxpool, conv 16->32, relu, maxpool,
linear 4608->10, softmax; random weights from a seed, exported with Debian's PyTorch) and --images
random-texture PNGs of 48 x 48; a conditional sampler fitted on them; then, interleaved
--rounds times with the other processes' CPU share measured (bench/peers/interleave.py):
  one    `pda explain DIR --out OUT --threads T`: one process, all cores
  two    two processes at once, `--shard 0/2 --threads T/2` and `--shard 1/2 --threads T/2`
  workers  one process with `--workers 2 --threads T/2`: two explainers over one queue
with pda's defaults otherwise (k 10, pad 2, 10 samples, stride 1, top 3 classes: 1 521 windows, 15 210
forward passes an image). From progress.jsonl: the explain loops (sampling + network + reduce) summed
over the images, against the wall time of the whole command (starting the process, loading the model
and sampler, decoding, the clean passes, writing, compiling): the overhead;
and how many images compiled a program (timings.program in each summary.json). Prints a markdown table.
"""
import argparse
import glob
import json
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import interleave  # noqa: E402


def make_model(path):
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32 * 12 * 12, 10), torch.nn.Softmax(dim=1)).eval()
    torch.onnx.export(net, torch.zeros(1, 3, 48, 48), path, input_names=["x"], output_names=["prob"], opset_version=13)
    with open(os.path.splitext(path)[0] + ".json", "w") as f:
        json.dump({"output_kind": "probabilities", "input_size": [48, 48], "resize_shorter": 48, "crop": "center",
                   "channel_order": "RGB", "scale": 255.0, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}, f)


def make_images(folder, n):
    from PIL import Image
    from scipy import ndimage
    rng = np.random.default_rng(1)
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        img = ndimage.gaussian_filter(rng.standard_normal((48, 48, 3)), (1.5, 1.5, 0))
        img = np.clip(128 + 60 * img / img.std(), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(os.path.join(folder, "img-%03d.png" % i))


def job_cmd(pda, model, images, out, args, shards):
    """A shell command running the job as `shards` processes at once; prints the job's JSON summary."""
    runs = [f"{pda} explain {model} {images} --quiet --out {out} {args}" +
            (f" --shard {i}/{shards}" if shards > 1 else "") for i in range(shards)]
    here = os.path.dirname(os.path.abspath(__file__))
    return ["bash", "-c", f"rm -rf {out}; t0=$(date +%s%N); " + " & ".join(runs) + " & wait && t1=$(date +%s%N) && "
            f"/usr/bin/python3 {here}/bench_job.py --summarise {out} --wall-ns $((t1 - t0))"]


def summarise(out, wall_ns):
    lines = []
    for p in glob.glob(os.path.join(out, "progress.jsonl")):
        with open(p) as f:
            lines += [json.loads(x) for x in f if x.strip()]
    compiled = 0
    for s in glob.glob(os.path.join(out, "*", "summary.json")):
        with open(s) as f:
            compiled += json.load(f)["timings"].get("program") == "compiled"
    manifests = []
    for m in glob.glob(os.path.join(out, "job*.json")):
        with open(m) as f:
            manifests.append(json.load(f))
    print(json.dumps({"images": len(lines), "loop_s": sum(x["loop_s"] for x in lines),
                      "compiled": compiled, "processes": len(manifests),
                      "job_s": max(m["seconds"] for m in manifests), "wall_s": wall_ns / 1e9}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--summarise")
    ap.add_argument("--wall-ns", type=int, default=0)
    ap.add_argument("--pda")
    ap.add_argument("--work")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-other", type=float, default=0.10)
    a = ap.parse_args()
    if a.summarise:
        return summarise(a.summarise, a.wall_ns)
    model = os.path.join(a.work, "small48.onnx")
    images = os.path.join(a.work, "images")
    if not os.path.exists(model):
        make_model(model)
    if len(glob.glob(os.path.join(images, "*.png"))) != a.images:
        make_images(images, a.images)
    sampler = os.path.join(a.work, "small48-k10.pdas")
    if not os.path.exists(sampler):
        os.system(f"{a.pda} fit-sampler {model} --images {images} --k 10 --pad 2 -o {sampler} >/dev/null")
    args = f"--sampler-file {sampler} --k 10 --pad 2 --samples 10 --stride 1"
    half = max(1, a.threads // 2)
    kept = {}

    def value(name):
        def v(s):
            kept.setdefault(name, []).append(s)
            return s["wall_s"]
        return v

    cases = [("job", [job_cmd(a.pda, model, images, os.path.join(a.work, "one"), args + f" --threads {a.threads}", 1),
                      job_cmd(a.pda, model, images, os.path.join(a.work, "two"), args + f" --threads {half}", 2),
                      job_cmd(a.pda, model, images, os.path.join(a.work, "workers"),
                              args + f" --threads {half} --workers 2", 1)],
              [value("one"), value("two"), value("workers")], ["one", "two", "workers"])]
    r = interleave.measure(cases, a.rounds, a.max_other)[0]
    print(f"| run | images | wall, whole command (median of {a.rounds}) | images/s | explain loops, summed | overhead | "
          "programs compiled | others' CPU (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for i, name in enumerate(["one", "two", "workers"]):
        s = kept[name]
        wall = r["medians"][i]
        loops = statistics.median(x["loop_s"] for x in s)
        label = {"one": f"1 process, {a.threads} threads", "two": f"2 processes (shards), {half} thread(s) each",
                 "workers": f"1 process, --workers 2, {half} thread(s) each"}[name]
        # Two workers at once: their loops overlap, so the overhead is per worker, against its share.
        per = loops / (1 if name == "one" else 2)
        print(f"| {label} | {s[-1]['images']} | {wall:.2f} s | {s[-1]['images'] / wall:.1f} | {loops:.2f} s | "
              f"{100 * (wall - per) / wall:.1f} % | {s[-1]['compiled']} | {r['max_other']:.0%} |")
    print(f"\nimages/s against one process: two processes {r['medians'][0] / r['medians'][1]:.2f}x, "
          f"--workers 2 {r['medians'][0] / r['medians'][2]:.2f}x")


if __name__ == "__main__":
    main()
