#!/usr/bin/python3
"""Where the evidence of a volume explanation lies, on the synthetic cohort of make_cohort.py.

usage: /usr/bin/python3 tests/volumes/fidelity.py COHORT RESULT [RESULT ...] [--k K] [--class-id 1]

RESULT is a `pda explain` result folder (summary.json, relevance.nii.gz) of one cohort volume. For the
explained class (default 1, "patient") it prints one JSON line per result and one for their mean:
  planted, mirrored, shifted  the fraction of the positive evidence mass (sum of max(relevance, 0))
                              inside each box of region.json dilated by k - 1 voxels on every side
                              (every voxel whose windows can overlap the box)
  drawn_planted, ...          the same over the evidence the slice pictures draw: values above
                              --threshold (0.15) x max |relevance| only
  weights_planted, ...        the same fraction of the logistic regression's |weights| (weights.nii.gz),
  weights_drawn_planted, ...  and of its |weights| above the threshold x max |weight|
The issue's fidelity goal: planted >= 0.6, mirrored <= 0.1, planted >= 2 x weights_planted."""
import argparse
import json
import os

import nibabel as nib
import numpy as np


def dilated_box(shape, b, k):
    m = np.zeros(shape, dtype=bool)
    m[tuple(slice(max(0, b[a][0] - (k - 1)), b[a][1] + 1 + (k - 1)) for a in "xyz")] = True
    return m


def fractions(mass, boxes):
    total = float(mass.sum())
    return {name: (float(mass[m].sum()) / total if total > 0 else 0.0) for name, m in boxes.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cohort")
    ap.add_argument("results", nargs="+")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--class-id", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.15)
    a = ap.parse_args()
    regions = json.load(open(os.path.join(a.cohort, "region.json")))
    weights = np.abs(nib.load(os.path.join(a.cohort, "weights.nii.gz")).get_fdata())
    boxes = {name: dilated_box(weights.shape, regions[name], a.k)
             for name in ("planted", "mirrored", "shifted") if regions.get(name)}
    w = {"weights_" + n: v for n, v in fractions(weights, boxes).items()}
    w.update({"weights_drawn_" + n: v for n, v in
              fractions(np.where(weights > a.threshold * weights.max(), weights, 0.0), boxes).items()})
    rows = []
    for res in a.results:
        summary = json.load(open(os.path.join(res, "summary.json")))
        ids = [c["id"] for c in summary["classes"]]
        if a.class_id not in ids:
            raise SystemExit(f"fidelity: {res} does not explain class {a.class_id}")
        rel = np.asarray(nib.load(os.path.join(res, "relevance.nii.gz")).dataobj, dtype=np.float64)
        if rel.ndim == 4:
            rel = rel[..., ids.index(a.class_id)]
        row = {"result": res, "probability": next(c["probability"] for c in summary["classes"]
                                                  if c["id"] == a.class_id),
               **fractions(np.clip(rel, 0, None), boxes),
               **{"drawn_" + n: v for n, v in
                  fractions(np.where(rel > a.threshold * np.abs(rel).max(), rel, 0.0), boxes).items()}, **w}
        rows.append(row)
        print(json.dumps(row))
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "result"}
    print(json.dumps({"result": "mean of %d" % len(rows), **mean}))


if __name__ == "__main__":
    main()
