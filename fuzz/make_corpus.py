#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer targets (fuzz/corpus/<target>/): a few tiny valid inputs
per parser, each a few KB at most, so that the fuzzers start from files that reach deep into the
parsers rather than from noise. Deterministic: running it again gives the same bytes.

  fuzz_onnx          small ONNX models (onnx.helper): conv nets with every op pda imports, and a
                     constant subgraph of the kind torch.onnx.export writes (folded by the importer)
  fuzz_image         PNG (RGB, grey, grey+alpha, palette with tRNS, RGBA, 16-bit, interlaced),
                     JPEG (baseline, progressive, grey, 4:2:0, CMYK) and BMP (24, 32, 16-bit masks,
                     8/4/1-bit palettes, OS/2, top-down)
  fuzz_sidecar       sidecars like ../shared/models/*.json, with and without labels and names
  fuzz_sampler_file  sampler files (docs/sampler-file.md) of dimensions 3 and 12, and a
                     location-conditioned volume model (version 3) of dimension 1

Usage: fuzz/make_corpus.py [OUT_DIR]   (default: fuzz/corpus beside this script)
Needs Debian's python3-onnx, python3-numpy and python3-pil (for the JPEGs)."""
import io
import json
import pathlib
import struct
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image


def write(out: pathlib.Path, target: str, name: str, data: bytes) -> None:
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


# ---- ONNX -------------------------------------------------------------------------------------


def tensor(name, shape, rng, scale=0.1):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), name)


def model_bytes(nodes, inputs, outputs, inits, opset):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="pda-fuzz-corpus")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m.SerializeToString()


def onnx_models(rng):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 6, 6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    # Conv, Relu, MaxPool, LRN, GlobalAveragePool, Flatten, Gemm, Softmax.
    yield "convnet.onnx", model_bytes(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], name="conv"),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("LRN", ["p"], ["n"], size=3, alpha=1e-4, beta=0.75, bias=1.0),
            helper.make_node("GlobalAveragePool", ["n"], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"], axis=1),
            helper.make_node("Gemm", ["f", "fw", "fb"], ["l"], transB=1),
            helper.make_node("Softmax", ["l"], ["y"], axis=1),
        ],
        [x], [y], [tensor("w", [2, 3, 3, 3], rng), tensor("b", [2], rng), tensor("fw", [4, 2], rng),
                   tensor("fb", [4], rng)], 13)
    # Two branches joined by Concat; BatchNormalization, Clip, LeakyRelu, Sigmoid, AveragePool, Add, Mul,
    # GlobalMaxPool, Dropout, Reshape with a constant shape, MatMul.
    yield "branches.onnx", model_bytes(
        [
            helper.make_node("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]),
            helper.make_node("BatchNormalization", ["a", "s", "o", "mu", "var"], ["bn"], epsilon=1e-5),
            helper.make_node("Clip", ["bn", "lo", "hi"], ["cl"]),
            helper.make_node("Conv", ["x", "w2"], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], dilations=[1, 1],
                             group=1),
            helper.make_node("LeakyRelu", ["b"], ["lr"], alpha=0.1),
            helper.make_node("Sigmoid", ["lr"], ["sg"]),
            helper.make_node("Add", ["cl", "sg"], ["ad"]),
            helper.make_node("Mul", ["ad", "cl"], ["mu2"]),
            helper.make_node("AveragePool", ["mu2"], ["ap"], kernel_shape=[3, 3], strides=[3, 3],
                             count_include_pad=0),
            helper.make_node("Concat", ["ap", "ap"], ["cc"], axis=1),
            helper.make_node("GlobalMaxPool", ["cc"], ["gm"]),
            helper.make_node("Dropout", ["gm"], ["dr"]),
            helper.make_node("Reshape", ["dr", "shape"], ["rs"]),
            helper.make_node("MatMul", ["rs", "m"], ["y"]),
        ],
        [x], [y],
        [tensor("w1", [2, 3, 1, 1], rng), tensor("s", [2], rng, 1.0), tensor("o", [2], rng),
         tensor("mu", [2], rng), numpy_helper.from_array(np.full([2], 0.5, np.float32), "var"),
         numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
         numpy_helper.from_array(np.array(6.0, np.float32), "hi"), tensor("w2", [2, 3, 3, 3], rng),
         numpy_helper.from_array(np.array([1, 4], np.int64), "shape"), tensor("m", [4, 4], rng)], 13)
    # Constant subgraphs of the kinds torch.onnx.export writes, which the importer folds: Shape, Gather,
    # Unsqueeze and Concat computing a Reshape's target, Constant nodes, an Identity-shared zero bias,
    # Cast, Transpose, Squeeze, Slice.
    yield "folded.onnx", model_bytes(
        [
            helper.make_node("Identity", ["zero"], ["zb"]),
            helper.make_node("Conv", ["x", "w", "zb"], ["c"], kernel_shape=[3, 3], strides=[2, 2]),
            helper.make_node("Shape", ["one"], ["sh"]),
            helper.make_node("Constant", [], ["i0"], value=numpy_helper.from_array(np.array(0, np.int64))),
            helper.make_node("Gather", ["sh", "i0"], ["n"], axis=0),
            helper.make_node("Unsqueeze", ["n", "ax0"], ["nu"]),
            helper.make_node("Constant", [], ["m1"], value=numpy_helper.from_array(np.array([-1], np.int64))),
            helper.make_node("Concat", ["nu", "m1"], ["tgt"], axis=0),
            helper.make_node("Reshape", ["c", "tgt"], ["f"]),
            helper.make_node("Cast", ["wt64"], ["wt32"], to=TensorProto.FLOAT),
            helper.make_node("Transpose", ["wt32"], ["wt"], perm=[1, 0]),
            helper.make_node("Squeeze", ["bias3", "ax0"], ["bias2"]),
            helper.make_node("Slice", ["bias2", "st", "en"], ["bias"]),
            helper.make_node("Gemm", ["f", "wt", "bias"], ["y"]),
        ],
        [x], [y],
        [tensor("w", [2, 3, 3, 3], rng), numpy_helper.from_array(np.zeros([2], np.float32), "zero"),
         numpy_helper.from_array(np.ones([1], np.float32), "one"),
         numpy_helper.from_array(np.array([0], np.int64), "ax0"),
         numpy_helper.from_array((rng.standard_normal([4, 8]) * 0.1).astype(np.float64), "wt64"),
         tensor("bias3", [1, 6], rng), numpy_helper.from_array(np.array([1], np.int64), "st"),
         numpy_helper.from_array(np.array([5], np.int64), "en")], 13)
    # An old opset (legacy forms: BatchNormalization's is_test, Reshape's shape attribute).
    x3 = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    yield "opset6.onnx", model_bytes(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[2, 2]),
            helper.make_node("BatchNormalization", ["c", "s", "o", "mu", "var"], ["bn"], is_test=1),
            helper.make_node("Relu", ["bn"], ["r"]),
            helper.make_node("Flatten", ["r"], ["f"]),
            helper.make_node("Gemm", ["f", "fw", "fb"], ["l"], transB=1, broadcast=1),
            helper.make_node("Softmax", ["l"], ["y"]),
        ],
        [x3], [y],
        [tensor("w", [2, 3, 2, 2], rng), tensor("s", [2], rng, 1.0), tensor("o", [2], rng), tensor("mu", [2], rng),
         numpy_helper.from_array(np.full([2], 0.5, np.float32), "var"), tensor("fw", [4, 18], rng),
         tensor("fb", [4], rng)], 6)


# ---- images -----------------------------------------------------------------------------------


def png(width, height, color_type, bit_depth, rows, plte=None, trns=None, interlace=0):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + r for r in rows)  # filter 0 on every row (every pass for interlaced files)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0,
                                                           interlace))
    if plte is not None:
        out += chunk(b"PLTE", plte)
    if trns is not None:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def adam7_rows(pixels, width, height, bpp):
    """Rows of the seven Adam7 passes of an 8-bit image given as rows of bytes (bpp bytes per pixel)."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    rows = []
    for x0, y0, dx, dy in passes:
        for y in range(y0, height, dy):
            r = b"".join(pixels[y][x * bpp:(x + 1) * bpp] for x in range(x0, width, dx))
            if r:
                rows.append(r)
    return rows


def bmp(width, height, bpp, rows_bottom_up, palette=b"", header=40, masks=None, top_down=False):
    stride = (width * bpp + 31) // 32 * 4
    pixels = b"".join(r.ljust(stride, b"\x00") for r in rows_bottom_up)
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, height, 1, bpp)
    else:
        compression = 3 if masks else 0
        info = struct.pack("<IiiHHIIiiII", header, width, -height if top_down else height, 1, bpp, compression,
                           len(pixels), 2835, 2835, 0, 0)
        if masks:
            info += struct.pack("<III", *masks)
        info = info.ljust(header if header > 40 else len(info), b"\x00")
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def images(rng):
    w, h = 5, 3
    rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    rows = [bytes(r) for r in rgb.reshape(h, w * 3)]
    yield "rgb.png", png(w, h, 2, 8, rows)
    yield "grey.png", png(w, h, 0, 8, [bytes(r[::3]) for r in rows])
    yield "grey_alpha.png", png(w, h, 4, 8, [bytes(np.repeat(np.frombuffer(r[::3], np.uint8), 2)) for r in rows])
    yield "rgba.png", png(w, h, 6, 8, [bytes(np.concatenate([rgb[y], np.full((w, 1), 200, np.uint8)], 1).ravel())
                                        for y in range(h)])
    yield "rgb16.png", png(w, h, 2, 16, [bytes(np.repeat(rgb[y].ravel(), 2)) for y in range(h)])
    yield "palette4.png", png(4, 2, 3, 4, [b"\x01\x23", b"\x32\x10"], plte=bytes(range(12)), trns=b"\x00\x80")
    yield "grey1.png", png(8, 2, 0, 1, [b"\xa5", b"\x5a"])
    big = rng.integers(0, 256, size=(9, 9, 3), dtype=np.uint8)
    yield "interlaced.png", png(9, 9, 2, 8, adam7_rows([bytes(r) for r in big.reshape(9, 27)], 9, 9, 3), interlace=1)

    photo = Image.fromarray(rng.integers(0, 256, size=(16, 12, 3), dtype=np.uint8))
    for name, kw in [("baseline.jpg", {"quality": 75}), ("progressive.jpg", {"quality": 60, "progressive": True}),
                     ("subsampled.jpg", {"quality": 50, "subsampling": 2}),
                     ("optimized.jpg", {"quality": 90, "optimize": True, "subsampling": 0})]:
        buf = io.BytesIO()
        photo.save(buf, "JPEG", **kw)
        yield name, buf.getvalue()
    buf = io.BytesIO()
    photo.convert("L").save(buf, "JPEG", quality=70)
    yield "grey.jpg", buf.getvalue()
    buf = io.BytesIO()
    photo.convert("CMYK").save(buf, "JPEG", quality=70)
    yield "cmyk.jpg", buf.getvalue()

    bgr = [bytes(rgb[y][:, ::-1].ravel()) for y in range(h)][::-1]
    yield "rgb24.bmp", bmp(w, h, 24, bgr)
    yield "top_down.bmp", bmp(w, h, 24, bgr[::-1], top_down=True)
    bgra = [bytes(np.concatenate([rgb[y][:, ::-1], np.zeros((w, 1), np.uint8)], 1).ravel()) for y in range(h)][::-1]
    yield "rgb32.bmp", bmp(w, h, 32, bgra)
    px16 = [struct.pack("<" + "H" * w, *[(int(p[0]) >> 3 << 11) | (int(p[1]) >> 2 << 5) | (int(p[2]) >> 3)
                                          for p in rgb[y]]) for y in range(h)][::-1]
    yield "rgb565.bmp", bmp(w, h, 16, px16, masks=(0xF800, 0x07E0, 0x001F))
    yield "rgb565_v4.bmp", bmp(w, h, 16, px16, header=108, masks=(0xF800, 0x07E0, 0x001F))
    pal = b"".join(bytes([b, g, r, 0]) for r, g, b in [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)])
    yield "pal8.bmp", bmp(w, h, 8, [bytes([(x + y) % 4 for x in range(w)]) for y in range(h)], palette=pal)
    yield "pal4.bmp", bmp(w, h, 4, [bytes([0x01, 0x23, 0x30]) for _ in range(h)], palette=pal)
    yield "pal1.bmp", bmp(9, 2, 1, [b"\xa5\x80", b"\x5a\x00"], palette=pal[:8])
    yield "os2.bmp", bmp(w, h, 24, bgr, header=12)


# ---- sidecars ---------------------------------------------------------------------------------


def sidecars():
    caffe = {"input": "data", "output": "prob", "output_kind": "probabilities", "input_size": [227, 227],
             "resize_shorter": 256, "crop": "center", "channel_order": "BGR", "scale": 255,
             "mean": [104, 117, 123], "std": [1, 1, 1], "labels": "labels.txt"}
    yield "caffe.json", caffe
    yield "torchvision.json", {"output_kind": "logits", "input_size": [224, 224], "resize_shorter": 256,
                               "channel_order": "RGB", "scale": 1.0, "mean": [0.485, 0.456, 0.406],
                               "std": [0.229, 0.224, 0.225]}
    yield "no_resize.json", {"input": "x", "output": "y", "output_kind": "logits", "input_size": [6, 6],
                             "resize_shorter": 0, "crop": "center", "channel_order": "RGB", "scale": 2.5e-1,
                             "mean": [0, 0, 0], "std": [1e-3, 2, 3e2]}
    yield "missing_labels.json", dict(caffe, labels="absent.txt")


# ---- sampler files ----------------------------------------------------------------------------


def sampler_file(k, pad, channels, rng, order="BGR"):
    l = k + 2 * pad
    d = l * l * channels
    a = rng.standard_normal((d, d + 2))
    cov = a @ a.T / (d + 2) + 0.1 * np.eye(d)
    mean = rng.standard_normal(d)
    header = {
        "format": "pda-sampler", "version": 1, "kind": "gaussian-patch", "k": k, "pad": pad, "l": l,
        "channels": channels, "dim": d,
        "layout": "patch vector index (c*l + y)*l + x; covariance row-major (dim, dim)",
        "patches": 40, "seed": 7, "max_patches": 0, "images": ["a.png", "b.jpg"], "model": "tiny.onnx",
        "created_by": "pda 0.1.0",
        "preprocessing": {"input_size": [8, 8], "resize_shorter": 8, "crop": "center", "channel_order": order,
                          "scale": 255.0, "mean": [104.0, 117.0, 123.0], "std": [1.0, 1.0, 1.0]},
        "data": "float64 mean (dim), float64 cov (dim*dim), float32 min (channels), float32 max (channels)"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (16 + len(text)) % 8) % 8)
    lo = np.full(channels, -3.0, np.float32)
    hi = np.full(channels, 3.0, np.float32)
    return (b"PDASAMP1" + struct.pack("<Q", len(text)) + text + mean.astype("<f8").tobytes() +
            cov.astype("<f8").tobytes() + lo.astype("<f4").tobytes() + hi.astype("<f4").tobytes())


def location_sampler_file(rng):
    """A version 3 (location-conditioned) volume model, k 1, pad 0, one channel (d = 1): a 3 x 3 x 3
    grid in cells of 2 (2 x 2 x 2 cells), cells 0 and 5 with a Gaussian of their own."""
    available = [6, 0, 0, 0, 0, 5, 0, 1]
    fitted = [0, 5]
    header = {
        "format": "pda-sampler", "version": 3, "kind": "gaussian-patch", "k": 1, "pad": 0, "l": 1,
        "channels": 1, "dim": 1, "volume": True, "lz": 1,
        "layout": "patch vector index ((c*lz + z)*l + y)*l + x with lz = l; covariance row-major (dim, dim)",
        "patches": 27, "seed": 7, "max_patches": 0, "images": ["a.nii.gz"], "model": "tiny.onnx",
        "created_by": "pda 0.1.0", "mask": "mask.nii.gz", "mask_voxels": 12,
        "preprocessing": {"input_size": [224, 224], "resize_shorter": 256, "crop": "center", "channel_order": "RGB",
                          "scale": 1.0, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "location": {"cell": 2, "extent": [3, 3, 3], "grid": [2, 2, 2], "centre": "centre voxel",
                     "min_patches": 2, "available": available, "fitted": fitted, "fitted_patches": [6, 5],
                     "fallback": [c for c in range(8) if c not in fitted]},
        "data": "float64 mean (dim), float64 cov (dim*dim), float32 min (channels), float32 max (channels), "
                "then per fitted cell: float64 mean (dim), float64 cov (dim*dim)"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (16 + len(text)) % 8) % 8)
    data = rng.standard_normal(1).astype("<f8").tobytes() + np.array([1.5], "<f8").tobytes()
    data += np.array([-3.0], "<f4").tobytes() + np.array([3.0], "<f4").tobytes()
    for _ in fitted:
        data += rng.standard_normal(1).astype("<f8").tobytes() + np.array([0.5], "<f8").tobytes()
    return b"PDASAMP1" + struct.pack("<Q", len(text)) + text + data


def main() -> int:
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent / "corpus"
    rng = np.random.default_rng(11)
    for name, data in onnx_models(rng):
        write(out, "fuzz_onnx", name, data)
    for name, data in images(rng):
        write(out, "fuzz_image", name, data)
    for name, doc in sidecars():
        write(out, "fuzz_sidecar", name, (json.dumps(doc, indent=2) + "\n").encode())
    write(out, "fuzz_sampler_file", "k1_pad0_c3.pdas", sampler_file(1, 0, 3, rng))
    write(out, "fuzz_sampler_file", "k2_pad0_c3.pdas", sampler_file(2, 0, 3, rng, "RGB"))
    write(out, "fuzz_sampler_file", "k1_pad1_c1.pdas", sampler_file(1, 1, 1, rng))
    write(out, "fuzz_sampler_file", "k1_pad0_cells.pdas", location_sampler_file(rng))
    total = 0
    for f in sorted(out.rglob("*")):
        if f.is_file():
            total += f.stat().st_size
            assert f.stat().st_size <= 4096, f"{f} is over 4 KB"
    print(f"make_corpus: {sum(1 for f in out.rglob('*') if f.is_file())} files, {total} bytes in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
