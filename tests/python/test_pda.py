"""The Python module against the `pda` program and against itself: equal maps bit for bit for the
same settings, every input form, bad inputs, the GIL and memory over many calls.

Run by ctest (label `python`) with PYTHONPATH=BUILD/python, PDA_CLI=BUILD/pda and PDA_SHARED=../shared.
"""

import json
import os
import subprocess
import threading
import time

import numpy as np
import pytest

import pda

SHARED = os.environ.get("PDA_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
CLI = os.environ.get("PDA_CLI", "pda")
MODEL = os.path.join(SHARED, "models", "squeezenet1.1-caffe.onnx")
CAT = os.path.join(SHARED, "images", "cat.png")
IMAGES = os.path.join(SHARED, "images")
THREADS = 2


def rgb_of(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_cli(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def model():
    return pda.Model(MODEL, device="cpu", threads=THREADS)


@pytest.fixture(scope="module")
def sampler_path(model, tmp_path_factory):
    """A conditional sampler fitted by the module and saved (the photos other than the cat)."""
    photos = [os.path.join(IMAGES, f) for f in sorted(os.listdir(IMAGES)) if f.endswith((".png", ".jpg"))]
    photos = [p for p in photos if not p.endswith("cat.png")]
    s = pda.fit_sampler(model, photos, k=10, pad=2, max_patches=20000, seed=3)
    path = tmp_path_factory.mktemp("sampler") / "squeezenet-k10.pdasampler"
    s.save(path)
    assert s.path == str(path)
    return path


# ---- the model -----------------------------------------------------------------------------------


def test_model_facts(model):
    assert model.input_shape == [3, 227, 227]
    assert not model.is_volume
    assert model.num_classes == 1000 and len(model.labels) == 1000
    assert model.device == "cpu" and model.precision == "fp32" and model.threads == THREADS
    assert "squeezenet1.1-caffe" in repr(model)
    info = model.info(pda_k=10)
    assert info["incremental"]["k"] == 10 and len(info["nodes"]) > 10


def test_predict_every_input_form_agrees(model):
    p = model.predict(CAT)
    assert p.shape == (1, 1000) and p.dtype == np.float32
    assert abs(float(p.sum()) - 1.0) < 1e-4
    top = model.top(p[0], 3)
    assert top[0].class_id == 285 and top[0].label.startswith("Egyptian cat")
    x = model.preprocess(CAT)
    assert x.shape == (3, 227, 227) and x.dtype == np.float32
    rgb = rgb_of(CAT)
    assert np.array_equal(model.preprocess(rgb), x)
    assert np.array_equal(model.predict(rgb), p)
    assert np.array_equal(model.predict(x), p)
    assert np.array_equal(model.predict(x[None]), p)
    both = model.predict([CAT, os.path.join(IMAGES, "dog.jpg")])
    assert both.shape == (2, 1000) and np.array_equal(both[0], p[0])
    two = model.predict(np.stack([x, x]))
    assert np.array_equal(two[0], two[1])


def test_cli_predict_agrees(model):
    out = run_cli("predict", MODEL, CAT, "--json", "--top", "1", "--threads", THREADS)
    assert out.returncode == 0, out.stderr
    cli = json.loads(out.stdout)
    first = cli[0] if isinstance(cli, list) else cli
    text = json.dumps(first)
    assert "285" in text


# ---- explanations: equal to the CLI's, bit for bit -----------------------------------------------


def cli_maps(tmp_path, *flags):
    out = tmp_path / "cli"
    r = run_cli("explain", MODEL, CAT, "--out", out, "--threads", THREADS, "--device", "cpu", "--quiet", "--overwrite",
                *flags)
    assert r.returncode == 0, r.stderr
    d = out / "cat"
    return np.load(d / "relevance.npy"), np.load(d / "counts.npy"), json.loads((d / "summary.json").read_text())


def test_occlusion_equals_cli(model, tmp_path):
    rel, counts, summary = cli_maps(tmp_path, "--sampler", "occlusion", "--k", 10, "--stride", 8)
    e = pda.Explainer(model, sampler="occlusion", k=10, stride=8)
    r = e.explain(CAT)
    assert r.relevance.dtype == np.float32 and r.relevance.shape == (3, 227, 227)
    assert r.counts.shape == (227, 227)
    assert np.array_equal(r.relevance, rel) and np.array_equal(r.counts, counts)
    assert [c.class_id for c in r.classes] == [c["id"] for c in summary["classes"]]
    assert r.windows == e.windows == summary["windows"]
    assert r.summary["parameters"] == summary["parameters"]


def test_conditional_equals_cli(model, sampler_path, tmp_path):
    flags = ["--sampler-file", sampler_path, "--k", 10, "--samples", 3, "--stride", 16, "--classes", "285,281",
             "--seed", 7]
    rel, counts, _ = cli_maps(tmp_path, *flags)
    e = pda.Explainer(model, sampler_file=sampler_path, k=10, samples=3, stride=16, classes=[285, 281], seed=7)
    r = e.explain(CAT, out_dir=tmp_path / "py")
    assert np.array_equal(r.relevance, rel) and np.array_equal(r.counts, counts)
    # what it wrote is what it returned
    assert r.folder == str(tmp_path / "py" / "cat")
    assert np.array_equal(np.load(tmp_path / "py" / "cat" / "relevance.npy"), r.relevance)
    # a full pass gives the same maps as the incremental one (within the summation order's rounding)
    full = pda.Explainer(model, sampler_file=sampler_path, k=10, samples=3, stride=16, classes=[285, 281], seed=7,
                         exec="full").explain(CAT)
    assert np.allclose(full.relevance, r.relevance, rtol=1e-4, atol=1e-5)


def test_in_memory_inputs_equal_the_file(model, sampler_path):
    e = pda.Explainer(model, sampler_file=sampler_path, k=10, samples=3, stride=16, seed=1)
    base = e.explain(CAT)
    rgb = rgb_of(CAT)
    assert np.array_equal(e.explain(rgb).relevance, base.relevance)
    x = model.preprocess(CAT)
    assert np.array_equal(e.explain(x).relevance, base.relevance)
    assert np.array_equal(e.explain(x[None]).relevance, base.relevance)
    torch = pytest.importorskip("torch")
    assert np.array_equal(e.explain(torch.from_numpy(rgb.copy())).relevance, base.relevance)
    assert np.array_equal(e.explain(torch.from_numpy(x)).relevance, base.relevance)


def test_fitted_sampler_in_memory_equals_its_file(model, sampler_path):
    photos = [os.path.join(IMAGES, f) for f in ("dog.jpg", "bird.png", "parrot.jpg")]
    fitted = pda.fit_sampler(model, photos, k=10, pad=2, max_patches=5000, seed=2)
    assert fitted.path is None and fitted.k == 10 and fitted.dim == 14 * 14 * 3
    assert fitted.images == ["dog.jpg", "bird.png", "parrot.jpg"]
    kw = dict(k=10, samples=3, stride=16, seed=5, classes="top2")
    mem = pda.Explainer(model, sampler_file=fitted, **kw).explain(CAT)
    assert mem.summary["sampler"]["in_memory"] is True
    path = sampler_path.parent / "three.pdasampler"
    fitted.save(path)
    from_file = pda.Explainer(model, sampler_file=path, **kw).explain(CAT)
    loaded = pda.Sampler.load(path)
    assert loaded.path == str(path) and loaded.patches == fitted.patches
    from_loaded = pda.Explainer(model, sampler_file=loaded, **kw).explain(CAT)
    assert np.array_equal(mem.relevance, from_file.relevance)
    assert np.array_equal(mem.relevance, from_loaded.relevance)


def test_nodes_and_summary(model):
    e = pda.Explainer(model, sampler="occlusion", k=10, stride=24, nodes=["fire2_squeeze1x1_conv"], classes="top1")
    r = e.explain(CAT)
    assert list(r.nodes) == ["fire2_squeeze1x1_conv"]
    node = r.nodes["fire2_squeeze1x1_conv"]
    assert node.shape == (16, 227, 227) and node.dtype == np.float32 and np.abs(node).max() > 0
    assert r.summary["classes"][0]["id"] == r.classes[0].class_id
    assert set(r.seconds) == {"setup", "compile", "sampling", "network", "reduce", "total"}
    assert e.describe()["parameters"]["k"] == 10


def test_results_own_their_memory(model):
    r = pda.Explainer(model, sampler="occlusion", k=10, stride=32).explain(CAT)
    rel = r.relevance
    del r
    assert np.isfinite(rel).all() and rel.base is not None  # kept alive by its capsule, not copied


def test_progress_callback_and_its_errors(model):
    e = pda.Explainer(model, sampler="occlusion", k=10, stride=4, batch=64, max_windows=400)
    seen = []
    e.explain(CAT, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (400, 400)
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))

    def stop(done, total):
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        e.explain(CAT, progress=stop)
    assert e.explain(CAT).windows == 400  # still usable


# ---- bad input: clear messages, never a crash ------------------------------------------------------


def test_bad_inputs_raise_clear_errors(model):
    e = pda.Explainer(model, sampler="occlusion", k=10, stride=32)
    rgb = rgb_of(CAT)
    with pytest.raises(ValueError, match="uint8 .* or float32 .* got float64"):
        e.explain(rgb.astype(np.float64))
    with pytest.raises(ValueError, match=r"H × W × 3 \(RGB\), got shape \(341, 512, 2\)"):
        e.explain(np.ascontiguousarray(rgb[:, :, :2]))
    with pytest.raises(ValueError, match="not C-contiguous"):
        e.explain(rgb[::2])
    with pytest.raises(ValueError, match="not C-contiguous"):
        e.explain(np.asfortranarray(model.preprocess(CAT)))
    x = model.preprocess(CAT)
    x[1, 5, 7] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        e.explain(x)
    with pytest.raises(ValueError, match="non-finite"):
        model.predict(x)
    with pytest.raises(ValueError, match=r"float32 \(3, 227, 227\), got \(3, 200, 227\)"):
        e.explain(np.zeros((3, 200, 227), np.float32))
    with pytest.raises(TypeError, match="a path, an 8-bit"):
        e.explain(12)
    with pytest.raises(ValueError, match="no such file"):
        e.explain("/nonexistent/cat.png")
    with pytest.raises(ValueError, match="unknown class id 5000"):
        pda.Explainer(model, sampler="occlusion", classes=[5000])
    with pytest.raises(ValueError, match="listed twice"):
        pda.Explainer(model, sampler="occlusion", classes=[3, 3])
    with pytest.raises(TypeError):
        pda.Explainer(model, sampler="occlusion", classes=True)
    with pytest.raises(ValueError, match="--k must be ≥ 1"):
        pda.Explainer(model, sampler="occlusion", k=0)
    with pytest.raises(ValueError, match="conditional needs --sampler-file"):
        pda.Explainer(model)
    with pytest.raises(ValueError, match="sampler"):
        pda.Explainer(model, sampler="gibbs")
    with pytest.raises(ValueError):
        pda.Model("/nonexistent/model.onnx")
    with pytest.raises(ValueError, match="device"):
        pda.Model(MODEL, device="tpu")
    e.explain(CAT)  # still works after all of that


def test_error_messages_are_the_clis(model, tmp_path):
    r = run_cli("explain", MODEL, CAT, "--sampler", "occlusion", "--classes", "5000", "--out", tmp_path, "--quiet")
    assert r.returncode == 2
    with pytest.raises(ValueError) as err:
        pda.Explainer(model, sampler="occlusion", classes="5000")
    assert str(err.value) in r.stderr


def test_sampler_for_another_k_is_refused(model, sampler_path):
    with pytest.raises(ValueError, match="k"):
        pda.Explainer(model, sampler_file=sampler_path, k=8)
    with pytest.raises(ValueError, match="sampler file"):
        pda.Sampler.load(CAT)


# ---- the GIL and memory --------------------------------------------------------------------------


def test_gil_is_released_while_explaining(model):
    e = pda.Explainer(model, sampler="occlusion", k=10, stride=4, max_windows=800)
    ticks = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.001)

    t = threading.Thread(target=count)
    t.start()
    t0 = time.perf_counter()
    r = e.explain(CAT)
    seconds = time.perf_counter() - t0
    stop.set()
    t.join()
    assert r.windows == 800 and seconds > 0.2
    # the counter ran through the explanation: at least a tick per 20 ms of it
    assert ticks[0] > seconds / 0.02, (ticks[0], seconds)


def test_ctrl_c_stops_an_explanation(tmp_path):
    script = tmp_path / "long.py"
    script.write_text(f"""
import sys, time, pda
m = pda.Model({MODEL!r}, device="cpu", threads={THREADS})
e = pda.Explainer(m, sampler="occlusion", k=10, stride=1, batch=32)
print("ready", flush=True)
t0 = time.perf_counter()
try:
    e.explain({CAT!r})
except KeyboardInterrupt:
    print(f"interrupted after {{time.perf_counter() - t0:.1f}} s", flush=True)
    sys.exit(0)
print("finished", flush=True)
sys.exit(1)
""")
    import signal

    p = subprocess.Popen([os.environ.get("PYTHON", __import__("sys").executable), str(script)], stdout=subprocess.PIPE,
                         text=True, env=os.environ.copy())
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 0 and out.startswith("interrupted"), out


def test_no_memory_growth_over_100_calls(model):
    e = pda.Explainer(model, sampler="occlusion", k=10, stride=16, max_windows=8, nodes=["fire2_squeeze1x1_conv"])
    rgb = rgb_of(CAT)
    for _ in range(10):
        e.explain(rgb)
    before = rss_bytes()
    for i in range(100):
        r = e.explain(rgb if i % 2 else CAT)
        assert r.relevance.shape == (3, 227, 227)
        del r
    grown = rss_bytes() - before
    # one result is ~0.8 MB of maps + 3.3 MB of node maps; 100 leaked results would be 400 MB
    assert grown < 64 << 20, grown


# ---- volumes -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def volume_model(tmp_path_factory):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    d = tmp_path_factory.mktemp("volume")
    D, H, W = 6, 7, 5
    rng = np.random.default_rng(0)
    w = rng.standard_normal(D * H * W).astype(np.float32)
    weights = np.stack([-w, w]).astype(np.float32)
    nodes = [helper.make_node("Flatten", ["volume"], ["flat"], axis=1),
             helper.make_node("Gemm", ["flat", "W", "B"], ["logits"], transB=1),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(nodes, "logreg", [helper.make_tensor_value_info("volume", TensorProto.FLOAT,
                                                                              [1, 1, D, H, W])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, 2])],
                              initializer=[numpy_helper.from_array(weights, "W"),
                                           numpy_helper.from_array(np.zeros(2, np.float32), "B")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), d / "logreg.onnx")
    (d / "logreg.json").write_text(json.dumps({"kind": "volume", "output_kind": "probabilities",
                                               "input_shape": [1, D, H, W],
                                               "normalization": {"mean": 0.0, "std": 1.0},
                                               "labels": ["control", "patient"]}))
    vol = rng.standard_normal((1, D, H, W)).astype(np.float32)
    np.save(d / "v0.npy", vol)
    return d, vol


def test_volume_in_memory_equals_file(volume_model):
    d, vol = volume_model
    m = pda.Model(d / "logreg.onnx", device="cpu", threads=THREADS)
    assert m.is_volume and m.input_shape == [1, 6, 7, 5]
    e = pda.Explainer(m, sampler="occlusion", k=3, classes="all")
    from_file = e.explain(d / "v0.npy")
    in_memory = e.explain(vol)
    assert from_file.relevance.shape == (2, 6, 7, 5) and from_file.counts.shape == (6, 7, 5)
    assert np.array_equal(from_file.relevance, in_memory.relevance)
    with pytest.raises(ValueError, match="volume model"):
        e.explain(np.zeros((8, 8, 3), np.uint8))
