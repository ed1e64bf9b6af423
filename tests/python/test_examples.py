"""The Python examples (examples/python/) run as a user would run them, with a coarse stride: the
figure script writes its PNG, the torchvision export agrees with PyTorch, the notebook's cells run in
order."""

import json
import os
import subprocess
import sys

import pytest

EXAMPLES = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))
SHARED = os.environ.get("PDA_SHARED", os.path.join(EXAMPLES, "..", "..", "..", "shared"))


def run(script, *args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg")
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *map(str, args)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_figure_script(tmp_path):
    out = run("explain_image.py", "--image", os.path.join(SHARED, "images", "cat.png"), "--stride", 24,
              "--samples", 2, "--out", tmp_path / "fig.png", cwd=tmp_path)
    assert "Egyptian cat" in out and "figure:" in out
    png = (tmp_path / "fig.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20000


def test_torchvision_export(tmp_path):
    pytest.importorskip("torchvision")
    out = run("explain_torchvision.py", "--stride", 56, "--out", tmp_path / "tv", cwd=tmp_path)
    diff = float(out.split("largest probability difference:")[1].split()[0])
    assert diff < 1e-5
    assert (tmp_path / "tv" / "dog" / "relevance.npy").exists()


def test_notebook_runs(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    with open(os.path.join(EXAMPLES, "explain.ipynb")) as f:
        nb = json.load(f)
    monkeypatch.chdir(EXAMPLES)  # the notebook finds ../shared from its own folder
    monkeypatch.setenv("PDA_EXAMPLE_STRIDE", "24")
    monkeypatch.setenv("PDA_EXAMPLE_SAMPLES", "2")
    scope = {}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), "explain.ipynb", "exec"), scope)
    assert scope["result"].relevance.shape == (3, 227, 227)
    assert scope["result"].classes[0].class_id == 285
