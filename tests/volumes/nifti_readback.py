#!/usr/bin/python3
"""nibabel's view of NIfTI files, as one JSON list on stdout: the independent reference that
tests/test_volume_io.cc checks pda's volume reader and writer against. For each file: nibabel's class
(Nifti1Image, Nifti2Image), its shape (nx, ny, nz[, t]), the affine nibabel chooses (sform, else qform,
else its own default), the qform, both codes, the stored dtype, the sum of all voxels (scaling applied,
float64), the voxels named by --voxel i,j,k[,t], and with --data every value in pda's tensor order (the
array's transpose flattened: i fastest).

Usage: nifti_readback.py [--voxel i,j,k[,t]]... [--data] FILE...
Exits 3 when nibabel or numpy cannot be imported (the tests then skip, saying so)."""
import argparse
import json
import sys


def describe(nib, np, path, voxels, with_data):
    img = nib.load(path)
    a = img.get_fdata(dtype=np.float64)
    out = {
        "path": path,
        "format": type(img).__name__,
        "shape": [int(n) for n in img.shape],
        "affine": img.affine.tolist(),
        "qform": img.get_qform().tolist(),
        "sform_code": int(img.header["sform_code"]),
        "qform_code": int(img.header["qform_code"]),
        "dtype": str(img.get_data_dtype()),
        "sum": float(a.sum()),
        "voxels": [float(a[tuple(int(x) for x in v.split(","))]) for v in voxels],
    }
    if with_data:
        out["data"] = [float(x) for x in a.T.ravel()]
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+")
    p.add_argument("--voxel", action="append", default=[], help="i,j,k or i,j,k,t (repeatable)")
    p.add_argument("--data", action="store_true", help="every voxel, i fastest")
    args = p.parse_args()
    try:
        import nibabel as nib
        import numpy as np
    except ImportError as e:
        print(f"nifti_readback: {e}", file=sys.stderr)
        return 3
    json.dump([describe(nib, np, f, args.voxel, args.data) for f in args.files], sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
