#!/usr/bin/python3
"""Integration test of scripts/slurm/explain-array.sbatch on a real one-node Slurm cluster started here
(tests/slurm/one_node_cluster.py): a 4-task array of `pda explain` over 12 small PNGs, one of them corrupt.
While it runs, task 1 is cancelled (scancel) and requeued (scontrol requeue), and task 2 gets the script's
time-limit warning (SIGUSR1 to its batch shell), so that it stops pda and requeues itself. Then:
  * every good image is explained exactly once (one line in OUT/progress.jsonl, one result folder),
  * its maps and heatmaps are bitwise equal to a single-process `pda explain` of the same folder,
  * the corrupt image is in OUT/failures.jsonl (and nowhere else), its task FAILED with exit code 1,
  * the interrupted tasks were restarted once and resumed, and their logs say so (appended, one per task),
  * no temporary folder (OUT/.*.tmp-*) is left, `pda status OUT` counts 11 done, 1 failed, 0 remaining,
  * the daemons are stopped and no process of the cluster is left.

usage: /usr/bin/python3 tests/slurm/test_explain_array.py --pda BUILD/pda [--shared DIR | --model M.onnx] [--keep]

Exit codes: 0 passed, 1 failed, 77 skipped (not root, Debian's slurm-wlm / munge missing, the daemons do not
start, or the shared model is absent) -- except under CI=true, where a cluster that cannot start is a
failure (scripts/setup.sh installs the packages there). About 20 s on 2 idle cores (the tasks and the
single-process run at once), 40 s on a busy machine.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from one_node_cluster import TERMINAL_STATES, ClusterUnavailable, OneNodeCluster, missing_requirements  # noqa: E402

SKIP = 77
SOURCE = pathlib.Path(__file__).resolve().parents[2]
RECIPE = SOURCE / "scripts" / "slurm" / "explain-array.sbatch"
TASKS = 4
IMAGES = [f"{d}/{j:02d}.png" for j, d in zip(range(12), "aaaaaabbbbbb")]  # a/00.png ... b/11.png, sorted
CORRUPT = "a/03.png"  # shard 3 (index 3 of the sorted paths)
CANCELLED_TASK = 1  # scancel + scontrol requeue
WARNED_TASK = 2  # SIGUSR1 to the batch shell: the time-limit path, which requeues itself
FLAGS = ["--device", "cpu", "--sampler", "occlusion", "--k", "32", "--stride", "16", "--samples", "1",
         "--threads", "1", "--quiet"]


def log(msg):
    print(msg, flush=True)


def write_png(path, rgb):
    """A plain RGB PNG (no PIL needed): rgb (H, W, 3) uint8."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
                     chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_dataset(data):
    rng = np.random.default_rng(7)
    for rel in IMAGES:
        if rel == CORRUPT:  # a PNG signature, then garbage: the decoder must refuse it
            (data / rel).parent.mkdir(parents=True, exist_ok=True)
            (data / rel).write_bytes(b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
        else:
            base = rng.integers(0, 256, (1, 1, 3))
            write_png(data / rel, np.clip(base + rng.normal(0, 40, (64, 64, 3)), 0, 255).astype(np.uint8))


def shard_of(rel):
    return IMAGES.index(rel) % TASKS


def known_path(p, data):
    """The IMAGES entry a path of progress.jsonl or failures.jsonl names (absolute, or relative to the input
    folder or to the submission folder), else the path itself."""
    p = str(p)
    for rel in IMAGES:
        if p == rel or p.endswith("/" + rel) or os.path.normpath(p) == str(data / rel):
            return rel
    return p


def read_jsonl(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def plain_env():
    """This environment without Slurm's variables (a test run inside a Slurm job must not shard the reference)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_"))}


def retried(cluster, *argv, timeout=20):
    """A Slurm command, tried again while it is refused (a job that is still completing refuses requeue and
    update)."""
    deadline = time.monotonic() + timeout
    while True:
        r = cluster.command(*argv, check=False)
        if r.returncode == 0:
            return
        check(time.monotonic() < deadline, f"{' '.join(argv)}: {r.stderr.strip()}")
        time.sleep(0.3)


def interrupt_tasks(cluster, job, progress, data, tasks_of_interest=(CANCELLED_TASK, WARNED_TASK), timeout=120):
    """Cancels and requeues CANCELLED_TASK, warns WARNED_TASK of its time limit, each once it has finished one
    input and is still running; makes the requeued tasks eligible at once (Slurm delays a requeued job's start
    by about two minutes). Returns when both were requeued."""
    done = set()
    deadline = time.monotonic() + timeout
    while len(done) < len(tasks_of_interest):
        check(time.monotonic() < deadline, f"tasks {tasks_of_interest} were not interrupted in {timeout} s: "
                                           f"{cluster.tasks(job)}")
        states = cluster.tasks(job)
        check(not all(s in TERMINAL_STATES for s in states.values()),
              f"the array ended before tasks {tasks_of_interest} could be interrupted: {states}")
        finished = {}
        for line in read_jsonl(progress):
            rel = known_path(line.get("path", ""), data)
            if rel in IMAGES:
                finished[shard_of(rel)] = finished.get(shard_of(rel), 0) + 1
        for task in tasks_of_interest:
            if task in done or states.get(task) != "RUNNING" or finished.get(task, 0) != 1:
                continue
            if task == CANCELLED_TASK:
                log(f"slurm: task {task} finished one input: scancel {job}_{task}")
                cluster.command("scancel", f"{job}_{task}")
                cluster.wait_tasks(job, TASKS, 30, until=lambda s: s.get(task) == "CANCELLED")
                log(f"slurm: scontrol requeue {job}_{task}")
                retried(cluster, "scontrol", "requeue", f"{job}_{task}")
            else:
                log(f"slurm: task {task} finished one input: SIGUSR1 to its batch shell (time limit near)")
                cluster.command("scancel", "--batch", "--signal=USR1", f"{job}_{task}")
                deadline_requeue = time.monotonic() + 30
                while cluster.job_field(job, task, "Restarts") in (None, "0"):
                    check(time.monotonic() < deadline_requeue, f"task {task} did not requeue itself after SIGUSR1")
                    time.sleep(0.2)
                log(f"slurm: task {task} requeued itself")
            # Slurm holds a requeued job back for about two minutes: make it eligible at once.
            retried(cluster, "scontrol", "update", f"JobId={job}_{task}", "StartTime=now")
            done.add(task)
        time.sleep(0.1)


def submit(cluster, work, program, model, data, out):
    extra = ["--cpus-per-task=1", "--time=10"]  # the node has 2 CPUs; the USR1 margin is 5 minutes
    if cluster.gpus == 0:
        extra.append("--gres=none")
    return cluster.sbatch(f"--array=0-{TASKS - 1}", *extra, str(RECIPE), str(model), str(data), "--out", str(out),
                          *FLAGS, cwd=work, env={"PDA": str(program)})


def task_logs(work, job):
    return {t: (work / f"pda-explain-{job}_{t}.log").read_text(errors="replace")
            if (work / f"pda-explain-{job}_{t}.log").exists() else "" for t in range(TASKS)}


def check_recipe_runs(cluster, work, job, states):
    """What the recipe itself guarantees: restarts, appended logs, exit codes, self-requeue on SIGUSR1."""
    logs = task_logs(work, job)
    for t in range(TASKS):
        starts = len(re.findall(r"explain-array \S+: start on", logs[t]))
        want = 2 if t in (CANCELLED_TASK, WARNED_TASK) else 1
        check(starts == want, f"task {t}: {starts} starts in its log, expected {want}:\n{logs[t]}")
        restarts = cluster.job_field(job, t, "Restarts")
        check(restarts == str(want - 1), f"task {t}: Restarts={restarts}, expected {want - 1}")
    check("requeueing (restart 1 of at most 3)" in logs[WARNED_TASK],
          f"task {WARNED_TASK} did not requeue itself:\n{logs[WARNED_TASK]}")
    check("after SIGTERM" in logs[CANCELLED_TASK], f"task {CANCELLED_TASK} did not stop pda on scancel's SIGTERM:\n"
                                                   f"{logs[CANCELLED_TASK]}")
    return logs


def run_pda(cluster, tmp, data, pda, model):
    work, out, ref = tmp / "work", tmp / "out", tmp / "reference"
    work.mkdir()
    job = submit(cluster, work, pda, model, data, out)
    log(f"slurm: array job {job} submitted: {RECIPE.name} {model.name} {data} --out {out} {' '.join(FLAGS)}")
    # The single-process reference, meanwhile (no Slurm variables: all inputs, no shard).
    t0 = time.monotonic()
    reference = subprocess.Popen([str(pda), "explain", str(model), str(data), "--out", str(ref), *FLAGS],
                                 env=plain_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        interrupt_tasks(cluster, job, out / "progress.jsonl", data)
        states = cluster.wait_tasks(job, TASKS, 120)
        log(f"slurm: tasks {states}, {time.monotonic() - t0:.0f} s after submission")
        ref_output, _ = reference.communicate(timeout=120)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    check(reference.returncode == 1, f"reference run exited {reference.returncode} (expected 1: one corrupt "
                                     f"image):\n{ref_output}")
    for t in range(TASKS):
        want_state, want_exit = ("FAILED", "1:0") if t == shard_of(CORRUPT) else ("COMPLETED", "0:0")
        exit_code = cluster.job_field(job, t, "ExitCode")
        check(states[t] == want_state and exit_code == want_exit,
              f"task {t}: {states[t]} exit {exit_code}, expected {want_state} {want_exit}\n{task_logs(work, job)[t]}")
    logs = check_recipe_runs(cluster, work, job, states)

    good = [rel for rel in IMAGES if rel != CORRUPT]
    # Exactly once: one progress line per good image, none for the corrupt one.
    count = {}
    for line in read_jsonl(out / "progress.jsonl"):
        rel = known_path(line["path"], data)
        count[rel] = count.get(rel, 0) + 1
    check(count == {rel: 1 for rel in good}, f"progress.jsonl counts {count}, expected each good image once\n" +
          "\n".join(logs.values()))
    failures = read_jsonl(out / "failures.jsonl")
    check(failures and {known_path(f["path"], data) for f in failures} == {CORRUPT} and
          all(f.get("error") for f in failures), f"failures.jsonl: {failures}")
    # Result folders: exactly the good images', complete, and bitwise equal to the single-process run.
    stems = {str(pathlib.Path(rel).with_suffix("")) for rel in good}
    for name, root in [("Slurm", out), ("reference", ref)]:
        found = {str(p.parent.relative_to(root)) for p in root.rglob("summary.json")}
        check(found == stems, f"{name} result folders {sorted(found)}, expected {sorted(stems)}")
    compared = 0
    for stem in sorted(stems):
        a, b = out / stem, ref / stem
        files = sorted(p.name for p in b.iterdir() if p.suffix in (".npy", ".png"))
        check("relevance.npy" in files and "counts.npy" in files, f"{b}: {files}")
        check(files == sorted(p.name for p in a.iterdir() if p.suffix in (".npy", ".png")),
              f"{a} and {b} hold different files")
        for f in files:
            check((a / f).read_bytes() == (b / f).read_bytes(), f"{a / f} differs from the single-process run")
            compared += 1
    log(f"slurm: {len(stems)} results, {compared} files bitwise equal to the single-process run")
    leftovers = [str(p) for p in out.rglob(".*") if ".tmp-" in p.name]
    check(not leftovers, f"temporary folders left: {leftovers}")
    status = subprocess.run([str(pda), "status", str(out)], capture_output=True, text=True, timeout=60, env=plain_env())
    log("pda status:\n" + status.stdout.rstrip())
    counts = subprocess.run([str(pda), "status", "--json", str(out)], capture_output=True, text=True, timeout=60,
                            env=plain_env())
    check(status.returncode == 0 and counts.returncode == 0, f"pda status exited {status.returncode} / "
                                                             f"{counts.returncode}: {status.stderr}{counts.stderr}")
    want = {"inputs": len(IMAGES), "done": len(good), "failed": 1, "remaining": 0}
    check(json.loads(counts.stdout) == want, f"pda status --json: {counts.stdout.strip()}, expected {want}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pda", required=True, help="the pda program to test")
    ap.add_argument("--shared", default=str(SOURCE.parent / "shared"),
                    help="the shared data folder (the environment's PDA_SHARED_DIR wins, as for the other tests)")
    ap.add_argument("--model", help="default: SHARED/models/squeezenet1.1-caffe.onnx")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    in_ci = os.environ.get("CI") == "true"
    shared = os.environ.get("PDA_SHARED_DIR") or args.shared
    args.model = args.model or os.path.join(shared, "models", "squeezenet1.1-caffe.onnx")

    why = missing_requirements()
    if why:
        log(f"{'FAILED (CI=true)' if in_ci else 'SKIPPED'}: no Slurm cluster here: {why}")
        return 1 if in_ci else SKIP
    pda, model = pathlib.Path(args.pda).resolve(), pathlib.Path(args.model).resolve()
    if not os.access(pda, os.X_OK):
        log(f"FAILED: {pda} is not an executable program (build the pda target)")
        return 1
    if not model.exists():
        log(f"SKIPPED: {model} is absent (PDA_SHARED_DIR)")
        return SKIP

    t0 = time.monotonic()
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pda-slurm-"))
    tmp.chmod(0o755)  # munged wants every folder above its socket searchable by all
    data = tmp / "data"
    make_dataset(data)
    cluster = OneNodeCluster(tmp / "cluster", log=log)
    ok, unavailable = False, False
    try:
        try:
            cluster.start()
        except ClusterUnavailable as e:
            log(f"{'FAILED (CI=true)' if in_ci else 'SKIPPED'}: the one-node Slurm cluster did not start: {e}")
            unavailable = True
            return 1 if in_ci else SKIP
        run_pda(cluster, tmp, data, pda, model)
        ok = True
    except (Failure, RuntimeError, subprocess.TimeoutExpired) as e:
        log(f"FAILED: {e}")
    finally:
        cluster.stop()
        left = cluster.leftovers()
        if left:
            log(f"FAILED: processes of the cluster left after stop(): {left}")
            ok = False
        if (ok or unavailable) and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"slurm: kept {tmp} (logs under cluster/log and work/)")
    log(f"slurm: {time.monotonic() - t0:.0f} s")
    if not ok:
        return 1
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
