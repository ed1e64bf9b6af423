#!/usr/bin/python3
"""Compares two trees written by scripts/maps-snapshot.sh: every .npy file bit for bit, and the
explained classes of every summary.json. Exits 1 on any difference, naming it."""
import json
import pathlib
import sys

import numpy as np


def main(a: str, b: str) -> int:
    ra, rb = pathlib.Path(a), pathlib.Path(b)
    files = sorted(p.relative_to(ra) for p in ra.rglob("*.npy"))
    if not files:
        print(f"maps-compare: no .npy files under {a}")
        return 1
    bad = 0
    for f in files:
        x, y = np.load(ra / f), np.load(rb / f) if (rb / f).exists() else None
        if y is None or x.shape != y.shape or x.tobytes() != y.tobytes():
            diff = "missing" if y is None else (
                f"shape {x.shape} vs {y.shape}" if x.shape != y.shape else f"max |diff| {np.abs(x - y).max():.3g}")
            print(f"DIFFERENT {f}: {diff}")
            bad += 1
    for s in sorted(ra.rglob("summary.json")):
        ca = [c["id"] for c in json.loads(s.read_text())["classes"]]
        cb = [c["id"] for c in json.loads((rb / s.relative_to(ra)).read_text())["classes"]]
        if ca != cb:
            print(f"DIFFERENT classes in {s.relative_to(ra)}: {ca} vs {cb}")
            bad += 1
    print(f"maps-compare: {len(files)} maps, {bad} different")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
