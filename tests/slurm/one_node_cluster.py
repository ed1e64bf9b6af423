"""A throw-away one-node Slurm cluster on this machine, for tests of the batch-job recipe
(scripts/slurm/explain-array.sbatch). Everything lives in one temporary folder: slurm.conf and gres.conf,
a fresh munge key and a munged of its own (own socket, key, pid, seed and log files, so a system munged is
never touched), slurmctld -D and slurmd -D with SLURM_CONF pointing at the generated file, state, spool
and logs. The daemons are stopped by their process ids, and every process that carries this cluster's
marker in its environment (slurmstepd, the jobs' shells and programs) is killed by its id.

Needs root (SlurmUser=root, slurmd runs jobs as their submitter) and Debian's slurm-wlm and munge.
ClusterUnavailable says why a cluster cannot start, so that a caller can skip visibly.
"""

import os
import pathlib
import re
import shutil
import signal
import socket
import stat
import subprocess
import time

_TOOLS = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel", "sinfo"]
# Slurm states after which a job (array task) will not run again unless it is requeued.
TERMINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                   "BOOT_FAIL", "DEADLINE"}


class ClusterUnavailable(Exception):
    """The cluster cannot start here (not root, packages missing, ports taken, a daemon that exits)."""


def missing_requirements():
    """Why no cluster can start on this machine, or None."""
    if os.geteuid() != 0:
        return "not root (SlurmUser=root and slurmd need it)"
    missing = [t for t in _TOOLS if shutil.which(t, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None]
    if missing:
        return "missing " + ", ".join(missing) + " (Debian's slurm-wlm and munge: scripts/setup.sh)"
    return None


def _free_ports(count):
    """`count` distinct TCP ports that are free on every interface now (slurmctld and slurmd bind 0.0.0.0)."""
    socks, ports = [], []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("0.0.0.0", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _node_line():
    """The node as slurmd sees it (`slurmd -C`: real CPU topology and memory), else from the OS."""
    try:
        out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=20).stdout
        line = out.splitlines()[0] if out else ""
        if line.startswith("NodeName=") and "CPUs=" in line and "RealMemory=" in line:
            name = line.split()[0].split("=", 1)[1]
            return name, " ".join(line.split()[1:])
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", pathlib.Path("/proc/meminfo").read_text()).group(1))
    return socket.gethostname().split(".")[0], f"CPUs={len(os.sched_getaffinity(0))} RealMemory={mem_kib // 1024}"


class OneNodeCluster:
    """with OneNodeCluster(root) as c: c.sbatch(...). root: an empty folder that the cluster owns."""

    def __init__(self, root, gpus=4, log=print):
        self.root = pathlib.Path(root).resolve()
        self.gpus = gpus  # stand-in GPUs (see _make_gpu_files), so that --gres=gpu:1 is schedulable
        self.log = log
        self.marker = "PDA_SLURM_TEST_CLUSTER=" + str(self.root)
        self.procs = {}  # name -> Popen of the daemons this object started
        self.conf = self.root / "etc" / "slurm.conf"
        self.env = dict(os.environ)
        self.env["SLURM_CONF"] = str(self.conf)
        self.env["PDA_SLURM_TEST_CLUSTER"] = str(self.root)
        self.env["PATH"] = self.env.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        for k in list(self.env):  # a Slurm job around this test must not leak into the cluster's commands
            if k.startswith(("SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "SQUEUE_")) and k != "SLURM_CONF":
                del self.env[k]

    # --- lifetime -------------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self, timeout=60):
        why = missing_requirements()
        if why:
            raise ClusterUnavailable(why)
        try:
            for d in ["etc", "munge", "state", "spool", "log", "run"]:
                (self.root / d).mkdir(parents=True, exist_ok=True)
            os.chmod(self.root, 0o755)  # munged wants its socket's folders searchable by all
            self._start_munged()
            self.node, node_hw = _node_line()
            ctld_port, slurmd_port = _free_ports(2)
            self._make_gpu_files()
            self._write_conf(node_hw, ctld_port, slurmd_port)
        except (OSError, RuntimeError) as e:
            raise ClusterUnavailable(str(e)) from e
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._wait(lambda: self._run(["scontrol", "ping"], check=False).stdout.find("UP") >= 0, timeout,
                   "slurmctld answering scontrol ping", "slurmctld")
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf), "-N", self.node])
        self._wait(self._node_idle, timeout, f"node {self.node} idle", "slurmd")
        self.log(f"slurm: one-node cluster up in {self.root} (node {self.node}, ports {ctld_port}/{slurmd_port})")

    def stop(self):
        """Cancel every job, stop the daemons by their ids, then kill what is left of this cluster's processes."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            self._run(["scancel", "--full", "--user=root"], check=False, timeout=20)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self._run(["squeue", "-h", "-t", "RUNNING,COMPLETING"],
                                                            check=False, timeout=10).stdout.strip():
                time.sleep(0.3)
        for name in ["slurmd", "slurmctld", "munged"]:
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.log(f"slurm: {name} ({p.pid}) ignored SIGTERM for 15 s: SIGKILL")
                p.kill()
                p.wait(timeout=10)
        for pid in self.leftovers():
            self.log(f"slurm: killing leftover process {pid}: {_cmdline(pid)}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        for p in self.procs.values():
            if p.stdout:
                p.stdout.close()

    def leftovers(self):
        """Ids of live processes that carry this cluster's marker in their environment (none after stop())."""
        me, found = os.getpid(), []
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if self.marker.encode() in environ and state != "Z":
                found.append(int(entry.name))
        return found

    # --- daemons --------------------------------------------------------------------------------
    def _start_munged(self):
        m = self.root / "munge"
        self.munge_socket = m / "munge.socket"
        key = m / "munge.key"
        self._run(["mungekey", "--create", f"--keyfile={key}", "--force"])
        os.chmod(key, 0o600)
        self._spawn("munged", ["munged", "-F", f"--socket={self.munge_socket}", f"--key-file={key}",
                               f"--pid-file={m / 'munged.pid'}", f"--seed-file={m / 'munged.seed'}",
                               f"--log-file={self.root / 'log' / 'munged.log'}", "--num-threads=2"])
        self._wait(self.munge_socket.exists, 20, "munged's socket", "munged")

    def _make_gpu_files(self):
        """Stand-in GPU device files (character devices 1:3, like /dev/null): slurmd drops a GPU without a
        device file, and task/none never opens them. Without mknod the node has no GPUs (self.gpus = 0)."""
        try:
            for i in range(self.gpus):
                os.mknod(self.root / "run" / f"gpu{i}", stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except OSError as e:
            self.log(f"slurm: no stand-in GPU device files ({e}): a node without GPUs")
            self.gpus = 0

    def _write_conf(self, node_hw, ctld_port, slurmd_port):
        r = self.root
        gres = f" Gres=gpu:{self.gpus}" if self.gpus else ""
        self.conf.write_text(f"""# Generated by tests/slurm/one_node_cluster.py: a one-node test cluster, root {r}
ClusterName=pdatest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
KillWait=10
MinJobAge=600
InactiveLimit=0
{"GresTypes=gpu" if self.gpus else ""}
NodeName={self.node} NodeAddr=127.0.0.1 {node_hw}{gres} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
        if self.gpus:
            files = f"{r}/run/gpu[0-{self.gpus - 1}]"
            (self.conf.parent / "gres.conf").write_text(f"NodeName={self.node} Name=gpu File={files}\n")

    def _spawn(self, name, argv):
        out = open(self.root / "log" / f"{name}.stdout", "wb")
        self.procs[name] = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name].stdout = out  # closed by stop()

    def _wait(self, ready, timeout, what, daemon):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            p = self.procs.get(daemon)
            if p is not None and p.poll() is not None:
                raise ClusterUnavailable(f"{daemon} exited with {p.returncode} before {what}:\n" +
                                         self.tail(daemon))
            time.sleep(0.2)
        raise ClusterUnavailable(f"no {what} after {timeout} s:\n" + self.tail(daemon))

    def _node_idle(self):
        out = self._run(["sinfo", "-h", "-N", "-o", "%N %T"], check=False).stdout.split()
        return len(out) >= 2 and out[1].rstrip("*") in ("idle", "mixed", "allocated")

    def tail(self, daemon, lines=20):
        """The last lines of a daemon's log file and its stdout (for a failure message)."""
        text = []
        for f in [self.root / "log" / f"{daemon}.log", self.root / "log" / f"{daemon}.stdout"]:
            if f.exists():
                text += [f"  {f.name}: {line}" for line in f.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(text)

    # --- commands -------------------------------------------------------------------------------
    def _run(self, argv, check=True, timeout=60, **kw):
        r = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, **kw)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        return r

    def command(self, *argv, check=True, **kw):
        """Runs a Slurm command (sbatch, scontrol, ...) against this cluster; returns CompletedProcess."""
        return self._run(list(argv), check=check, **kw)

    def sbatch(self, *args, cwd=None, env=None):
        """Submits; returns the job id (of the array)."""
        run_env = dict(self.env)
        run_env.update(env or {})
        r = subprocess.run(["sbatch", "--parsable", *args], env=run_env, cwd=cwd, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"sbatch {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
        return r.stdout.strip().split(";")[0]

    def tasks(self, job_id):
        """{array task id: state} of an array job (every task, pending ones included)."""
        out = self._run(["squeue", "-h", "-r", "-t", "all", "-j", str(job_id), "-o", "%K %T"]).stdout
        states = {}
        for line in out.splitlines():
            task, state = line.split()
            states[int(task)] = state
        return states

    def job_field(self, job_id, task, field):
        """One field of `scontrol show job JOB_TASK` (ExitCode, Restarts, ...)."""
        out = self._run(["scontrol", "show", "job", "-o", f"{job_id}_{task}"]).stdout
        m = re.search(rf"(?:^|\s){field}=(\S*)", out)
        return m.group(1) if m else None

    def wait_tasks(self, job_id, count, timeout, until=None):
        """Polls until `until(states)` (default: `count` tasks, all in terminal states); returns the states."""
        until = until or (lambda s: len(s) == count and all(v in TERMINAL_STATES for v in s.values()))
        deadline = time.monotonic() + timeout
        while True:
            states = self.tasks(job_id)
            if until(states):
                return states
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode} while job {job_id} ran:\n" + self.tail(name))
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} not done after {timeout} s: {states}")
            time.sleep(0.2)


def _cmdline(pid):
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
