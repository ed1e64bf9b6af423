"""A straightforward batched Prediction Difference Analysis (METHOD.md §1–3) in numpy + onnxruntime: the
peer pda's CPU explain loop is measured against on the very same ONNX file (scripts/bench-pda.sh), and an
independent cross-check of its maps (occlusion is deterministic, so the two agree to float rounding).

Same windows (k × k, all channels, rows outer, columns inner, `--stride`, the first `--windows`), S samples
per window (occlusion: `--fill`, S = 1; marginal: the same place in S other images of `--sample-images`;
conditional: pda's fitted Gaussian from `--sampler-file`, or a fit here on `--sample-images`), p(c|x\\w) as
the mean of the S softmax vectors, weight of evidence with the Laplace correction, per-pixel mean over the
covering windows. The network runs in onnxruntime (CPU execution provider, all graph optimisations,
`--threads` intra-op threads, the batch dimension made free), `--batch` resampled images per run (whole
windows). Preprocessing: the sidecar <stem>.json, or `--preset caffe|torchvision` at the graph's input
size, as pda chooses (bench/peers/pda_common.py). Prints JSON: resampled images/s and the seconds of the
whole job (all windows at `--stride`, or the first `--windows`), median of `--repeat` after a warm-up.

usage (the peers' venv, bench/peers/setup.sh):
  pda_ort.py MODEL.onnx IMAGE [--preset caffe|torchvision] [--sampler occlusion|marginal|conditional]
      [--sampler-file F.pdas] [--sample-images DIR] [--fill 0] [--k 10] [--pad 2] [--samples 10]
      [--stride 1] [--windows N] [--classes top3|all|ID,...] [--threads T] [--batch B] [--repeat R]
      [--warmup W] [--save DIR]  > result.json
"""
import os
import statistics
import sys
import time

# The network's threads are onnxruntime's (--threads); numpy's small per-window products run on the calling
# thread. OpenBLAS threads of their own would contend with onnxruntime's spinning workers (measured on 2
# cores: the conditional loop 1.3–1.9× slower at 20–120 images per batch).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pda_common as pc  # noqa: E402
from ort_forward import free_batch  # noqa: E402


def graph_input_hw(model):
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    dims = inputs[0].type.tensor_type.shape.dim if inputs else []
    return [d.dim_value if d.HasField("dim_value") else None for d in dims[2:4]] if len(dims) == 4 else None


class Network:
    """x (N, C, H, W) float32 → class probabilities (N, K) float64 (softmax of logits in float64)."""

    def __init__(self, path, model, pre, threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        outputs = [o.name for o in model.graph.output]
        self.output = pre.get("output") or outputs[0]
        if self.output not in outputs:
            raise SystemExit(f"pda_ort: {path}: '{self.output}' is not an output of the graph ({', '.join(outputs)})")
        self.sess = ort.InferenceSession(free_batch(model), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in self.sess.get_inputs()]
        self.input = pre.get("input") or names[0]
        self.logits = pre["output_kind"] == "logits"

    def __call__(self, x):
        y = self.sess.run([self.output], {self.input: x})[0].astype(np.float64).reshape(len(x), -1)
        if self.logits:
            y = np.exp(y - y.max(axis=1, keepdims=True))
            y /= y.sum(axis=1, keepdims=True)
        return y


def explain(net, x, p0, sampler, wins, k, S, batch, classes, laplace_n):
    """Relevance (M, H, W) float32 and counts (H, W) from the clean image's probabilities p0 (K,) and the
    resampled images, in batches of ≤ batch images (whole windows)."""
    K = len(p0)
    lo0 = pc.log2_odds(p0[classes], laplace_n, K)
    H, W = x.shape[2:]
    rel = np.zeros((len(classes), H, W))
    counts = np.zeros((H, W), dtype=np.int32)
    per_batch = max(1, batch // S)  # whole windows per batch
    buf = np.repeat(x, per_batch * S, axis=0)  # (B, C, H, W) the clean image, windows pasted in and restored
    for w0 in range(0, len(wins), per_batch):
        chunk = wins[w0:w0 + per_batch]
        n = len(chunk) * S
        samples = sampler.draw(x, chunk, S, k)  # (windows, S, C, k, k)
        for j, (r, c) in enumerate(chunk):
            buf[j * S:(j + 1) * S, :, r:r + k, c:c + k] = samples[j]
        p = net(buf[:n]).reshape(len(chunk), S, K).mean(1)  # p(c|x\w): mean of the softmax vectors
        we = lo0[None] - pc.log2_odds(p[:, classes], laplace_n, K)  # (windows, M)
        for j, (r, c) in enumerate(chunk):
            buf[j * S:(j + 1) * S, :, r:r + k, c:c + k] = x[0, :, r:r + k, c:c + k]
            rel[:, r:r + k, c:c + k] += we[j][:, None, None]
            counts[r:r + k, c:c + k] += 1
    rel = np.where(counts > 0, rel / np.maximum(counts, 1), 0.0)
    return rel.astype(np.float32), counts


def make_sampler(a, x, pre, S):
    C, H, W = x.shape[1:]
    if a.sampler == "occlusion":
        return pc.Occlusion(a.fill, C, a.k)
    if a.sampler == "conditional" and a.sampler_file:
        mean, cov, ch = pc.read_sampler_file(a.sampler_file, a.k, a.pad)
        if ch != C:
            raise SystemExit(f"pda_ort: {a.sampler_file} was fitted for {ch} channels, the model takes {C}")
        return pc.Conditional(mean, cov, C, a.k, a.pad, H, W, a.seed)
    if not a.sample_images:
        raise SystemExit(f"pda_ort: --sample-images (or, conditional, --sampler-file) is required for {a.sampler}")
    me = os.path.realpath(a.image)
    files = [f for f in pc.image_files(a.sample_images) if os.path.realpath(f) != me]
    images = np.concatenate([pc.preprocess(f, pre) for f in files])
    if a.sampler == "marginal":
        if len(images) < S:
            raise SystemExit(f"pda_ort: {len(images)} sample images, {S} samples asked for")
        return pc.Marginal(images, a.seed)
    mean, cov = pc.fit_gaussian(images, a.k, a.pad, a.seed, a.max_patches)
    return pc.Conditional(mean, cov, C, a.k, a.pad, H, W, a.seed)


def main():
    ap = pc.pda_arguments(
        __doc__, ".onnx file with its sidecar <stem>.json beside it (or --preset)", 32,
        "resampled images per forward (whole windows; 16–40 were best on 2 cores)",
        "windows of the warm-up run (default: one batch, and the last batch's size; 0: none)")
    a = ap.parse_args()
    if a.k < 1 or a.stride < 1 or a.batch < 1 or a.repeat < 1 or a.samples < 1:
        raise SystemExit("pda_ort: --k, --stride, --batch, --repeat and --samples must be ≥ 1")
    t = time.perf_counter()
    model = onnx.load(a.model)
    pre = pc.model_preprocessing(a.model, a.preset, graph_input_hw(model))
    net = Network(a.model, model, pre, a.threads)
    del model
    x = pc.preprocess(a.image, pre)
    C, H, W = x.shape[1:]
    S = 1 if a.sampler == "occlusion" else a.samples
    sampler = make_sampler(a, x, pre, S)
    setup_s = time.perf_counter() - t
    wins = pc.windows(H, W, a.k, a.stride)
    at_stride = len(wins)
    if a.windows >= 0:
        wins = wins[:a.windows]
    p0 = net(x)[0]
    K = len(p0)
    classes = pc.select_classes(p0, a.classes)
    if any(c < 0 or c >= K for c in classes):
        raise SystemExit(f"pda_ort: --classes {a.classes}: the model has {K} classes")
    per_batch = max(1, a.batch // S)
    # Default warm-up: one whole batch and, when the windows end in a partial one, a batch of that size
    # too (onnxruntime plans its memory per input shape on first sight).
    warm = [per_batch, len(wins) % per_batch] if a.warmup < 0 else [a.warmup]
    for n in warm:
        if n:
            explain(net, x, p0, sampler, wins[:n], a.k, S, a.batch, classes, a.laplace_n)
    times, (rel, counts) = pc.timed_runs(
        lambda: explain(net, x, p0, sampler, wins, a.k, S, a.batch, classes, a.laplace_n), a.repeat)
    sec = statistics.median(times)
    rate = len(wins) * S / sec
    full = (H - a.k + 1) * (W - a.k + 1)
    res = {"peer": "bench/peers/pda_ort.py", "onnxruntime": ort.__version__, "threads": a.threads,
           "model": a.model, "sampler": a.sampler, "k": a.k, "pad": a.pad, "samples": S, "stride": a.stride,
           "windows": len(wins), "batch": per_batch * S, "classes": classes, "setup_seconds": setup_s,
           "seconds": times, "seconds_median": sec, "images_per_s": rate,
           "seconds_per_image": at_stride * S / rate, "seconds_per_image_stride1": full * S / rate,
           "uncovered": int((counts == 0).sum()), "ridges": getattr(sampler, "ridges", 0)}
    pc.save_and_print(res, a.save, rel, counts, classes, p0)


if __name__ == "__main__":
    main()
