#!/usr/bin/python3
"""The HTML report (pda report) in a real browser: headless Chromium with networking off loads reports
that `pda report` wrote from synthetic result folders (made here: photos, maps, summary.json as pda
explain writes them), and checks that
  * no request leaves the page (every URL is the report's own file:// or a data: URL) and no console
    error or uncaught exception is logged,
  * an image page has one panel per explained class and run, and moving the threshold slider (a click on
    its track) changes the rendered pixels (fewer coloured pixels at a higher threshold); the hidden
    layer's channel browser changes its picture,
  * a volume page's slice scrubber changes the slice shown, and a click on one view moves the
    crosshair and the other views' slices,
  * a screenshot is saved (OUT/screenshot-*.png) and is neither blank nor uniform,
  * the index of a 1000-image job (at most 2 MB) opens and draws its table within a time that is
    printed ("index of 1000 inputs: ... s") and bounded.

usage: /usr/bin/python3 tests/browser/test_report_browser.py --pda BUILD/pda --out DIR [--items 1000]
Exit codes: 0 passed, 1 failed, 77 skipped (no chromium: scripts/setup.sh installs it), except under
CI=true, where a missing chromium is a failure. About 20 s on 2 cores.
"""
import argparse
import json
import os
import pathlib
import shutil
import struct
import subprocess
import sys
import time
import zlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from cdp import Browser, find_chromium  # noqa: E402

SKIP = 77
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


# ---- synthetic results, as pda explain writes them ----------------------------------------------------
def write_png(path, rgb):
    """An 8-bit RGB PNG of rgb (H, W, 3) uint8."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    pathlib.Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                                   chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def photo(h, w, seed):
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y + seed * 40) % 256)], -1)
    return rgb.astype(np.uint8)


def blob_maps(m, h, w, seed):
    """m maps (m, h, w) of a positive and a negative Gaussian blob each, at seeded places."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    maps = np.zeros((m, h, w), np.float32)
    for i in range(m):
        (py, px), (ny, nx) = rng.uniform(0.2, 0.8, (2, 2)) * [h, w]
        s = (h / 6) ** 2
        maps[i] = (1.5 * np.exp(-((y - py) ** 2 + (x - px) ** 2) / s) -
                   0.8 * np.exp(-((y - ny) ** 2 + (x - nx) ** 2) / s) + 0.05 * rng.standard_normal((h, w)))
    return maps


def summary(kind, path, classes, k, extra):
    s = {
        "model": {"spec": "synthetic.onnx", "input": "data", "output": "prob", "classes": 1000},
        "parameters": {"sampler": "conditional", "k": k, "pad": 2, "l": k + 4, "samples": 10, "stride": 1,
                       "classes": "top%d" % len(classes), "nodes": [], "laplace_n": 1000, "seed": 0},
        "device": "cpu", "precision": "fp32", "execution": "incremental",
        "classes": [{"map": i, "id": c, "label": "class %d" % c, "probability": p} for i, (c, p) in enumerate(classes)],
        "predicted": [{"id": c, "label": "class %d" % c, "probability": p} for c, p in classes],
        "nodes": [], "windows": 100, "forward_passes": 1000, "timings": {"total_s": 1.25},
        "version": "test", "date": "2026-12-07T00:00:00Z",
    }
    s[kind] = path
    s.update(extra)
    return s


def image_result(folder, photo_path, ph, pw, crop, classes, k, seed, node_units=0):
    folder.mkdir(parents=True)
    maps = blob_maps(len(classes), crop, crop, seed)
    np.save(folder / "relevance.npy", maps)
    np.save(folder / "counts.npy", np.ones((crop, crop), np.float32))
    extra = {"preprocessing": {"input_size": [crop, crop], "resize_shorter": crop + crop // 8, "crop": "center"},
             "relevance": {"file": "relevance.npy", "shape": list(maps.shape)}}
    s = summary("image", {"path": str(photo_path), "stem": folder.name, "height": crop, "width": crop},
                [(c, p) for c, p in classes], k, extra)
    if node_units:
        t = blob_maps(node_units, crop, crop, seed + 7) * np.linspace(0.1, 3, node_units, dtype=np.float32)[:, None, None]
        np.save(folder / "node-conv1.npy", t.astype(np.float32))
        s["nodes"] = [{"name": "conv1", "file": "node-conv1.npy", "shape": list(t.shape)}]
    (folder / "summary.json").write_text(json.dumps(s, indent=2))


def volume_result(folder, input_path, dims, classes, seed, affine):
    import nibabel as nib
    folder.mkdir(parents=True)
    d, h, w = dims
    maps = np.stack([blob_maps(1, h, w, seed + i)[0][None].repeat(d, 0) *
                     np.hanning(d + 2)[1:-1, None, None].astype(np.float32) for i in range(len(classes))])
    nib.save(nib.Nifti1Image(np.ascontiguousarray(maps.transpose(3, 2, 1, 0)), np.eye(4)), str(folder / "relevance.nii.gz"))
    s = summary("volume", {"path": str(input_path), "stem": folder.name, "shape_xyz": [w, h, d], "channels": 1,
                           "affine": [float(a) for a in affine.reshape(-1)]},
                classes, 3, {"relevance": {"file": "relevance.nii.gz", "shape": list(maps.shape)}})
    # A hidden layer of 5 channels, the last the strongest.
    units = 5
    node = np.stack([maps[0] * np.roll(np.hanning(w + 2)[1:-1], 3 * u)[None, None, :] for u in range(units)])
    node = (node * np.linspace(0.2, 2, units)[:, None, None, None]).astype(np.float32)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(node.transpose(3, 2, 1, 0)), np.eye(4)), str(folder / "node-conv1.nii.gz"))
    s["nodes"] = [{"name": "conv1", "file": "node-conv1.nii.gz", "shape": list(node.shape)}]
    (folder / "summary.json").write_text(json.dumps(s, indent=2))


def make_fixtures(root, items):
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    photos = root / "photos"
    photos.mkdir()
    write_png(photos / "cat.png", photo(300, 400, 1))
    # Two runs of the same photo (k 5 and k 10), the first with a hidden layer of 12 channels.
    image_result(root / "run-k5" / "cat", photos / "cat.png", 300, 400, 64, [(281, 0.61), (285, 0.2)], 5, 1, 12)
    image_result(root / "run-k10" / "cat", photos / "cat.png", 300, 400, 64, [(281, 0.61), (285, 0.2)], 10, 2)
    # A volume and its input, with anisotropic voxels (1 x 1.5 x 2.5 mm, as thick-slice scans have).
    import nibabel as nib
    dims = (18, 22, 20)  # (D, H, W) = (nz, ny, nx)
    affine = np.diag([-1.0, 1.5, 2.5, 1.0])
    z, y, x = np.mgrid[0:dims[0], 0:dims[1], 0:dims[2]]
    brain = (np.exp(-(((z - 9) / 7) ** 2 + ((y - 11) / 9) ** 2 + ((x - 10) / 8) ** 2)) * 0.8).astype(np.float32)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(brain.transpose(2, 1, 0)), affine), str(photos / "sub-01.nii.gz"))
    volume_result(root / "run-mri" / "sub-01", photos / "sub-01.nii.gz", dims, [(1, 0.9), (0, 0.1)], 3, affine)
    # A job of many small images in folders, all of one small photo.
    write_png(photos / "small.png", photo(40, 48, 3))
    for i in range(items):
        image_result(root / "job" / ("n%02d" % (i % 10)) / ("img%04d" % i), photos / "small.png", 40, 48, 32,
                     [(i % 1000, 0.3 + (i % 7) / 10), ((i * 7) % 1000, 0.1)], 10, 100 + i)


# ---- checks in the page --------------------------------------------------------------------------------
CANVAS_STATS = """((sel) => {
  const c = document.querySelector(sel), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let h = 0, coloured = 0;
  for (let i = 0; i < d.length; i += 4) {
    h = (Math.imul(h, 31) + d[i] * 65536 + d[i + 1] * 256 + d[i + 2]) | 0;
    if (d[i] !== d[i + 1] || d[i + 2] !== d[i + 1]) ++coloured;
  }
  return {hash: h, coloured: coloured};
})(%s)"""

PNG_STATS = """(async (b64) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const bmp = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
  const c = new OffscreenCanvas(bmp.width, bmp.height), ctx = c.getContext('2d');
  ctx.drawImage(bmp, 0, 0);
  const d = ctx.getImageData(0, 0, bmp.width, bmp.height).data, count = new Map();
  let white = 0;
  for (let i = 0; i < d.length; i += 4) {
    const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    count.set(k, (count.get(k) || 0) + 1);
    if (k === 0xffffff) ++white;
  }
  const n = d.length / 4;
  return {width: bmp.width, height: bmp.height, colours: count.size, top: Math.max(...count.values()) / n, white: white / n};
})(%s)"""


def stats(b, selector):
    return b.evaluate(CANVAS_STATS % json.dumps(selector))


def check_page_hygiene(b, report, what):
    bad = [u for u in b.requests if not (u.startswith("data:") or u.startswith(report.as_uri() + "/"))]
    check(not bad, f"{what}: no request left the page ({len(b.requests)} requests; outside: {bad[:3]})")
    check(not b.errors, f"{what}: no console error ({b.errors[:3]})")
    b.requests.clear()
    b.errors.clear()


def check_screenshot(b, path, what):
    import base64
    png = b.screenshot(path)
    st = b.evaluate(PNG_STATS % json.dumps(base64.b64encode(png).decode()))
    check(st["white"] < 0.98 and st["colours"] > 200 and st["top"] < 0.9,
          f"{what}: screenshot {path.name} {st['width']}x{st['height']} is neither blank nor uniform "
          f"({st['colours']} colours, commonest {100 * st['top']:.0f} %, white {100 * st['white']:.0f} %)")


def run_report(pda, *args):
    t = time.monotonic()
    r = subprocess.run([str(pda), "report", *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pda report {' '.join(map(str, args))}: exit {r.returncode}: {r.stderr.strip()}")
    return time.monotonic() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pda", required=True)
    ap.add_argument("--out", required=True, help="working folder (fixtures, reports, screenshots)")
    ap.add_argument("--items", type=int, default=1000, help="inputs of the synthetic job")
    ap.add_argument("--max-open-seconds", type=float, default=10.0)
    a = ap.parse_args()
    chromium = find_chromium()
    if not chromium:
        print("chromium is absent (scripts/setup.sh installs it)", flush=True)
        return 1 if os.environ.get("CI") == "true" else SKIP
    root = pathlib.Path(a.out).resolve()
    t = time.monotonic()
    make_fixtures(root, a.items)
    print(f"fixtures: {time.monotonic() - t:.1f} s", flush=True)
    cmp_dir, mri_dir, job_dir = root / "report-cmp", root / "report-mri", root / "job" / "report"
    run_report(a.pda, root / "run-k5", root / "run-k10", "--out", cmp_dir)
    run_report(a.pda, root / "run-mri", "--out", mri_dir)
    job_seconds = run_report(a.pda, root / "job", "--quiet")
    print(f"pda report of {a.items} inputs: {job_seconds:.1f} s", flush=True)

    b = Browser(chromium)
    try:
        # -- an image explained by two runs, side by side ------------------------------------------------
        page = cmp_dir / "pages" / "cat" / "index.html"
        b.open(page.as_uri())
        panels = b.evaluate("document.querySelectorAll('.class-panel').length")
        check(panels == 2 * 2, f"image page: one panel per explained class and run (2 classes x 2 runs): {panels}")
        check(b.evaluate("document.querySelectorAll('.class-panel[data-run=\"0\"]').length") == 2,
              "image page: each run has a panel per class")
        sel = ".class-panel canvas.map"
        before = stats(b, sel)
        t0 = b.evaluate("document.getElementById('threshold').value")
        b.click_element("#threshold", 0.7)  # a click on the slider's track, as a user moves it
        t1 = b.evaluate("document.getElementById('threshold').value")
        after = stats(b, sel)
        check(t0 == "15" and int(t1) > 50, f"image page: the threshold starts at 15 % and the click moved it ({t0} -> {t1})")
        check(before["hash"] != after["hash"] and after["coloured"] < before["coloured"],
              f"image page: the threshold changes the rendered pixels (coloured pixels {before['coloured']} -> {after['coloured']})")
        o0 = stats(b, sel)
        b.click_element("#opacity", 0.2)
        check(stats(b, sel)["hash"] != o0["hash"], "image page: the opacity changes the rendered pixels")
        s0 = b.evaluate("[...document.querySelectorAll('.colourbar .ticks span:first-child')].map(e => e.textContent).join()")
        b.click_element("#shared")
        s1 = b.evaluate("[...document.querySelectorAll('.colourbar .ticks span:first-child')].map(e => e.textContent).join()")
        check(s0 != s1 and len(set(s1.split(",")[:4])) <= 2,
              f"image page: one colour scale across runs on request (bar tops {s0} -> {s1})")
        n0 = stats(b, ".node-panel canvas")
        b.click_element(".node-panel button:last-of-type")
        check(b.evaluate("document.querySelector('.node-panel select').selectedIndex") == 1 and
              stats(b, ".node-panel canvas")["hash"] != n0["hash"],
              "image page: the hidden layer's next channel is drawn")
        first = b.evaluate("document.querySelector('.node-panel select').options[0].textContent")
        check("unit 11" in first, f"image page: channels strongest first ({first})")
        figure = cmp_dir / "pages" / "cat" / "figure-281-run1.png"
        w, h = struct.unpack(">II", figure.read_bytes()[16:24])
        check(w > 400 and h == 300, f"figure at the photo's resolution (400x300) with a colour bar: {w}x{h}")
        check_screenshot(b, root / "screenshot-image.png", "image page")
        check_page_hygiene(b, cmp_dir, "image page")

        # -- a volume: three views, scrubbers, crosshair ---------------------------------------------------
        b.open((mri_dir / "pages" / "sub-01" / "index.html").as_uri())
        check(b.evaluate("document.querySelectorAll('.class-panel').length") == 2, "volume page: a panel per class")
        check(b.evaluate("document.querySelectorAll('.class-panel canvas.voxels').length") == 6,
              "volume page: three views per class")
        # Each view keeps the voxels' proportions: sagittal (y by z) 22 x 1.5 : 18 x 2.5, and so on.
        for view, want in ((".view-x", 22 * 1.5 / (18 * 2.5)), (".view-y", 20 * 1.0 / (18 * 2.5)), (".view-z", 20 * 1.0 / (22 * 1.5))):
            wh = b.evaluate(f"(() => {{ const c = document.querySelector('{view}'); return [c.width, c.height]; }})()")
            check(abs(wh[0] / wh[1] - want) < 0.03 * want, f"volume page: {view} drawn in the voxels' proportions ({wh[0]}x{wh[1]}, want {want:.3f})")
        check(b.evaluate("document.querySelectorAll('.node-panel canvas.voxels').length") == 3,
              "volume page: the hidden layer in three views")
        first = b.evaluate("document.querySelector('.node-panel select').options[0].textContent")
        check("unit 4" in first, f"volume page: hidden-layer channels strongest first ({first})")
        n0 = stats(b, ".node-panel .view-y")
        b.click_element(".node-panel button:last-of-type")
        check(b.evaluate("document.querySelector('.node-panel select').selectedIndex") == 1 and
              stats(b, ".node-panel .view-y")["hash"] != n0["hash"], "volume page: the hidden layer's next channel is drawn")
        z0, a0 = b.evaluate("document.getElementById('slice-z').value"), stats(b, ".view-z")
        b.click_element("#slice-z", 0.15)
        z1, a1 = b.evaluate("document.getElementById('slice-z').value"), stats(b, ".view-z")
        check(z0 != z1 and a0["hash"] != a1["hash"], f"volume page: the z scrubber changes the axial slice ({z0} -> {z1})")
        x0, s0 = b.evaluate("document.getElementById('slice-x').value"), stats(b, ".view-x")
        b.click_element(".view-z", 0.8, 0.3)  # a click on the axial view moves x and y
        x1, s1 = b.evaluate("document.getElementById('slice-x').value"), stats(b, ".view-x")
        check(x0 != x1 and s0["hash"] != s1["hash"], f"volume page: the crosshair links the views (x {x0} -> {x1})")
        t0 = stats(b, ".view-y")
        b.click_element("#threshold", 0.9)
        check(stats(b, ".view-y")["coloured"] < t0["coloured"], "volume page: the threshold hides weak voxels")
        check_screenshot(b, root / "screenshot-volume.png", "volume page")
        check_page_hygiene(b, mri_dir, "volume page")

        # -- the index of a large job ------------------------------------------------------------------------
        index = job_dir / "index.html"
        size = index.stat().st_size
        check(size <= 2 * 1024 * 1024, f"index of {a.items} inputs: {size / 1024:.0f} KiB (at most 2 MiB)")
        seconds = b.open(index.as_uri())
        rows = b.evaluate("document.querySelectorAll('#items tbody tr').length")
        loaded = b.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
        print(f"index of {a.items} inputs: {seconds:.2f} s from navigation to the drawn table "
              f"({loaded} thumbnails loaded at that moment, lazily)", flush=True)
        check(rows == a.items, f"index: one row per input ({rows})")
        check(seconds < a.max_open_seconds, f"index opens within {a.max_open_seconds} s ({seconds:.2f} s)")
        b.click_element("#items th:nth-child(4)")  # sort by probability, highest first
        ps = b.evaluate("[...document.querySelectorAll('#items tbody tr td:nth-child(4)')].map(td => parseFloat(td.textContent))")
        check(ps == sorted(ps, reverse=True) and ps[0] > ps[-1], "index: sorted by probability on a click")
        check_screenshot(b, root / "screenshot-index.png", "index")
        b.click_element("#items tbody tr:first-child td:nth-child(2) a")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and b.evaluate("document.body && document.body.dataset.ready") != "1":
            time.sleep(0.02)
        check(b.evaluate("document.querySelectorAll('.class-panel').length") == 2, "index: a row's link opens its page")
        check_page_hygiene(b, job_dir, "index")
    finally:
        b.close()
    print(f"{len(failures)} failed" if failures else "all passed", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
