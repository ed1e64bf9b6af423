"""Explain a photo with a classifier and draw the paper's kind of figure: the image, then for each of
the top classes where the evidence for it lies (red: for, blue: against), in bits of weight of
evidence, on one symmetric colour scale with a colour bar.

    python examples/python/explain_image.py                       # SqueezeNet 1.1 on ../shared's cat
    python examples/python/explain_image.py --image dog.jpg --stride 1 --out dog.png

Fits the conditional sampler on the other photos of the image's folder (seconds), then explains the
image with k x k windows (k 10, 10 samples each; stride 4 here, 1 in the paper).
"""

import argparse
import os
import time

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt
import numpy as np

import pda

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared"))


def photos_beside(image):
    folder = os.path.dirname(os.path.abspath(image))
    exts = (".png", ".jpg", ".jpeg", ".bmp")
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if f.lower().endswith(exts) and os.path.join(folder, f) != os.path.abspath(image)]


def figure(image_rgb, result, path):
    """The image, then one panel per explained class on a shared symmetric scale."""
    m = len(result.classes)
    fig, axes = plt.subplots(1, m + 1, figsize=(3.2 * (m + 1), 3.6), constrained_layout=True)
    axes[0].imshow(image_rgb)
    axes[0].set_title("input (network's crop)")
    limit = float(np.abs(result.relevance).max()) or 1.0
    grey = image_rgb.mean(axis=2)
    for ax, c, rel in zip(axes[1:], result.classes, result.relevance):
        ax.imshow(grey, cmap="gray")
        shown = np.ma.masked_where(result.counts == 0, rel)  # pixels no window covered: left undrawn
        im = ax.imshow(shown, cmap="bwr", vmin=-limit, vmax=limit, alpha=0.7)
        ax.set_title(f"{c.label.split(',')[0]}\np = {c.probability:.3f}", fontsize=10)
    for ax in axes:
        ax.axis("off")
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="weight of evidence (bits)")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=os.path.join(SHARED, "models", "squeezenet1.1-caffe.onnx"))
    ap.add_argument("--image", default=os.path.join(SHARED, "images", "cat.png"))
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--stride", type=int, default=4)
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--out", default="pda-figure.png")
    args = ap.parse_args()

    model = pda.Model(args.model)
    probs = model.predict(args.image)[0]
    for c in model.top(probs, args.top):
        print(f"{c.probability:6.3f}  {c.class_id:4d}  {c.label}")

    t0 = time.perf_counter()
    sampler = pda.fit_sampler(model, photos_beside(args.image), k=args.k)
    print(f"sampler fitted on {len(sampler.images)} photos in {time.perf_counter() - t0:.1f} s")

    explainer = pda.Explainer(model, sampler_file=sampler, k=args.k, samples=args.samples, stride=args.stride,
                              classes=f"top{args.top}")
    try:
        from tqdm import tqdm

        bar = tqdm(total=explainer.windows, unit="window")

        def progress(done, total):
            bar.update(done - bar.n)
    except ImportError:
        bar, progress = None, None
    result = explainer.explain(args.image, progress=progress)
    if bar is not None:
        bar.close()
    print(f"{result.windows} windows, {result.forward_passes} forward passes in {result.seconds['total']:.1f} s "
          f"on {explainer.device}")

    # The network's crop of the image, as the maps are drawn on it (the inverted normalisation).
    x = model.preprocess(args.image)
    shown = x.transpose(1, 2, 0)
    shown = (shown - shown.min()) / (shown.max() - shown.min())
    if result.summary["preprocessing"].get("channel_order") == "BGR":
        shown = shown[:, :, ::-1]
    figure(shown, result, args.out)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
