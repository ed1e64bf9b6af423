#!/usr/bin/env python3
"""An independent reference runtime: executes an ONNX graph node by node with PyTorch functional
ops in float64, so that pda's engine can be checked against something it shares no code with.

usage: onnx_torch.py MODEL.onnx INPUT.npy OUTPUT.npy [--output NAME]
"""
import argparse
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_nd(x, pads, value):
    nd = len(pads) // 2
    if not any(pads):
        return x
    spec = []
    for i in reversed(range(nd)):  # F.pad takes the last axis first
        spec += [pads[i], pads[i + nd]]
    return F.pad(x, spec, value=value)


def pool(x, a, kind, opset):
    k = a["kernel_shape"]
    nd = len(k)
    s = a.get("strides", [1] * nd)
    pads = a.get("pads", [0] * 2 * nd)
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise SystemExit("auto_pad not supported by the reference runtime")
    ceil = bool(a.get("ceil_mode", 0))
    if kind == "max":
        d = a.get("dilations", [1] * nd)
        x = pad_nd(x, pads, float("-inf"))
        fn = [F.max_pool1d, F.max_pool2d, F.max_pool3d][nd - 1]
        return fn(x, k, s, 0, d, ceil_mode=ceil)
    include = bool(a.get("count_include_pad", 0))
    fn = [F.avg_pool1d, F.avg_pool2d, F.avg_pool3d][nd - 1]
    if pads[:nd] == pads[nd:]:
        return fn(x, k, s, pads[:nd], ceil_mode=ceil, count_include_pad=include)
    raise SystemExit("asymmetric average pooling pads not supported by the reference runtime")


def run(model_path, x, output=None):
    model = onnx.load(model_path)
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    v = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    v = {k: (t.double() if t.is_floating_point() else t) for k, t in v.items()}
    inputs = [i.name for i in model.graph.input if i.name not in v]
    v[inputs[0]] = torch.from_numpy(x).double()
    for n in model.graph.node:
        a = attrs(n)
        i = [v[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Conv":
            nd = i[1].dim() - 2
            if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                raise SystemExit("auto_pad not supported by the reference runtime")
            xx = pad_nd(i[0], a.get("pads", [0] * 2 * nd), 0.0)
            fn = [F.conv1d, F.conv2d, F.conv3d][nd - 1]
            y = fn(xx, i[1], i[2] if len(i) > 2 else None, a.get("strides", [1] * nd), 0,
                   a.get("dilations", [1] * nd), a.get("group", 1))
        elif op == "Relu":
            y = F.relu(i[0])
        elif op == "LeakyRelu":
            y = F.leaky_relu(i[0], a.get("alpha", 0.01))
        elif op == "Sigmoid":
            y = torch.sigmoid(i[0])
        elif op == "Clip":
            lo = a.get("min", float("-inf")) if len(i) < 2 or i[1] is None else float(i[1])
            hi = a.get("max", float("inf")) if len(i) < 3 or i[2] is None else float(i[2])
            y = torch.clamp(i[0], lo, hi)
        elif op == "MaxPool":
            y = pool(i[0], a, "max", opset)
        elif op == "AveragePool":
            y = pool(i[0], a, "avg", opset)
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=tuple(range(2, i[0].dim())), keepdim=True)
        elif op == "GlobalMaxPool":
            y = i[0].amax(dim=tuple(range(2, i[0].dim())), keepdim=True)
        elif op == "LRN":
            size = a["size"]
            sq = (i[0] ** 2).unsqueeze(1)
            c = i[0].shape[1]
            lo, hi = (size - 1) // 2, size - 1 - (size - 1) // 2
            sq = F.pad(sq, [0, 0] * (i[0].dim() - 2) + [lo, hi])
            summed = sum(sq[:, :, j:j + c] for j in range(size)).squeeze(1)
            y = i[0] / (a.get("bias", 1.0) + a.get("alpha", 1e-4) / size * summed) ** a.get("beta", 0.75)
        elif op == "Gemm":
            A = i[0].t() if a.get("transA", 0) else i[0]
            B = i[1].t() if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            y = torch.matmul(i[0], i[1])
        elif op == "Flatten":
            ax = a.get("axis", 1)
            ax = ax + i[0].dim() if ax < 0 else ax
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [int(s) for s in i[1].tolist()]
            shape = [i[0].shape[j] if s == 0 else s for j, s in enumerate(shape)]
            y = i[0].reshape(shape)
        elif op == "Concat":
            y = torch.cat(i, dim=a["axis"])
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], False, 0.0, a.get("epsilon", 1e-5))
        elif op == "Softmax":
            ax = a.get("axis", 1 if opset < 13 else -1)
            if opset < 13:
                ax = ax + i[0].dim() if ax < 0 else ax
                flat = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
                y = torch.softmax(flat, dim=1).reshape(i[0].shape)
            else:
                y = torch.softmax(i[0], dim=ax)
        elif op in ("Dropout", "Identity"):
            y = i[0]
        elif op == "Constant":
            y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
            y = y.double() if y.is_floating_point() else y
        else:
            raise SystemExit(f"op {op} not supported by the reference runtime")
        v[n.output[0]] = y
    name = output or model.graph.output[0].name
    return v[name].numpy()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--output", dest="name")
    args = p.parse_args()
    y = run(args.model, np.load(args.input), args.name)
    np.save(args.output, y.astype(np.float64))


if __name__ == "__main__":
    torch.set_num_threads(1)
    sys.exit(main())
