"""Forward throughput of OpenVINO (CPU plugin) on an ONNX file, the bf16 peer of `pda_bench
--benchmark_filter=forward/...` and of `pda --precision bf16`: the same file with its batch dimension
made free (ort_forward.free_batch), reshaped to the batch asked for, a seeded normal input, the
latency hint (one stream), `--threads` inference threads, and the inference precision asked for
(fp32 explicitly: on a CPU with AVX-512-BF16 or AMX, OpenVINO's default is bf16). One warm-up run,
then timed runs until `--min-time` seconds have passed; prints JSON {"images_per_s", "runs",
"seconds", "openvino", "precision", "runtime_precisions"}: the precision the compiled model reports
and how many of its executed layers run in each precision (its runtime model's runtimePrecision; for
convolutions with their kernel), so that a bf16 run shows it really computes in bf16.

Usage: python ov_forward.py MODEL.onnx --batch B --threads T [--min-time S] [--precision fp32|bf16]"""
import argparse
import collections
import json
import sys
import time

import numpy as np
import onnx
import openvino as ov

from ort_forward import free_batch


def runtime_precisions(compiled) -> dict:
    """Executed layers per runtime precision (convolutions and all), from the runtime model."""
    counts = collections.Counter()
    for op in compiled.get_runtime_model().get_ops():
        rt = op.get_rt_info()
        if "runtimePrecision" in rt and "layerType" in rt:
            kind = rt["layerType"].astype(str)
            if kind == "Convolution" and "primitiveType" in rt:  # the kernel, e.g. brgconv_avx512_bf16
                kind += "/" + rt["primitiveType"].astype(str)
            counts[f"{kind}:{rt['runtimePrecision'].astype(str)}"] += 1
    return dict(sorted(counts.items()))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    a = ap.parse_args()
    core = ov.Core()
    model = core.read_model(free_batch(onnx.load(a.model)), b"")
    inp = model.inputs[0]
    shape = [a.batch] + [int(d.get_length()) for d in list(inp.get_partial_shape())[1:]]
    model.reshape({inp.get_any_name(): ov.PartialShape(shape)})
    config = {
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": a.threads,
        "INFERENCE_PRECISION_HINT": "f32" if a.precision == "fp32" else "bf16",
    }
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    x = np.random.default_rng(1).normal(0, 1, size=shape).astype(np.float32)
    request.infer({0: x})  # warm-up
    runs, t0 = 0, time.perf_counter()
    while True:
        request.infer({0: x})
        runs += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= a.min_time:
            break
    json.dump({"images_per_s": runs * a.batch / elapsed, "runs": runs, "seconds": elapsed,
               "openvino": ov.__version__, "precision": str(compiled.get_property("INFERENCE_PRECISION_HINT")),
               "runtime_precisions": runtime_precisions(compiled)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
