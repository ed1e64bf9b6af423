#!/usr/bin/python3
"""Where the evidence of volume explanations lies, on the synthetic MRI cohort (ctest volume_fidelity).

usage: /usr/bin/python3 tests/volumes/test_volume_fidelity.py --pda PDA --build BUILD --out DIR

The cohort of make_cohort.py (made once into BUILD/cohort by scripts/cohort.sh, about 2 minutes) has
FA lowered inside a planted box in its patients. Its five held-out patients, which neither classifier
was trained on, are explained with the paper's logistic regression (conditional sampler, k 3, l 7,
10 samples, every window), and one of them with the 3-D CNN (the same sampler, windows side by side:
stride 3). fidelity.py gives the fraction of the positive evidence for "patient" inside each box of
region.json, dilated by k - 1. Asserted, as regression guards of the whole 3-D path (a window placed
on the wrong axis or voxel moves the evidence out of the box):
  - the mirrored box (no change planted) holds at most 0.1 of it (the issue's bound);
  - of what the slice pictures draw (above 15 % of the largest value), the planted box holds at least
    twice the logistic regression's own weights' share (the paper's figure-9 point);
  - the CNN's evidence lies in the planted box more than in the mirrored or shifted ones (twice the
    mass, three times what is drawn; measured 2.6x and 4.5x).
The issue's goal of >= 0.6 of all positive evidence mass inside the box is printed, not asserted: it
is not met on this cohort (bench/RESULTS.md, "Where the evidence lies")."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.exit("command failed (%d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout))
    return r.stdout


def fidelity(cohort, results):
    out = run([sys.executable, os.path.join(HERE, "fidelity.py"), cohort, *results])
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pda", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--out", help="folder for the results (default: a temporary one)")
    a = ap.parse_args()
    cohort = run([os.path.join(ROOT, "scripts", "cohort.sh"), a.build], cwd=ROOT).strip().splitlines()[-1]
    cohort = os.path.join(ROOT, cohort) if not os.path.isabs(cohort) else cohort
    with open(os.path.join(cohort, "heldout.csv")) as f:
        patients = [os.path.join(cohort, line.split(",")[0]) for line in f.read().splitlines()[1:]
                    if line.strip().endswith(",1")]
    if len(patients) != 5:
        sys.exit("expected 5 held-out patients in %s, found %d" % (cohort, len(patients)))
    failures = []

    def check(ok, what):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory(prefix="volume-fidelity-") as tmp:
        out = a.out or tmp
        sampler = os.path.join(out, "logreg.pdas")
        run([a.pda, "fit-sampler", os.path.join(cohort, "model_logreg.onnx"), "--images",
             os.path.join(cohort, "subjects"), "--k", "3", "--pad", "2", "-o", sampler])
        lr_out = os.path.join(out, "logreg")
        run([a.pda, "explain", os.path.join(cohort, "model_logreg.onnx"), *patients, "--k", "3", "--samples", "10",
             "--classes", "1", "--sampler", "conditional", "--sampler-file", sampler, "--pad", "2", "--quiet",
             "--overwrite", "--out", lr_out])
        lr = fidelity(cohort, [os.path.join(lr_out, os.path.basename(p).split(".")[0]) for p in patients])
        print("logistic regression, conditional sampler, 5 held-out patients (means): " + json.dumps(
            {k: round(v, 4) for k, v in lr.items() if k != "result"}))
        print("the issue's goal, planted mass >= 0.6: %.3f (%s; not asserted)" %
              (lr["planted"], "met" if lr["planted"] >= 0.6 else "not met"))
        check(lr["mirrored"] <= 0.1, "logistic regression: mirrored box %.3f <= 0.1" % lr["mirrored"])
        check(lr["drawn_planted"] >= 2 * lr["weights_drawn_planted"],
              "logistic regression: drawn evidence in the planted box %.3f >= 2 x the weights' %.3f" %
              (lr["drawn_planted"], lr["weights_drawn_planted"]))
        check(lr["planted"] > lr["weights_planted"],
              "logistic regression: evidence mass in the planted box %.3f > the weights' %.3f" %
              (lr["planted"], lr["weights_planted"]))

        # The CNN over one patient, windows side by side (a ninth of every window's time): the
        # same sampler (both models take raw FA on the same grid). Occlusion would not do: a window of
        # zeros inside the brain is far from anything the CNN saw, and its evidence lies everywhere.
        cnn_out = os.path.join(out, "cnn3d")
        patient = patients[0]
        run([a.pda, "explain", os.path.join(cohort, "model_cnn3d.onnx"), patient, "--k", "3", "--stride", "3",
             "--samples", "10", "--classes", "1", "--sampler", "conditional", "--sampler-file", sampler, "--pad", "2",
             "--quiet", "--overwrite", "--out", cnn_out])
        cnn = fidelity(cohort, [os.path.join(cnn_out, os.path.basename(patient).split(".")[0])])
        print("3-D CNN, conditional sampler, stride 3, %s: %s" % (os.path.basename(patient), json.dumps(
            {k: round(v, 4) for k, v in cnn.items() if k != "result" and not k.startswith("weights")})))
        check(cnn["probability"] > 0.5, "3-D CNN: p(patient) %.3f > 0.5" % cnn["probability"])
        check(cnn["mirrored"] <= 0.1, "3-D CNN: mirrored box %.3f <= 0.1" % cnn["mirrored"])
        check(cnn["planted"] >= 2 * max(cnn["mirrored"], cnn["shifted"]),
              "3-D CNN: evidence mass in the planted box %.3f >= 2 x the mirrored or shifted box's (%.3f, %.3f)" %
              (cnn["planted"], cnn["mirrored"], cnn["shifted"]))
        check(cnn["drawn_planted"] >= 3 * max(cnn["drawn_mirrored"], cnn["drawn_shifted"]),
              "3-D CNN: drawn evidence in the planted box %.3f >= 3 x the mirrored or shifted box's (%.3f, %.3f)" %
              (cnn["drawn_planted"], cnn["drawn_mirrored"], cnn["drawn_shifted"]))
    if failures:
        sys.exit("%d check(s) failed" % len(failures))


if __name__ == "__main__":
    main()
