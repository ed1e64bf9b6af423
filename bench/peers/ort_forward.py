"""Forward throughput of onnxruntime (CPU execution provider) on an ONNX file, the peer of
`pda_bench --benchmark_filter=forward/...`: the same file with its batch dimension made free (a
model exported for batch 1 is given a symbolic batch, nothing else changes), a seeded normal input,
all graph optimisations on, intra-op threads as asked, one inter-op thread. One warm-up run, then
timed runs until `--min-time` seconds have passed; prints JSON {"images_per_s", "runs", "seconds"}.

Usage: python ort_forward.py MODEL.onnx --batch B --threads T [--min-time S]   (the peers' venv)"""
import argparse
import json
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort


def free_batch(model) -> bytes:
    """The model (a path, or an onnx.ModelProto, changed in place) with a symbolic batch dimension."""
    m = onnx.load(model) if isinstance(model, str) else model
    inits = {t.name for t in m.graph.initializer}
    for v in list(m.graph.input) + list(m.graph.output):
        if v.name in inits:
            continue
        dims = v.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = "batch"
    del m.graph.value_info[:]  # intermediate shapes recorded for batch 1 would contradict
    return m.SerializeToString()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--min-time", type=float, default=1.0)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(free_batch(a.model), so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [a.batch] + [int(d) for d in inp.shape[1:]]
    x = np.random.default_rng(1).normal(0, 1, size=shape).astype(np.float32)
    feed = {inp.name: x}
    sess.run(None, feed)  # warm-up
    runs, t0 = 0, time.perf_counter()
    while True:
        sess.run(None, feed)
        runs += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= a.min_time:
            break
    json.dump({"images_per_s": runs * a.batch / elapsed, "runs": runs, "seconds": elapsed,
               "onnxruntime": ort.__version__}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
