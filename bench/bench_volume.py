#!/usr/bin/python3
"""Volume PDA on the CPU (the paper's MRI setting, section 4.2), measured with the discipline of the
other benchmarks: every case a whole `pda explain` process, cases interleaved round by round, the
other processes' CPU share measured from /proc/stat during each run and disturbed runs redone
(bench/peers/interleave.py). Used by scripts/bench-volume.sh, which makes the cohort and the sampler.

Cases (value: explain_s of summary.json, the PDA itself; loading and writing excluded, reported beside):
  logreg-conditional  the paper's logistic regression, every 3x3x3 window (stride 1), l 7, S 10
  logreg-marginal     the same with the marginal sampler (the cohort's other volumes)
  cnn-full / cnn-incremental  the cohort's 3-D CNN, occlusion, every --cnn-stride-th window, full and
                      incremental execution; windows/s and the seconds per volume extrapolated to every
                      window at stride 1 (occlusion: one sample per window)
  cnn-conditional     the 3-D CNN in the paper's setting, measured: incremental, every window (stride
                      1), l 7, S 10 (about 2 minutes a run; not in the default cases)
Prints a markdown table; maps stay in WORK."""
import argparse
import json
import os
import shutil
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
import interleave  # noqa: E402


def explain_cmd(pda, model, volume, out, args):
    stem = os.path.basename(volume).split(".")[0]
    line = " ".join([pda, "explain", model, volume, "--quiet", "--out", out] + args)
    # The summary of the run on stdout, for interleave.run_once; the folder is removed for the next run.
    return ["bash", "-c", f"rm -rf {out} && {line} >/dev/null && cat {out}/{stem}/summary.json"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pda", required=True)
    ap.add_argument("--cohort", required=True)
    ap.add_argument("--sampler", required=True, help="pda fit-sampler file (k 3, pad 2) for the logistic regression")
    ap.add_argument("--work", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cnn-stride", type=int, default=9)
    ap.add_argument("--cases", default="logreg-conditional logreg-marginal cnn")
    ap.add_argument("--max-other", type=float, default=0.10)
    a = ap.parse_args()

    with open(os.path.join(a.cohort, "labels.csv")) as f:
        rows = [line.strip().split(",") for line in f.readlines()[1:] if line.strip()]
    patient = os.path.join(a.cohort, next(p for p, label in rows if label == "1"))
    logreg = os.path.join(a.cohort, "model_logreg.onnx")
    cnn = os.path.join(a.cohort, "model_cnn3d.onnx")
    subjects = os.path.join(a.cohort, "subjects")
    common = ["--threads", str(a.threads), "--k", "3", "--classes", "1", "--seed", "1"]
    os.makedirs(a.work, exist_ok=True)
    wanted = a.cases.split()

    cases = []
    if "logreg-conditional" in wanted:
        cases.append(("logreg-conditional", [explain_cmd(a.pda, logreg, patient, os.path.join(a.work, "lr-cond"),
                                                         common + ["--sampler", "conditional", "--sampler-file",
                                                                   a.sampler, "--pad", "2", "--samples", "10"])]))
    if "logreg-marginal" in wanted:
        cases.append(("logreg-marginal", [explain_cmd(a.pda, logreg, patient, os.path.join(a.work, "lr-marg"),
                                                      common + ["--sampler", "marginal", "--sample-images", subjects,
                                                                "--samples", "10"])]))
    if "cnn" in wanted:
        occl = common + ["--sampler", "occlusion", "--stride", str(a.cnn_stride)]
        cases.append(("cnn", [explain_cmd(a.pda, cnn, patient, os.path.join(a.work, "cnn-" + e), occl + ["--exec", e])
                              for e in ("full", "incremental")], ["full", "incremental"]))

    if "cnn-conditional" in wanted:
        cases.append(("cnn-conditional", [explain_cmd(a.pda, cnn, patient, os.path.join(a.work, "cnn-cond"),
                                                      common + ["--sampler", "conditional", "--sampler-file",
                                                                a.sampler, "--pad", "2", "--samples", "10"])]))

    summaries = {}

    def keep(label):
        def value(s):
            summaries.setdefault(label, []).append(s)
            return s["timings"]["explain_s"]
        return value

    runs = []
    for case in cases:
        label, cmds = case[0], case[1]
        names = case[2] if len(case) > 2 else [label]
        values = [keep(f"{label}/{n}") for n in names]
        runs += interleave.measure([(label, cmds, values, names)], a.rounds, a.max_other)

    print(f"| case | windows | resampled volumes | explain (median of {a.rounds}) | total | windows/s | "
          "s per volume, every window at stride 1 | others' CPU (max) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        label = r["label"]
        names = ["full", "incremental"] if label == "cnn" else [label]
        for i, n in enumerate(names):
            key = f"{label}/{n}"
            s = summaries[key][-1]
            explain = r["medians"][i]
            total = statistics.median(x["timings"]["total_s"] for x in summaries[key])
            windows = s["windows"]
            all_windows = 89 * 107 * 89
            per_volume = explain * all_windows / windows  # occlusion: S 1; the conditional sampler draws 10
            name = key if label == "cnn" else label
            note = f"{per_volume:.1f} s" if label != "cnn" else f"{per_volume:.0f} s (occlusion)"
            print(f"| {name} | {windows:,} | {s['forward_passes']:,} | {explain:.2f} s | {total:.2f} s | "
                  f"{windows / explain:,.0f} | {note} | {r['max_other']:.0%} |")
    shutil.rmtree(os.path.join(a.work, "cnn-full"), ignore_errors=True)


if __name__ == "__main__":
    main()
