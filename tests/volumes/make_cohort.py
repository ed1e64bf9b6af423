#!/usr/bin/python3
"""Synthetic MRI (FA) cohort with a known answer, and the two classifiers of the paper's MRI
experiment (Zintgraf et al., ICLR 2017, section 4.2), as fixtures for pda's 3-D (volume) support.

usage: /usr/bin/python3 tests/volumes/make_cohort.py OUT [--subjects N] [--seed S] [--heldout H]
                                                      [--epochs E] [--cnn-subjects M]
                                                      [--template WM.nii.gz]

Deterministic for a seed (same machine, same library versions, 2 torch threads). Default: 80
subjects (40 controls, 40 patients) plus 10 held out, seed 0, a CNN trained 12 epochs on 320 further
subjects; about 90 s on 2 idle CPU cores and 2.5 GB of memory.
Needs numpy, scipy, scikit-learn, nibabel, torch and onnx (Debian 12's python3-* packages).

Conventions
-----------
* "nibabel order" is the array nibabel returns, indexed [x, y, z] (i, j, k voxel indices). The
  grid is FSL's MNI152 2 mm grid, 91 x 109 x 91, affine
  [[-2,0,0,90],[0,2,0,-126],[0,0,2,-72],[0,0,0,1]] (so x index i is world x = 90 - 2 i mm:
  i = 45 is the midline, i < 45 is the subject's right hemisphere, i > 45 the left).
* The engine's tensor is (N, C, D, H, W) = (1, 1, nz, ny, nx) = (1, 1, 91, 109, 91): the
  nibabel array transposed, a.T, flattened in C order (index = z*109*91 + y*91 + x).
* region.json bounds are nibabel voxel indices [x, y, z], inclusive at both ends.
* Slices 29-40 "along the first axis" are x indices 29..40 inclusive (the paper's classifier
  input); they lie 10-32 mm right of the midline.

What is built
-------------
1. Base FA map. The white-matter probability template mni_icbm152_wm_2009a_1mm.nii.gz
   (197 x 233 x 189, 1 mm, uint8 0..255 with no scl_slope, so probability = value / 255) is
   smoothed with a Gaussian of FWHM 2 mm (sigma 0.85 mm, the anti-aliasing for a 2 mm grid) and
   sampled with scipy.ndimage.map_coordinates (order 1) at the 2 mm voxel centres: voxel -> world
   with the 2 mm affine, world -> 1 mm voxel with the inverse of the template's affine. (The 1 mm
   file is RAS, the 2 mm grid is LAS, so this also flips x; the template is symmetric.)
   Brain mask: wm > 0.1, closed (2 iterations, 6-connectivity), holes filled in 3-D and then in
   each axial slice (so the ventricles are inside), largest connected component kept (about
   177 000 voxels, 1.42 l). FA = 0.15 + 0.55 * wm inside the mask (0.15 in grey matter / CSF, up to 0.70 in
   deep white matter), 0 outside.
2. Planted region: a box of 6 x 10 x 4 voxels (6 along x; the data chooses whether the 10 runs
   along y or along z) in the corpus callosum, found from the data: every box whose x range
   starts at 35, 36 or 37 (so 4-6 of its slices lie in 29..40 and its medial face is 6-10 mm from
   the midline), with y in world [-70, 40] mm and z in world [0, 40] mm, is scored by the mean wm
   inside it plus the mean wm over the same y, z window on the three midline slices (x 44..46);
   the best box is the lateral part of the callosum that is also callosum on the midline (with the
   2009a template: the splenium, 6 x 4 x 10; a y-long box there runs into the lateral ventricle).
   "mirrored" is that box mirrored through the midline (x -> 90 - x: identical template tissue,
   the template is symmetric; no change planted; outside slices 29..40). "shifted" is the best
   scoring box of the same x range and shape whose y range is at least 5 voxels away from the
   planted one (another part of the callosum, inside slices 29..40, no change planted) - a control
   that the slice-restricted logistic regression can see.
3. Subjects: controls and patients in equal numbers (patients = N // 2), in a seeded random order.
   Each subject s gets its own random stream (numpy SeedSequence(seed).spawn), so subject s does
   not depend on N beyond its label:
       FA_s = clip( base * (1 + a_s * F_s) * (1 - d_s * [planted box, patients only])
                    + sigma_s * noise , 0, 1 ) * mask
   F_s: low-frequency random field, white noise on a half-resolution grid, Gaussian-filtered with
   sigma 5 (= 10 voxels of the 2 mm grid, 20 mm), upsampled (linear), then set to zero mean and
   peak |F_s| = 1 inside the mask; a_s ~ U(0.05, 0.08) is the field's peak amplitude (the field
   stays within +-5-8 %; its standard deviation is about a_s / 3.2, i.e. 1.5-2.5 %, listed per
   subject in cohort.json), standing in for between-subject anatomy / registration / acquisition
   differences. (With a_s as the standard deviation instead, 5-8 %, the smooth field swamps the
   planted change: nested CV accuracy of model A 0.56-0.74, and even the planted box's mean FA
   alone separates the classes only at about 0.78.)
   noise: i.i.d. N(0, 1) per voxel; sigma_s ~ U(0.03, 0.05) (scanner-dependent noise level).
   d_s ~ U(0.08, 0.15) for patients: the fraction by which FA is lowered inside the planted box
   (drawn for every subject; used for patients only, listed in cohort.json).
4. Model A, the paper's classifier: L2 logistic regression (sklearn, lbfgs, class_weight balanced)
   on the in-mask voxels of x slices 29..40, after centring each feature on the training mean
   (folded into the bias). C is chosen from {1e-4, 1e-3, 1e-2, 1e-1, 1} by stratified 4-fold CV;
   the reported accuracy is a nested, stratified 5-fold CV (C chosen inside each outer fold), so it
   is not tuned on its own test folds. The final model is refitted on all subjects; its accuracy on
   the --heldout subjects (streams after the training ones, never trained on) is reported too.
   ONNX (opset 13, built with onnx.helper): volume (1,1,91,109,91) -> Flatten(axis=1) ->
   Gemm(W (2, 902629), B (2,), transB=1) -> Softmax(axis=1) -> probabilities (1, 2). W's rows are
   [-w/2, +w/2] and B = [-b/2, +b/2], so softmax = [1 - sigmoid(z), sigmoid(z)] with z = w.x + b
   = sklearn's predict_proba; W is zero outside slices 29..40 and outside the mask, and is in the
   engine's (z, y, x) order. Checked with onnx.checker and a numpy forward of the saved file
   against predict_proba (max abs diff <= 1e-5). weights.nii.gz: w in nibabel order (positive =
   evidence for "patient"), for the paper's figure-9 comparison.
5. Model B, a small 3-D CNN (torch), on the whole volume in (z, y, x) order:
   x - mean (the mean volume of its training subjects)
   Conv3d(1->8, 3, stride 2, pad 1) -> BN -> ReLU -> AvgPool3d(2)      (46x55x46 -> 23x27x23)
   Conv3d(8->16, 3, pad 1) -> BN -> ReLU -> AvgPool3d(2)               (-> 11x13x11)
   Conv3d(16->16, 3, pad 1) -> BN -> ReLU -> AvgPool3d(2)              (-> 5x6x5)
   Flatten (2400) -> Linear(2) -> Softmax.
   The first convolution has stride 2 because the same net at full resolution costs about 10x
   more. Trained with Adam (lr 1e-3, weight decay 1e-4, batch 8, cross-entropy) for --epochs
   epochs on --cnn-subjects further subjects of the same population (the streams after the
   cohort's and the held-out ones; not written to disk); no augmentation, no early stopping (the
   last epoch is exported). Its accuracy is reported on the cohort's subjects and the held-out ones,
   neither of which it saw. What it takes to learn the planted change, measured while building it:
   with 60 training volumes (the cohort's, split 75/25) every variant tried (max or average pools,
   with or without centring, a global max pool head, dropout) stays at 0.35-0.75 on its 20
   validation subjects; on 320 further subjects it does not learn in 8-12 epochs without the
   centring, nor without BatchNorm; with both, about 0.97 on the cohort after 12 epochs. For export the BatchNorms are folded into the
   convolutions (eval mode) and the zero Pads torch 1.13 writes before each AveragePool are dropped,
   so the graph is Add (the centring: x + (-mean), a constant volume), Conv, Relu, AveragePool,
   Flatten, Gemm, Softmax. Checked with onnx.checker and a numpy forward of the saved file
   (independent of torch) against torch on a few subjects.
6. Sidecars model_logreg.json and model_cnn3d.json (input "volume", output "probabilities",
   output_kind "probabilities", input_shape [C, D, H, W] = [1, 91, 109, 91], normalization mean 0
   std 1 (the models take raw FA), mask "mask.nii.gz" relative to the sidecar, labels
   ["control", "patient"]).

Files written to OUT
--------------------
  subjects/sub-001.nii.gz ...  float32 FA volumes, 2 mm affine (sform/qform code MNI)
  labels.csv                    path,label (path relative to OUT; 0 = control, 1 = patient)
  heldout/hld-001.nii.gz ...    --heldout subjects (half patients) used by no training; heldout.csv
  mask.nii.gz                   uint8 brain mask
  base_fa.nii.gz                float32 noise-free base FA map
  region.json                   planted / mirrored / shifted boxes (inclusive nibabel indices)
  model_logreg.onnx, model_logreg.json, weights.nii.gz
  model_cnn3d.onnx, model_cnn3d.json
  cohort.json                   everything in the printed summary, plus per-subject parameters
"""
import argparse
import copy
import csv
import json
import os
import sys
import time

import numpy as np

COHORT_VERSION = 2  # scripts/cohort.sh makes a cohort of another version again (2: the CNN that learns)
GRID = (91, 109, 91)
AFFINE_2MM = np.array([[-2.0, 0, 0, 90], [0, 2.0, 0, -126], [0, 0, 2.0, -72], [0, 0, 0, 1]])
SLAB = (29, 40)  # x indices, inclusive
BOX = (6, 10, 4)  # x voxels, then the other two sizes (10 along y or z, chosen from the data)
FIELD_AMP = (0.05, 0.08)
FIELD_SIGMA_VOX = 10.0
NOISE_SIGMA = (0.03, 0.05)
DROP = (0.08, 0.15)
C_GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_TEMPLATE = os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "volumes", "mni_icbm152_wm_2009a_1mm.nii.gz"))


def log(*a):
    print(*a, flush=True)


# ----------------------------------------------------------------------------------------------
# geometry

def save_nii(path, data, dtype):
    import nibabel as nib
    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), AFFINE_2MM)
    img.set_sform(AFFINE_2MM, code="mni")
    img.set_qform(AFFINE_2MM, code="mni")
    img.header.set_xyzt_units("mm")
    nib.save(img, path)


def load_wm_2mm(path):
    """White-matter probability resampled onto the 2 mm grid (nibabel order), and the scale used."""
    import nibabel as nib
    from scipy import ndimage
    img = nib.load(path)
    raw = np.asarray(img.dataobj)
    slope, inter = img.header.get_slope_inter()
    if raw.dtype == np.uint8 and (slope is None or slope == 1.0) and not inter:
        scale = 1.0 / 255.0  # uint8 probabilities 0..255, no scaling in the header
        wm = raw.astype(np.float32) * scale
    else:
        wm = img.get_fdata(dtype=np.float32)
        scale = 1.0 / float(wm.max()) if wm.max() > 1.0 else 1.0
        wm = wm * scale
    vox_mm = np.sqrt((img.affine[:3, :3] ** 2).sum(0))
    sigma = 2.0 / (2.0 * np.sqrt(2.0 * np.log(2.0))) / vox_mm  # FWHM 2 mm
    wm = ndimage.gaussian_filter(wm, sigma=sigma, mode="constant")
    ijk = np.indices(GRID, dtype=np.float64).reshape(3, -1)
    world = AFFINE_2MM @ np.vstack([ijk, np.ones((1, ijk.shape[1]))])
    src = np.linalg.inv(img.affine) @ world
    out = ndimage.map_coordinates(wm, src[:3], order=1, mode="constant", cval=0.0)
    return np.clip(out.reshape(GRID), 0.0, 1.0).astype(np.float32), scale, img.shape


def brain_mask(wm2):
    from scipy import ndimage
    m = wm2 > 0.1
    m = ndimage.binary_closing(m, iterations=2)  # 6-connectivity, 2 voxels: joins the ventricle walls
    m = ndimage.binary_fill_holes(m)
    for z in range(m.shape[2]):  # ventricles still open to the outside in 3-D are closed in axial slices
        m[:, :, z] = ndimage.binary_fill_holes(m[:, :, z])
    lab, n = ndimage.label(m)
    if n > 1:
        sizes = ndimage.sum(m, lab, range(1, n + 1))
        m = lab == (1 + int(np.argmax(sizes)))
    return m


def midline_index():
    return int(round((np.linalg.inv(AFFINE_2MM) @ np.array([0.0, 0, 0, 1]))[0]))


def world_range_to_index(axis, lo_mm, hi_mm):
    """Voxel index range [a, b] on axis 1 or 2 (positive steps) covering world [lo_mm, hi_mm]."""
    step, off = AFFINE_2MM[axis, axis], AFFINE_2MM[axis, 3]
    a = int(np.ceil((lo_mm - off) / step))
    b = int(np.floor((hi_mm - off) / step))
    return max(a, 0), min(b, GRID[axis] - 1)


def box_slices(b):
    return tuple(slice(b[k][0], b[k][1] + 1) for k in ("x", "y", "z"))


def find_regions(wm2):
    mid = midline_index()
    sx = BOX[0]
    y_lo, y_hi = world_range_to_index(1, -70.0, 40.0)
    z_lo, z_hi = world_range_to_index(2, 0.0, 40.0)
    cands = []
    for sy, sz in (BOX[1:], BOX[1:][::-1]):  # the 10 along y or along z
        for x0 in (35, 36, 37):
            for y0 in range(y_lo, y_hi - sy + 2):
                for z0 in range(z_lo, z_hi - sz + 2):
                    box = float(wm2[x0:x0 + sx, y0:y0 + sy, z0:z0 + sz].mean())
                    midv = float(wm2[mid - 1:mid + 2, y0:y0 + sy, z0:z0 + sz].mean())
                    cands.append((box + midv, x0, y0, z0, sy, sz, box, midv))
    cands.sort(key=lambda c: (-c[0],) + c[1:6])
    best = cands[0]
    _, x0, y0, z0, sy, sz, _, _ = best
    planted = {"x": [x0, x0 + sx - 1], "y": [y0, y0 + sy - 1], "z": [z0, z0 + sz - 1]}
    mirrored = {"x": [2 * mid - (x0 + sx - 1), 2 * mid - x0], "y": planted["y"], "z": planted["z"]}
    shifted = None
    for c in cands:
        if c[1] == x0 and c[4:6] == (sy, sz) and (c[2] + sy - 1 < y0 - 5 or c[2] > y0 + sy - 1 + 5):
            shifted = {"x": planted["x"], "y": [c[2], c[2] + sy - 1], "z": [c[3], c[3] + sz - 1]}
            break
    return planted, mirrored, shifted, {"score": best[0], "box_wm": best[6], "midline_wm": best[7]}


# ----------------------------------------------------------------------------------------------
# cohort

def smooth_field(rng, mask):
    from scipy import ndimage
    low_shape = tuple((n + 1) // 2 for n in GRID)
    f = ndimage.gaussian_filter(rng.standard_normal(low_shape), FIELD_SIGMA_VOX / 2.0, mode="wrap")
    f = ndimage.zoom(f, 2, order=1)[:GRID[0], :GRID[1], :GRID[2]]
    f = f - f[mask].mean()
    return (f / np.abs(f[mask]).max()).astype(np.float32)  # peak |F| = 1 in the mask (std about 0.3)


def make_subjects(base, mask, planted, labels, seed, first=0, prefix="sub"):
    """Subjects first, first + 1, ... of the seed's streams (stream i is the same whatever the count)."""
    vols = np.zeros((len(labels),) + GRID, dtype=np.float32)
    params = []
    box = box_slices(planted)
    streams = np.random.SeedSequence(seed).spawn(first + len(labels))[first:]
    for s, lab in enumerate(labels):
        rng = np.random.default_rng(streams[s])
        amp = rng.uniform(*FIELD_AMP)
        sigma = rng.uniform(*NOISE_SIGMA)
        drop = rng.uniform(*DROP)
        field = smooth_field(rng, mask)
        field_std = float(amp * field[mask].std())
        v = base * (1.0 + amp * field)
        if lab == 1:
            v[box] *= 1.0 - drop
        v = v + sigma * rng.standard_normal(GRID).astype(np.float32)
        vols[s] = np.where(mask, np.clip(v, 0.0, 1.0), 0.0)
        params.append({"id": "%s-%03d" % (prefix, s + 1), "label": int(lab), "field_amplitude": round(amp, 5),
                       "field_std": round(field_std, 5),
                       "noise_sigma": round(sigma, 5), "fa_drop": round(drop, 5) if lab == 1 else 0.0})
    return vols, params


# ----------------------------------------------------------------------------------------------
# ONNX helpers: a tiny numpy forward of the saved graphs (no onnxruntime / onnx.reference here)

def onnx_numpy_forward(path, x):
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    v = {i.name: numpy_helper.to_array(i).astype(np.float64) if numpy_helper.to_array(i).dtype.kind == "f"
         else numpy_helper.to_array(i) for i in model.graph.initializer}
    v[model.graph.input[0].name] = np.asarray(x, dtype=np.float64)
    for n in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        i = [v[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Flatten":
            ax = a.get("axis", 1)
            r = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [int(s) for s in i[1]]
            shape = [i[0].shape[k] if s == 0 else s for k, s in enumerate(shape)]
            r = i[0].reshape(shape)
        elif op == "Constant":
            r = numpy_helper.to_array(a["value"])
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            r = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            r = i[0] @ i[1]
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Relu":
            r = np.maximum(i[0], 0.0)
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            r = e / e.sum(axis=ax, keepdims=True)
        elif op == "Conv":
            r = _conv3d(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op in ("MaxPool", "AveragePool"):
            r = _pool3d(i[0], a, op == "MaxPool")
        elif op == "BatchNormalization":
            sh = (1, -1) + (1,) * (i[0].ndim - 2)
            r = (i[0] - i[3].reshape(sh)) / np.sqrt(i[4].reshape(sh) + a.get("epsilon", 1e-5)) \
                * i[1].reshape(sh) + i[2].reshape(sh)
        else:
            raise SystemExit("numpy reference: op %s not supported" % op)
        v[n.output[0]] = r
    return v[model.graph.output[0].name]


def _conv3d(x, w, b, a):
    from numpy.lib.stride_tricks import sliding_window_view
    k = list(w.shape[2:])
    assert x.shape[0] == 1 and len(k) == 3 and a.get("group", 1) == 1
    assert list(a.get("dilations", [1, 1, 1])) == [1, 1, 1]
    st = list(a.get("strides", [1, 1, 1]))
    p = list(a.get("pads", [0] * 6))
    xp = np.pad(x[0], [(0, 0)] + [(p[d], p[d + 3]) for d in range(3)])
    win = sliding_window_view(xp, k, axis=(1, 2, 3))  # C, D, H, W, kd, kh, kw
    win = win[:, ::st[0], ::st[1], ::st[2]]
    r = np.tensordot(win, w, axes=([0, 4, 5, 6], [1, 2, 3, 4]))  # D, H, W, O
    r = np.moveaxis(r, -1, 0)[None]
    if b is not None:
        r = r + b.reshape(1, -1, 1, 1, 1)
    return r


def _pool3d(x, a, is_max):
    k = list(a["kernel_shape"])
    assert k == list(a.get("strides", k)) and not any(a.get("pads", [0] * 6)) and not a.get("ceil_mode", 0)
    n, c, d, h, w = x.shape
    D, H, W = d // k[0], h // k[1], w // k[2]
    x = x[:, :, :D * k[0], :H * k[1], :W * k[2]].reshape(n, c, D, k[0], H, k[1], W, k[2])
    return x.max(axis=(3, 5, 7)) if is_max else x.mean(axis=(3, 5, 7))


def write_sidecar(path):
    side = {"kind": "volume", "input": "volume", "output": "probabilities", "output_kind": "probabilities",
            "input_shape": [1, GRID[2], GRID[1], GRID[0]], "normalization": {"mean": 0.0, "std": 1.0},
            "mask": "mask.nii.gz", "labels": ["control", "patient"]}
    with open(path, "w") as f:
        json.dump(side, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
# model A: logistic regression on slices 29..40

def train_logreg(vols, labels, mask, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    feat = np.zeros(GRID, dtype=bool)
    feat[SLAB[0]:SLAB[1] + 1] = mask[SLAB[0]:SLAB[1] + 1]
    X = vols[:, feat].astype(np.float64)
    y = np.asarray(labels)

    def grid():
        pipe = Pipeline([("center", StandardScaler(with_std=False)),
                         ("lr", LogisticRegression(penalty="l2", class_weight="balanced", solver="lbfgs",
                                                   max_iter=5000, tol=1e-6))])
        return GridSearchCV(pipe, {"lr__C": C_GRID}, cv=StratifiedKFold(4, shuffle=True, random_state=seed + 1),
                            scoring="accuracy", n_jobs=1)

    outer = StratifiedKFold(5, shuffle=True, random_state=seed)
    cv_scores = cross_val_score(grid(), X, y, cv=outer, scoring="accuracy", n_jobs=1)
    final = grid().fit(X, y)
    pipe = final.best_estimator_
    lr = pipe.named_steps["lr"]
    mu = pipe.named_steps["center"].mean_
    w = lr.coef_[0]
    b = float(lr.intercept_[0] - w @ mu)
    wmap = np.zeros(GRID, dtype=np.float64)
    wmap[feat] = w
    return {"X": X, "feat": feat, "pipe": pipe, "wmap": wmap, "b": b, "features": int(feat.sum()),
            "cv_scores": cv_scores, "best_C": float(final.best_params_["lr__C"]),
            "inner_cv_accuracy": float(final.best_score_),
            "train_accuracy": float((pipe.predict(X) == y).mean())}


def export_logreg(path, wmap, b):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w = wmap.T.ravel()  # engine order (z, y, x), C order
    W = np.stack([-0.5 * w, 0.5 * w]).astype(np.float32)
    B = np.array([-0.5 * b, 0.5 * b], dtype=np.float32)
    shape = [1, 1, GRID[2], GRID[1], GRID[0]]
    nodes = [helper.make_node("Flatten", ["volume"], ["flat"], axis=1),
             helper.make_node("Gemm", ["flat", "W", "B"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "pda_logreg_slices_29_40",
        [helper.make_tensor_value_info("volume", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2])],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, producer_name="pda tests/volumes/make_cohort.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    onnx.checker.check_model(onnx.load(path))


# ----------------------------------------------------------------------------------------------
# model B: small 3-D CNN

def centre_module(mean):
    """x - the training subjects' mean volume, as a module whose ONNX export is Add(x, -mean)."""
    import torch.nn as nn

    class Centre(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("neg_mean", -mean)

        def forward(self, x):
            return x + self.neg_mean

    return Centre()


def engine_order(vols):
    """(N, x, y, z) nibabel arrays -> a (N, 1, z, y, x) torch tensor, the engine's order."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(vols.transpose(0, 3, 2, 1)))[:, None]


def train_cnn(train_vols, train_labels, checks, seed, epochs):
    """Model B on train_vols; checks: {name: (vols, labels)} whose accuracy is reported after each epoch."""
    import torch
    import torch.nn as nn
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except TypeError:
        pass
    data = engine_order(train_vols)
    y = np.asarray(train_labels)
    yt = torch.from_numpy(y).long()
    check_data = {name: (engine_order(v), np.asarray(lab)) for name, (v, lab) in checks.items()}

    def block(cin, cout, stride=1):
        return [nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm3d(cout), nn.ReLU(),
                nn.AvgPool3d(2)]

    feats = nn.Sequential(centre_module(data.mean(0, keepdim=True)), *block(1, 8, 2), *block(8, 16), *block(16, 16))
    with torch.no_grad():
        n_flat = feats.eval()(data[:1]).numel()  # 16 x 5 x 6 x 5
    net = nn.Sequential(feats, nn.Flatten(1), nn.Linear(n_flat, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    lossf = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    hist = []

    def accuracy(d, lab):
        net.eval()
        with torch.no_grad():
            p = torch.cat([net(d[k:k + 8]) for k in range(0, len(d), 8)])
        return float((p.argmax(1).numpy() == lab).mean())

    for ep in range(epochs):
        t0 = time.time()
        net.train()
        perm = torch.randperm(len(y), generator=gen).numpy()
        tot = 0.0
        for k in range(0, len(perm), 8):
            bi = perm[k:k + 8]
            if len(bi) < 2:
                continue
            opt.zero_grad()
            loss = lossf(net(data[bi]), yt[bi])
            loss.backward()
            opt.step()
            tot += float(loss) * len(bi)
        row = {"epoch": ep + 1, "train_loss": round(tot / len(y), 4)}
        row.update({name + "_accuracy": round(accuracy(d, lab), 4) for name, (d, lab) in check_data.items()})
        row["seconds"] = round(time.time() - t0, 1)
        hist.append(row)
        log("  cnn epoch %d: %s" % (ep + 1, ", ".join("%s %s" % (k, v) for k, v in row.items() if k != "epoch")))
    train_acc = accuracy(data, y)
    return net, data, hist, train_acc


def drop_zero_pads(model):
    """torch 1.13 exports AvgPool3d as Pad (all zeros) + AveragePool: the Pads, identities, are dropped."""
    from onnx import numpy_helper
    consts = {n.output[0]: n for n in model.graph.node if n.op_type == "Constant"}
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = [copy.deepcopy(n) for n in model.graph.node]
    rename, dropped = {}, set()
    for k, n in enumerate(nodes):
        if n.op_type != "Pad" or len(n.input) < 2:
            continue
        pads = inits.get(n.input[1])
        if pads is None and n.input[1] in consts:
            pads = numpy_helper.to_array(consts[n.input[1]].attribute[0].t)
        if pads is not None and not np.any(pads) and (len(n.input) < 3 or not n.input[2]):
            rename[n.output[0]] = n.input[0]
            dropped.add(k)
    keep = [n for k, n in enumerate(nodes) if k not in dropped]
    for n in keep:
        for j, name in enumerate(n.input):
            n.input[j] = rename.get(name, name)
    used = {name for n in keep for name in n.input}
    keep = [n for n in keep if n.op_type != "Constant" or n.output[0] in used]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def export_cnn(net, data, path, check_ids):
    import onnx
    import torch
    import torch.nn as nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    net.eval()
    layers = []
    mods = list(net[0])
    k = 0
    while k < len(mods):
        m = mods[k]
        if isinstance(m, nn.Conv3d) and k + 1 < len(mods) and isinstance(mods[k + 1], nn.BatchNorm3d):
            layers.append(fuse_conv_bn_eval(m, mods[k + 1]))
            k += 2
        else:
            layers.append(m)
            k += 1
    fused = nn.Sequential(*layers, net[1], net[2], nn.Softmax(dim=1)).eval()
    x0 = data[:1]
    with torch.no_grad():
        ref = torch.softmax(net(data[check_ids]), 1).numpy()
        got = fused(data[check_ids]).numpy()
    fuse_diff = float(np.abs(ref - got).max())
    torch.onnx.export(fused, x0, path, opset_version=13, input_names=["volume"], output_names=["probabilities"],
                      do_constant_folding=True)
    model = drop_zero_pads(onnx.load(path))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    ops = sorted({n.op_type for n in model.graph.node})
    diffs = []
    for j, s in enumerate(check_ids):
        p = onnx_numpy_forward(path, data[s:s + 1].numpy())
        diffs.append(float(np.abs(p - got[j:j + 1]).max()))
    return {"op_types": ops, "bn_fold_max_abs_diff": fuse_diff, "onnx_vs_torch_max_abs_diff": max(diffs),
            "checked_subjects": [int(s) for s in check_ids]}


# ----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--subjects", type=int, default=80)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=12, help="CNN training epochs (default 12)")
    ap.add_argument("--cnn-subjects", type=int, default=320,
                    help="further subjects, half patients, the CNN is trained on (default 320)")
    ap.add_argument("--template", default=DEFAULT_TEMPLATE, help="the 1 mm white-matter probability map")
    ap.add_argument("--heldout", type=int, default=10,
                    help="held-out subjects, half patients, never used for training (default 10)")
    args = ap.parse_args()
    if args.subjects < 10:
        ap.error("--subjects must be at least 10 (5-fold CV of both classes)")
    import nibabel  # noqa: F401  (fail early if missing)
    import torch
    torch.set_num_threads(2)
    t_start = time.time()
    timings = {}
    out = args.out
    os.makedirs(os.path.join(out, "subjects"), exist_ok=True)

    # 1. base
    t = time.time()
    wm2, scale, src_shape = load_wm_2mm(args.template)
    mask = brain_mask(wm2)
    base = np.where(mask, 0.15 + 0.55 * wm2, 0.0).astype(np.float32)
    save_nii(os.path.join(out, "mask.nii.gz"), mask, np.uint8)
    save_nii(os.path.join(out, "base_fa.nii.gz"), base, np.float32)
    planted, mirrored, shifted, score = find_regions(wm2)
    regions = {"planted": planted, "mirrored": mirrored, "shifted": shifted,
               "axis_convention": "nibabel voxel indices [x, y, z] of the 91x109x91 2 mm grid (affine "
                                  "[[-2,0,0,90],[0,2,0,-126],[0,0,2,-72],[0,0,0,1]]), inclusive bounds; the "
                                  "engine's tensor (N,C,D,H,W) = (1,1,z,y,x) is the nibabel array transposed",
               "slices": {"axis": "x (nibabel axis 0, engine W)", "range": list(SLAB)},
               "note": "planted: FA lowered in patients; mirrored: planted box mirrored through the midline "
                       "x=45 (no change, outside slices 29-40); shifted: same x range, another part of the "
                       "corpus callosum (no change, inside slices 29-40)"}
    with open(os.path.join(out, "region.json"), "w") as f:
        json.dump(regions, f, indent=2)
        f.write("\n")
    region_fa = {k: float(base[box_slices(b)].mean()) for k, b in
                 (("planted", planted), ("mirrored", mirrored), ("shifted", shifted)) if b}
    timings["base"] = time.time() - t

    # 2. cohort
    t = time.time()
    n = args.subjects
    n_pat = n // 2
    lab_rng = np.random.default_rng(np.random.SeedSequence([args.seed, 1]))
    labels = lab_rng.permutation(np.array([0] * (n - n_pat) + [1] * n_pat))
    vols, params = make_subjects(base, mask, planted, labels, args.seed)
    rows = []
    for s in range(n):
        rel = "subjects/%s.nii.gz" % params[s]["id"]
        save_nii(os.path.join(out, rel), vols[s], np.float32)
        rows.append((rel, int(labels[s])))
    with open(os.path.join(out, "labels.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["path", "label"])
        wr.writerows(rows)
    # Held-out subjects: the streams after the training subjects', never seen by either model.
    n_held = args.heldout
    held_labels = np.array([0] * (n_held - n_held // 2) + [1] * (n_held // 2))
    held_vols, held_params = make_subjects(base, mask, planted, held_labels, args.seed, first=n, prefix="hld")
    os.makedirs(os.path.join(out, "heldout"), exist_ok=True)
    with open(os.path.join(out, "heldout.csv"), "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["path", "label"])
        for s in range(n_held):
            rel = "heldout/%s.nii.gz" % held_params[s]["id"]
            save_nii(os.path.join(out, rel), held_vols[s], np.float32)
            wr.writerow([rel, int(held_labels[s])])
    pb = box_slices(planted)
    box_means = {c: float(np.mean([vols[s][pb].mean() for s in range(n) if labels[s] == c])) for c in (0, 1)}
    timings["cohort"] = time.time() - t
    log("cohort: %d subjects written (%.1f s)" % (n, timings["cohort"]))

    # 3. model A
    t = time.time()
    A = train_logreg(vols, labels, mask, args.seed)
    save_nii(os.path.join(out, "weights.nii.gz"), A["wmap"], np.float32)
    pa = os.path.join(out, "model_logreg.onnx")
    export_logreg(pa, A["wmap"], A["b"])
    write_sidecar(os.path.join(out, "model_logreg.json"))
    check = list(range(min(6, n)))
    sk = A["pipe"].predict_proba(A["X"][check])
    on = np.concatenate([onnx_numpy_forward(pa, vols[s].T[None, None].astype(np.float32)) for s in check])
    f32 = []
    W = np.stack([-0.5 * A["wmap"].T.ravel(), 0.5 * A["wmap"].T.ravel()]).astype(np.float32)
    B = np.array([-0.5 * A["b"], 0.5 * A["b"]], dtype=np.float32)
    for s in check:  # the same forward in float32, as the engine computes it
        z = W @ vols[s].T.ravel().astype(np.float32) + B
        e = np.exp(z - z.max())
        f32.append(e / e.sum())
    diff64 = float(np.abs(on - sk).max())
    diff32 = float(np.abs(np.array(f32) - sk).max())
    if max(diff64, diff32) > 1e-5:
        raise SystemExit("model_logreg.onnx disagrees with predict_proba: %g / %g" % (diff64, diff32))
    held_acc = float((A["pipe"].predict(held_vols[:, A["feat"]].astype(np.float64)) == held_labels).mean()) \
        if n_held else None
    wm_ = A["wmap"]
    w_in = {k: float(wm_[box_slices(b)].mean()) for k, b in (("planted", planted), ("shifted", shifted)) if b}
    w_slab = wm_[SLAB[0]:SLAB[1] + 1][mask[SLAB[0]:SLAB[1] + 1]]
    timings["logreg"] = time.time() - t
    log("model A: nested 5-fold CV accuracy %.3f +- %.3f (C = %g, %.1f s); held-out accuracy %s" %
        (A["cv_scores"].mean(), A["cv_scores"].std(), A["best_C"], timings["logreg"],
         "%.2f (%d subjects)" % (held_acc, n_held) if n_held else "-"))

    # 4. model B: trained on further subjects of the same population (a CNN needs more than the 80 a
    # linear model is fitted on), checked on the cohort's subjects and the held-out ones, which it never saw.
    t = time.time()
    n_cnn = args.cnn_subjects
    cnn_labels = np.random.default_rng(np.random.SeedSequence([args.seed, 2])).permutation(
        np.array([0] * (n_cnn - n_cnn // 2) + [1] * (n_cnn // 2)))
    cnn_vols, _ = make_subjects(base, mask, planted, cnn_labels, args.seed, first=n + n_held, prefix="cnn")
    checks = {"cohort": (vols, labels)}
    if n_held:
        checks["heldout"] = (held_vols, held_labels)
    net, data, hist, train_acc = train_cnn(cnn_vols, cnn_labels, checks, args.seed, args.epochs)
    del cnn_vols, data
    pb_ = os.path.join(out, "model_cnn3d.onnx")
    cnn_check = export_cnn(net, engine_order(vols[:3]), pb_, [0, 1, 2])
    write_sidecar(os.path.join(out, "model_cnn3d.json"))
    if cnn_check["onnx_vs_torch_max_abs_diff"] > 1e-4:
        raise SystemExit("model_cnn3d.onnx disagrees with torch: %g" % cnn_check["onnx_vs_torch_max_abs_diff"])
    timings["cnn"] = time.time() - t

    total = time.time() - t_start
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    files = [f for f in files if not f.startswith(("subjects/", "heldout/"))] + \
        ["subjects/sub-001.nii.gz .. sub-%03d.nii.gz" % n] + \
        (["heldout/hld-001.nii.gz .. hld-%03d.nii.gz" % n_held] if n_held else [])
    summary = {
        "version": COHORT_VERSION, "subjects": n, "seed": args.seed,
        "class_counts": {"control": int((labels == 0).sum()), "patient": int((labels == 1).sum())},
        "grid": list(GRID), "affine": AFFINE_2MM.tolist(),
        "template": {"path": os.path.abspath(args.template), "shape": list(src_shape), "value_scale": scale,
                     "smoothing_fwhm_mm": 2.0, "interpolation": "map_coordinates order 1"},
        "mask_voxels": int(mask.sum()),
        "fa_model": "FA = 0.15 + 0.55 * wm inside the mask, 0 outside",
        "base_fa_in_mask": {"mean": float(base[mask].mean()), "p5": float(np.percentile(base[mask], 5)),
                            "p95": float(np.percentile(base[mask], 95)), "max": float(base.max())},
        "regions": {"planted": planted, "mirrored": mirrored, "shifted": shifted,
                    "base_fa_mean": region_fa, "search_score": score},
        "heldout": {"subjects": n_held, "file": "heldout.csv", "logreg_accuracy": held_acc,
                    "note": "streams after the training subjects'; used by neither model's training"},
        "planted_box_mean_fa": {"control": box_means[0], "patient": box_means[1]},
        "noise": {"field_peak_amplitude_uniform": list(FIELD_AMP),
                  "field_std_mean": float(np.mean([p["field_std"] for p in params])), "field_sigma_voxels": FIELD_SIGMA_VOX,
                  "noise_sigma_uniform": list(NOISE_SIGMA), "patient_fa_drop_uniform": list(DROP)},
        "model_logreg": {"file": "model_logreg.onnx", "features": A["features"], "slices_x": list(SLAB),
                         "C_grid": C_GRID, "best_C": A["best_C"],
                         "nested_cv5_accuracy": float(A["cv_scores"].mean()),
                         "nested_cv5_fold_accuracies": [float(s) for s in A["cv_scores"]],
                         "inner_cv_accuracy_best_C": A["inner_cv_accuracy"], "train_accuracy": A["train_accuracy"],
                         "onnx_numpy_vs_predict_proba_max_abs_diff": diff64,
                         "float32_forward_vs_predict_proba_max_abs_diff": diff32,
                         "weight_mean": {**w_in, "slab_in_mask": float(w_slab.mean()),
                                         "slab_in_mask_abs": float(np.abs(w_slab).mean())}},
        "model_cnn3d": {"file": "model_cnn3d.onnx", "epochs": args.epochs, "train_subjects": n_cnn,
                        "train_streams": "the %d after the cohort's and the held-out subjects'" % n_cnn,
                        "cohort_accuracy": hist[-1]["cohort_accuracy"] if hist else None,
                        "heldout_accuracy": hist[-1].get("heldout_accuracy") if hist else None,
                        "train_accuracy": train_acc, "history": hist, **cnn_check},
        "files": files,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "seconds_total": round(total, 1),
        "per_subject": params,
    }
    with open(os.path.join(out, "cohort.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")

    log("")
    log("== cohort summary (%s) ==" % out)
    log("subjects %d: %d controls, %d patients; mask %d voxels; base FA in mask mean %.3f (p5 %.3f, p95 %.3f)" %
        (n, summary["class_counts"]["control"], summary["class_counts"]["patient"], mask.sum(),
         summary["base_fa_in_mask"]["mean"], summary["base_fa_in_mask"]["p5"], summary["base_fa_in_mask"]["p95"]))
    for k, b in (("planted", planted), ("mirrored", mirrored), ("shifted", shifted)):
        log("  %-8s x %s y %s z %s  base FA %.3f" % (k, b["x"], b["y"], b["z"], region_fa[k]))
    log("planted box mean FA: controls %.3f, patients %.3f" % (box_means[0], box_means[1]))
    log("noise: field peak amplitude U%s (std %.3f on average, sigma %g vox), voxel noise U%s, "
        "patient drop U%s" % (FIELD_AMP, summary["noise"]["field_std_mean"], FIELD_SIGMA_VOX, NOISE_SIGMA, DROP))
    log("model A (logreg, x slices %d-%d, %d features): nested 5-fold CV accuracy %.3f (folds %s), C %g; "
        "ONNX vs predict_proba %.2g" % (SLAB[0], SLAB[1], A["features"], A["cv_scores"].mean(),
                                        " ".join("%.2f" % s for s in A["cv_scores"]), A["best_C"], max(diff64, diff32)))
    log("model B (3-D CNN, %d epochs on %d further subjects): accuracy on the cohort's %d subjects %s, on the "
        "%d held-out %s (train %.3f); ops %s; ONNX vs torch %.2g" %
        (args.epochs, n_cnn, n, summary["model_cnn3d"]["cohort_accuracy"], n_held,
         summary["model_cnn3d"]["heldout_accuracy"], train_acc, ",".join(cnn_check["op_types"]),
         cnn_check["onnx_vs_torch_max_abs_diff"]))
    log("files: %s" % ", ".join(files))
    log("seconds: %s; total %.1f" % (", ".join("%s %.1f" % kv for kv in timings.items()), total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
