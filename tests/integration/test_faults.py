"""Fault injection for `otd run` (docs/reliability.md): real processes, real
signals, real kills, each under a timeout so that a hang fails.

What "nothing lost" means here, checked against an uninterrupted reference
run of the same configuration at the same rank count:
  - the rerun says "resuming at iteration N" with N the newest committed
    checkpoint (ckpt-<12 digits>.h5, never a *.tmp or *.bad),
  - /final/W is bitwise equal to the reference's,
  - /history has exactly one row per logged iteration (0, 10, 20, ...,
    last: no duplicate, no gap) and every column except wall_time is
    bitwise equal to the reference's.

The problems are tiny (d = 10, m = 12, gd, implicit engine): LONG runs for
a second or two at P = 2 and is interrupted soon after its first checkpoint
beyond iteration 0, so it is reliably still running; SHORT takes well under
a second.

Every job runs through Job below rather than otdtest.run: Job starts mpiexec
in a session of its own, so that on a timeout every process of the job (the
ranks included: Open MPI puts each rank in its own process group, but they
stay in the session) is killed, and nothing is left running or holding a
mount point."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import h5py
import numpy as np

from otdtest import MPIEXEC, OTD, TmpTestCase, read, sets

JOB_TIMEOUT = 60  # one otd job, start to end; they take seconds
END_TIMEOUT = 30  # a job whose rank was killed or signalled must end within this
WAIT_TIMEOUT = 30  # waiting for a run to reach a checkpoint

LOG_EVERY = 10
BASE = sets(algo__name="gd", model__init_scale=1, algo__target_rel_err=0,
            run__log_every=LOG_EVERY)
LONG_ITERS = 100000
LONG_EVERY = 5000
LONG = BASE + sets(algo__max_iters=LONG_ITERS, run__checkpoint_every=LONG_EVERY)
SHORT_ITERS = 200
SHORT_EVERY = 50
SHORT = BASE + sets(algo__max_iters=SHORT_ITERS, run__checkpoint_every=SHORT_EVERY)

PHASES = ("create", "data", "checksum", "close", "fsync", "rename", "prune")
CKPT_NAME = re.compile(r"^ckpt-(\d{12})\.h5$")
RESUMED = re.compile(r"resuming at iteration (\d+) from a checkpoint written by (\d+) rank")
CHECKPOINTED = re.compile(r"checkpointed at iteration (\d+)")


# ---------------------------------------------------------------- processes

def _proc_stat(pid):
    """(ppid, session id) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[1]), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def _all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def processes_using(out):
    """pids of live processes whose command line has the argument `out`
    (what pgrep -f OUT would find, without regular-expression pitfalls)."""
    key = os.fsencode(out)
    return [p for p in _all_pids() if p != os.getpid() and key in _cmdline(p)]


class Job:
    """`mpiexec -n P otd ARGS` in the background, in a new session."""

    def __init__(self, args, nranks=2, env=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("OTD_TEST_CRASH")}
        e.update(env or {})
        self.cmd = [MPIEXEC, "-n", str(nranks), OTD] + list(args)
        self.nranks = nranks
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err, env=e,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.result = None

    def running(self):
        return self.proc.poll() is None

    def session(self):
        """Live pids of the job's session (mpiexec and every rank)."""
        return [p for p in _all_pids() if (_proc_stat(p) or (0, 0))[1] == self.pid]

    def rank_pids(self, timeout=30):
        """{rank: pid} of the otd processes under mpiexec, from their
        OMPI_COMM_WORLD_RANK (Open MPI forks the ranks as children of
        mpiexec; any depth is accepted)."""
        deadline = time.monotonic() + timeout
        while True:
            parent = {p: (_proc_stat(p) or (None,))[0] for p in _all_pids()}
            below, frontier = set(), {self.pid}
            while frontier:
                frontier = {p for p, pp in parent.items() if pp in frontier} - below
                below |= frontier
            ranks = {}
            for p in below:
                try:
                    with open("/proc/%d/environ" % p, "rb") as f:
                        env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
                except OSError:
                    continue
                if b"OMPI_COMM_WORLD_RANK" in env and os.path.basename(
                        os.fsdecode((_cmdline(p) or [b""])[0])) == os.path.basename(OTD):
                    ranks[int(env[b"OMPI_COMM_WORLD_RANK"])] = p
            if len(ranks) == self.nranks:
                return ranks
            if time.monotonic() > deadline or not self.running():
                raise AssertionError("found ranks %s of %d under mpiexec %d"
                                     % (ranks, self.nranks, self.pid))
            time.sleep(0.01)

    def kill_all(self):
        """End the job whatever state it is in: SIGTERM to mpiexec (Open MPI
        then kills its ranks), then SIGKILL to everything left in the
        session."""
        if self.running():
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        for _ in range(50):
            left = self.session()
            if not left:
                break
            for p in left:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.returncode is not None:
            self._collect()

    def wait(self, timeout=JOB_TIMEOUT, what="otd"):
        """Wait for the job; a job still running after timeout is a hang:
        every process of it is killed and the test fails."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            self._collect()
            raise AssertionError("%s hung: still running after %d s, killed\ncommand: %s\n"
                                 "stdout:\n%s\nstderr:\n%s"
                                 % (what, timeout, " ".join(self.cmd), self.result.stdout,
                                    self.result.stderr))
        return self._collect()

    def _collect(self):
        if self.result is not None:
            return self.result
        outs = []
        for f in (self._out, self._err):
            f.seek(0)
            outs.append(f.read().decode(errors="replace"))
            f.close()
        self.result = subprocess.CompletedProcess(self.cmd, self.proc.returncode, *outs)
        return self.result


# ---------------------------------------------------------------- checkpoints

def ckpt_dir(out):
    return os.path.join(out, "checkpoints")


def committed(out):
    """[(iteration, path)] of the committed checkpoints of run directory out,
    oldest first (names exactly ckpt-<12 digits>.h5)."""
    d = ckpt_dir(out)
    if not os.path.isdir(d):
        return []
    found = []
    for name in os.listdir(d):
        m = CKPT_NAME.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(d, name)))
    return sorted(found)


def leftovers(out, suffix):
    d = ckpt_dir(out)
    return sorted(n for n in os.listdir(d) if n.endswith(suffix)) if os.path.isdir(d) else []


def ckpt_checksum(a):
    """The checksum of otd_ckpt.h: sum over elements of otd_ckpt_mix(row,
    col, m, value) modulo 2^64 (splitmix64's finalizer of the linear index,
    xor the value bits, the finalizer again)."""
    a = np.ascontiguousarray(a, dtype="<f8")
    bits = a.view(np.uint64).ravel()
    x = np.arange(a.size, dtype=np.uint64)  # row * m + col, C order
    for rnd in range(2):
        x = x + np.uint64(0x9e3779b97f4a7c15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xbf58476d1ce4e5b9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94d049bb133111eb)
        x = x ^ (x >> np.uint64(31))
        if rnd == 0:
            x = x ^ bits
    return int(np.sum(x, dtype=np.uint64))


def _attr_str(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def verify_ckpt(path):
    """Check a committed checkpoint independently of otd (format version,
    iteration = name, shapes, both checksums); return its iteration and W.
    Raises AssertionError on any mismatch."""
    m = CKPT_NAME.match(os.path.basename(path))
    assert m, "%s is not a committed checkpoint name" % path
    with h5py.File(path, "r") as f:
        assert int(f.attrs["format_version"]) == 1, path
        assert int(f.attrs["iter"]) == int(m.group(1)), path
        W, W0 = f["W"][()], f["W0"][()]
        assert W.shape == W0.shape, path
        for name, a in (("W", W), ("W0", W0)):
            stored = int(_attr_str(f.attrs["checksum_" + name]), 16)
            assert ckpt_checksum(a) == stored, "%s: checksum of %s does not verify" % (path, name)
    return int(m.group(1)), W


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# ---------------------------------------------------------------- references

_REF_DIR = None
_REFS = {}


def reference(args, nranks=2):
    """read() of an uninterrupted run of the configuration args (cached)."""
    global _REF_DIR
    key = (tuple(args), nranks)
    if key not in _REFS:
        if _REF_DIR is None:
            _REF_DIR = tempfile.mkdtemp(prefix="otd-faults-ref-")
        out = os.path.join(_REF_DIR, "ref-%d" % len(_REFS))
        res = Job(["run", "--out", out] + list(args), nranks).wait(what="reference run")
        if res.returncode != 0:
            raise AssertionError("reference run failed (%d)\n%s\n%s"
                                 % (res.returncode, res.stdout, res.stderr))
        _REFS[key] = read(os.path.join(out, "results.h5"))
    return _REFS[key]


def tearDownModule():
    if _REF_DIR is not None:
        shutil.rmtree(_REF_DIR, ignore_errors=True)


# ---------------------------------------------------------------- test base

class FaultCase(TmpTestCase):
    """TmpTestCase plus jobs and mounts that are always cleaned up."""

    def setUp(self):
        super().setUp()
        self.jobs = []
        self.mounts = []

    def tearDown(self):
        for job in self.jobs:
            job.kill_all()
        for mnt in reversed(self.mounts):
            if subprocess.run(["umount", mnt], capture_output=True, timeout=30).returncode != 0:
                subprocess.run(["umount", "-l", mnt], capture_output=True, timeout=30)
        super().tearDown()

    # jobs

    def start(self, args, nranks=2, env=None):
        job = Job(args, nranks, env)
        self.jobs.append(job)
        return job

    def otd(self, args, nranks=2, env=None, timeout=JOB_TIMEOUT):
        return self.start(args, nranks, env).wait(timeout)

    def assertExit(self, proc, code):
        self.assertEqual(proc.returncode, code,
                         "expected exit %d, got %s\ncommand: %s\nstdout:\n%s\nstderr:\n%s"
                         % (code, proc.returncode, " ".join(proc.args), proc.stdout, proc.stderr))

    def assertFailed(self, proc):
        """Non-zero, and not 75 (a failure, not a requeue)."""
        self.assertNotIn(proc.returncode, (0, 75),
                         "expected a failure\nstdout:\n%s\nstderr:\n%s"
                         % (proc.stdout, proc.stderr))

    def wait_checkpoint(self, job, out, min_iter):
        """Poll (with a deadline) until out has a committed checkpoint at an
        iteration >= min_iter, while the job is still running."""
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            its = [i for i, _ in committed(out)]
            if its and its[-1] >= min_iter:
                self.assertTrue(job.running(),
                                "the run ended before it could be interrupted (checkpoints %s): "
                                "make LONG longer" % its)
                return its
            if not job.running():
                res = job.wait()
                self.fail("the run ended (%s) before a checkpoint >= %d (checkpoints %s)\n%s\n%s"
                          % (res.returncode, min_iter, its, res.stdout, res.stderr))
            if time.monotonic() > deadline:
                self.fail("no checkpoint >= %d after %d s (checkpoints %s)"
                          % (min_iter, WAIT_TIMEOUT, its))
            time.sleep(0.005)

    def assertNoProcessesLeft(self, out, grace=10):
        """After a short grace period no process may still have --out out."""
        deadline = time.monotonic() + grace
        while processes_using(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = processes_using(out)
        described = ["%d: %s" % (p, b" ".join(_cmdline(p)).decode(errors="replace"))
                     for p in left]
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.assertEqual(left, [], "processes left behind %d s after the job ended:\n%s"
                         % (grace, "\n".join(described)))

    # interruptions

    def interrupt(self, args, nranks=2, how="usr1-mpiexec", min_iter=LONG_EVERY):
        """Start args, wait for a checkpoint >= min_iter, deliver `how`;
        return (the finished job's result, rank pids)."""
        out = args[args.index("--out") + 1]
        job = self.start(args, nranks)
        self.wait_checkpoint(job, out, min_iter)
        ranks = job.rank_pids()
        kind, target = how.split("-")
        sig = {"usr1": signal.SIGUSR1, "usr2": signal.SIGUSR2, "term": signal.SIGTERM,
               "kill": signal.SIGKILL}[kind]
        os.kill(job.pid if target == "mpiexec" else ranks[int(target[4:])], sig)
        return job.wait(END_TIMEOUT, "the job after %s" % how), ranks

    def signal_interrupt(self, args, nranks=2, how="usr1-mpiexec"):
        """interrupt() by a requeue signal: exit 75, the checkpoint it names
        is the newest committed one and verifies; returns its iteration."""
        out = args[args.index("--out") + 1]
        res, _ = self.interrupt(args, nranks, how)
        self.assertExit(res, 75)
        m = CHECKPOINTED.search(res.stdout)
        self.assertIsNotNone(m, res.stdout)
        it = int(m.group(1))
        self.assertGreater(it, 0)
        self.assertEqual(committed(out)[-1][0], it, "the signal's checkpoint is not the newest")
        verify_ckpt(committed(out)[-1][1])
        return it

    # the result

    def assertResumedAt(self, proc, it, nranks=None):
        m = RESUMED.search(proc.stdout)
        self.assertIsNotNone(m, "no 'resuming at iteration' in\n%s\n%s"
                             % (proc.stdout, proc.stderr))
        self.assertEqual(int(m.group(1)), it, proc.stdout)
        if nranks is not None:
            self.assertEqual(int(m.group(2)), nranks, proc.stdout)

    def assertHistoryRows(self, hist, max_iters):
        """Exactly one row per logged iteration: 0, LOG_EVERY, ..., max_iters."""
        it = hist["iter"]
        expect = np.arange(0, max_iters + 1, LOG_EVERY, dtype=it.dtype)
        if np.array_equal(it, expect):
            return
        vals, counts = np.unique(it, return_counts=True)
        self.fail("history rows are not one per logged iteration: %d rows, %d expected; "
                  "duplicates %s; missing %s; strictly increasing: %s"
                  % (len(it), len(expect), vals[counts > 1][:10].tolist(),
                     sorted(set(expect.tolist()) - set(it.tolist()))[:10],
                     bool(np.all(np.diff(it) > 0))))

    def assertMatchesReference(self, out, args, max_iters=LONG_ITERS, nranks=2):
        """out's results equal the uninterrupted run's: final W bitwise, the
        history row for row (all but wall_time bitwise), the summary."""
        ref = reference(args, nranks)
        res = read(os.path.join(out, "results.h5"))
        self.assertHistoryRows(ref["history"], max_iters)  # the reference itself
        self.assertHistoryRows(res["history"], max_iters)
        self.assertTrue(np.array_equal(res["final/W"], ref["final/W"]),
                        "final W differs from the uninterrupted run (max abs diff %g)"
                        % np.max(np.abs(res["final/W"] - ref["final/W"])))
        self.assertEqual(sorted(res["history"]), sorted(ref["history"]))
        for key, col in ref["history"].items():
            if key == "wall_time":
                continue
            got = res["history"][key]
            self.assertEqual(got.shape, col.shape, key)
            self.assertTrue(got.tobytes() == col.tobytes(),
                            "history column %s differs from the uninterrupted run at rows %s"
                            % (key, np.nonzero(np.any((got != col).reshape(len(col), -1),
                                                      axis=1))[0][:10].tolist()))
        for key in ("status", "iters", "final_rel_err", "final_loss"):
            self.assertEqual(res["summary"][key], ref["summary"][key], key)

    def rerun_resumes(self, args, it, max_iters=LONG_ITERS, ref_args=None):
        """Rerun args: exit 0, resumed at it, results equal the reference."""
        out = args[args.index("--out") + 1]
        res = self.otd(args)
        self.assertExit(res, 0)
        self.assertResumedAt(res, it)
        self.assertNotIn("damaged", res.stdout + res.stderr)
        self.assertMatchesReference(out, ref_args or args[args.index("--out") + 2:], max_iters)
        return res


# ---------------------------------------------------------------- 1. kill -9

class KillRank(FaultCase):
    """kill -9 of one rank mid-run: the job ends promptly with no process
    left; the same command resumes from the newest checkpoint and finishes
    exactly like the uninterrupted run.

    With two ranks in the step loop every rank is constantly inside (or on
    its way into) the per-step allreduce, so killing rank 1 mid-run is also
    the case "a rank dies while its peer waits in a collective"; killing
    rank 0 covers the rank that holds the lock, writes the metadata and
    renames checkpoints."""

    def kill_and_resume(self, rank):
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        res, _ = self.interrupt(args, how="kill-rank%d" % rank)
        self.assertFailed(res)
        self.assertNoProcessesLeft(out)
        newest = committed(out)[-1]
        verify_ckpt(newest[1])
        self.rerun_resumes(args, newest[0])

    def test_kill_rank1(self):
        self.kill_and_resume(1)

    def test_kill_rank0(self):
        self.kill_and_resume(0)


# ---------------------------------------------------------------- 2. signals

class Signals(FaultCase):
    """SIGUSR1 / SIGTERM / SIGUSR2: checkpoint at the next step, exit 75,
    the rerun continues exactly."""

    def signal_and_resume(self, how):
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        it = self.signal_interrupt(args, how=how)
        self.assertNoProcessesLeft(out)
        self.rerun_resumes(args, it)

    def test_sigusr1_to_mpiexec(self):
        # Open MPI's mpiexec forwards SIGUSR1 to every rank.
        self.signal_and_resume("usr1-mpiexec")

    def test_sigterm_to_one_rank(self):
        # Only rank 1 sees it: the ranks must agree at the next step.
        self.signal_and_resume("term-rank1")

    def test_sigusr2_to_rank0(self):
        self.signal_and_resume("usr2-rank0")

    def test_second_signal_during_checkpoint_write(self):
        """SIGUSR1 twice in quick succession: the second arrives while the
        first's checkpoint is being written (as soon as its .tmp shows up,
        or after a short wait). Nothing is damaged: exit 75, the committed
        checkpoint verifies on resume, the result is exact."""
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        job = self.start(args)
        self.wait_checkpoint(job, out, LONG_EVERY)
        before = {n for _, n in committed(out)}
        os.kill(job.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline and job.running():
            if leftovers(out, ".tmp") or {n for _, n in committed(out)} - before:
                break
            time.sleep(0.0002)
        if job.running():
            os.kill(job.pid, signal.SIGUSR1)
        res = job.wait(END_TIMEOUT, "the job after two SIGUSR1")
        self.assertExit(res, 75)
        it = int(CHECKPOINTED.search(res.stdout).group(1))
        self.assertEqual(committed(out)[-1][0], it)
        for _, path in committed(out):
            verify_ckpt(path)
        self.assertNoProcessesLeft(out)
        self.rerun_resumes(args, it)


# ---------------------------------------------------------------- 3. phases

class CrashDuringCheckpointWrite(FaultCase):
    """SIGKILL at each phase of a checkpoint write, by the test hook
    OTD_TEST_CRASH_AT=PHASE:N (the N-th write of the process; the 1st is
    iteration 0, the N-th iteration (N-1) * SHORT_EVERY).

    The hook fires on reaching PHASE, i.e. before it: up to and including
    "rename" the new file is not in place yet and the run must resume from
    the previous checkpoint, the partial .tmp ignored; at "prune" the new
    one is committed and the run resumes from it. When only rank 1 dies,
    rank 0 may already be renaming the file when the job is torn down, so
    at "rename" both are acceptable.

    All ranks crash at the 2nd write (the previous checkpoint is iteration
    0, so the history is cut back to nothing); rank 1 alone crashes at the
    3rd (the history is cut back to the rows before iteration SHORT_EVERY
    while later rows are in results.h5)."""

    def crash(self, phase, n, rank=None):
        prev, new = (n - 2) * SHORT_EVERY, (n - 1) * SHORT_EVERY
        if phase == "prune":
            expect = {new}
        elif phase == "rename" and rank is not None:
            expect = {prev, new}
        else:
            expect = {prev}
        out = self.out("%s-%s" % (phase, "all" if rank is None else "rank%d" % rank))
        args = ["run", "--out", out] + SHORT
        env = {"OTD_TEST_CRASH_AT": "%s:%d" % (phase, n)}
        if rank is not None:
            env["OTD_TEST_CRASH_RANK"] = str(rank)
        res = self.otd(args, env=env, timeout=END_TIMEOUT)
        self.assertFailed(res)
        self.assertNotIn("done:", res.stdout)
        self.assertNoProcessesLeft(out)
        its = [i for i, _ in committed(out)]
        self.assertTrue(set(its) <= set(range(0, new + 1, SHORT_EVERY)) and prev in its,
                        "committed checkpoints after the crash: %s" % its)
        for _, path in committed(out):
            verify_ckpt(path)
        self.assertIn(its[-1], expect, "newest committed checkpoint after a crash at %s" % phase)
        res = self.otd(args)
        self.assertExit(res, 0)
        self.assertResumedAt(res, its[-1])
        self.assertNotIn("damaged", res.stdout + res.stderr)
        self.assertEqual(leftovers(out, ".tmp"), [], "a temporary file outlived the rerun")
        self.assertMatchesReference(out, SHORT, SHORT_ITERS)

    def test_all_ranks_each_phase(self):
        for phase in PHASES:
            with self.subTest(phase=phase):
                self.crash(phase, 2)

    def test_rank1_only(self):
        # A subset, to keep the file fast: before the data, after the
        # close, and the two phases around the commit.
        for phase in ("data", "fsync", "rename", "prune"):
            with self.subTest(phase=phase):
                self.crash(phase, 3, rank=1)


def interrupt_long_run(out):
    """Start LONG in out, stop it with SIGUSR1 once it has committed a
    checkpoint at LONG_EVERY or beyond (so at least two checkpoints exist),
    and return the job's result (exit 75). For tests that need an
    interrupted run to damage, resume or compare."""
    job = Job(["run", "--out", out] + LONG)
    try:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while not (committed(out) and committed(out)[-1][0] >= LONG_EVERY):
            if time.monotonic() > deadline or not job.running():
                raise AssertionError("no checkpoint >= %d to interrupt at" % LONG_EVERY)
            time.sleep(0.005)
        os.kill(job.pid, signal.SIGUSR1)
        res = job.wait(END_TIMEOUT)
    finally:
        job.kill_all()
    if res.returncode != 75 or len(committed(out)) < 2:
        raise AssertionError("could not prepare an interrupted run (%d, %s)\n%s\n%s"
                             % (res.returncode, committed(out), res.stdout, res.stderr))
    return res


# ---------------------------------------------------------------- 4. damage

class DamagedCheckpoints(FaultCase):
    """Truncated, bit-flipped and wrong-version checkpoints are reported,
    renamed *.bad, and an older one is used; when none is valid the run
    stops (nothing restarted silently) until --restart."""

    @classmethod
    def setUpClass(cls):
        # One run interrupted by SIGUSR1, copied into each test.
        cls.template = tempfile.mkdtemp(prefix="otd-faults-damage-")
        interrupt_long_run(os.path.join(cls.template, "run"))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.template, ignore_errors=True)

    def copy(self):
        out = self.out("run")
        shutil.copytree(os.path.join(self.template, "run"), out, symlinks=True)
        return out, ["run", "--out", out] + LONG

    def damage_newest(self, damage, *reasons):
        """Damage the newest checkpoint; the rerun must say so naming the
        file (and the reasons), quarantine it, and resume from the next."""
        out, args = self.copy()
        ckpts = committed(out)
        (older, _), (_, newest) = ckpts[-2], ckpts[-1]
        damage(newest)
        res = self.otd(args)
        self.assertExit(res, 0)
        text = res.stdout + res.stderr
        self.assertIn("damaged", text)
        self.assertIn(os.path.basename(newest), text)
        for reason in reasons:
            self.assertIn(reason, text)
        self.assertTrue(os.path.exists(newest + ".bad"), "%s was not renamed *.bad" % newest)
        self.assertResumedAt(res, older)
        self.assertMatchesReference(out, LONG)

    def test_truncated(self):
        def truncate(path):
            os.truncate(path, os.path.getsize(path) // 2)
        self.damage_newest(truncate)

    def test_flipped_byte_in_w(self):
        def flip(path):
            with h5py.File(path, "r") as f:
                offset, nbytes = f["W"].id.get_offset(), f["W"].id.get_storage_size()
            self.assertIsNotNone(offset, "W has no contiguous storage")
            at = offset + nbytes // 2 + 3  # a mantissa byte in the middle of W
            with open(path, "r+b") as f:
                f.seek(at)
                b = f.read(1)
                f.seek(at)
                f.write(bytes([b[0] ^ 0xFF]))
            with self.assertRaises(AssertionError):  # really inside W's data
                verify_ckpt(path)
        self.damage_newest(flip, "checksum")

    def test_wrong_format_version(self):
        def version(path):
            with h5py.File(path, "r+") as f:
                f.attrs.modify("format_version", np.int64(999))
        self.damage_newest(version, "format version", "999")

    def test_all_damaged_then_restart(self):
        out, args = self.copy()
        results = os.path.join(out, "results.h5")
        before = file_bytes(results)
        ckpts = committed(out)
        for _, path in ckpts:
            os.truncate(path, os.path.getsize(path) // 2)
        res = self.otd(args)
        self.assertFailed(res)
        text = res.stdout + res.stderr
        self.assertIn("no valid checkpoint", text)
        self.assertNotIn("resuming", text)
        self.assertNotIn("done:", text)
        self.assertEqual(file_bytes(results), before, "results.h5 changed")
        self.assertEqual(committed(out), [])
        self.assertEqual(leftovers(out, ".bad"),
                         sorted(os.path.basename(p) + ".bad" for _, p in ckpts))
        # Nothing restarted silently: a second try says the same.
        again = self.otd(args)
        self.assertFailed(again)
        self.assertEqual(file_bytes(results), before, "results.h5 changed")

        res = self.otd(args + ["--restart"])
        self.assertExit(res, 0)
        prev = os.path.join(out, "previous-1")
        self.assertIn(prev, res.stdout)
        self.assertEqual(file_bytes(os.path.join(prev, "results.h5")), before)
        self.assertEqual(len(leftovers(prev, ".bad")), len(ckpts))
        self.assertIsNone(RESUMED.search(res.stdout))
        self.assertMatchesReference(out, LONG)


# ---------------------------------------------------------------- 5. config

class OtherConfiguration(FaultCase):
    """A checkpoint of another configuration is refused with exit 2 listing
    the differing keys, and is left intact; algo.max_iters may change."""

    def test_refused_and_max_iters_allowed(self):
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        it = self.signal_interrupt(args)
        results = os.path.join(out, "results.h5")
        before = file_bytes(results)
        ckpts = [(i, file_bytes(p)) for i, p in committed(out)]
        for extra, expect in ((sets(run__seed=1), "run.seed (0 -> 1)"),
                              (sets(problem__dim=11), "problem.dim (10 -> 11)"),
                              (sets(model__m=20), "model.m (12 -> 20)")):
            with self.subTest(change=expect):
                res = self.otd(args + extra)
                self.assertExit(res, 2)
                self.assertIn(expect, res.stderr)
                self.assertNotIn("damaged", res.stdout + res.stderr)
            # refused, not quarantined, nothing touched
            self.assertEqual(file_bytes(results), before, "results.h5 changed")
            self.assertEqual([(i, file_bytes(p)) for i, p in committed(out)], ckpts)
            self.assertEqual(leftovers(out, ".bad"), [])
        # A different step budget is allowed: the rerun resumes and ends
        # where an uninterrupted run with that budget ends.
        shorter = LONG_ITERS // 2
        self.assertLess(it, shorter)
        self.rerun_resumes(args + sets(algo__max_iters=shorter), it, shorter,
                           ref_args=LONG + sets(algo__max_iters=shorter))


# ---------------------------------------------------------------- 6. P = 3 -> 2

class ChangeRankCount(FaultCase):
    def test_resume_p3_checkpoint_at_p2(self):
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        it = self.signal_interrupt(args, nranks=3)
        res = self.otd(args, nranks=2)
        self.assertExit(res, 0)
        self.assertResumedAt(res, it, nranks=3)
        ref = reference(LONG, nranks=3)
        got = read(os.path.join(out, "results.h5"))
        self.assertHistoryRows(got["history"], LONG_ITERS)
        diff = np.max(np.abs(got["final/W"] - ref["final/W"])) / np.max(np.abs(ref["final/W"]))
        self.assertLessEqual(diff, 1e-12, "final W differs from the P = 3 run by %g" % diff)
        # rows before the checkpoint were written at P = 3 and are kept as they were
        kept = it // LOG_EVERY + (1 if it % LOG_EVERY else 0)
        for key, col in ref["history"].items():
            if key != "wall_time":
                self.assertTrue(got["history"][key][:kept].tobytes() == col[:kept].tobytes(), key)


# ---------------------------------------------------------------- 7. finished

class FinishedRun(FaultCase):
    def test_rerun_does_nothing(self):
        out = self.out("run")
        args = ["run", "--out", out] + SHORT
        self.assertExit(self.otd(args), 0)
        results = os.path.join(out, "results.h5")
        before = file_bytes(results)
        ckpts = [(i, file_bytes(p)) for i, p in committed(out)]
        res = self.otd(args)
        self.assertExit(res, 0)
        self.assertIn("is complete", res.stdout)
        self.assertIn("max_iters", res.stdout)
        self.assertEqual(file_bytes(results), before, "results.h5 changed")
        self.assertEqual([(i, file_bytes(p)) for i, p in committed(out)], ckpts)


# ---------------------------------------------------------------- 8. lock

class Lock(FaultCase):
    """A second `otd run` on a directory in use refuses (--restart too, and
    moves nothing); once the first has ended the same command runs. The
    first run is given a budget it cannot finish during the test, and both
    are ended by SIGUSR1."""

    def test_second_run_refused_while_first_runs(self):
        out = self.out("run")
        args = ["run", "--out", out] + BASE + sets(algo__max_iters=10 ** 8,
                                                   run__checkpoint_every=LONG_EVERY)
        first = self.start(args)
        self.wait_checkpoint(first, out, LONG_EVERY)
        for extra in ([], ["--restart"]):
            with self.subTest(extra=extra):
                res = self.otd(args + extra)
                self.assertFailed(res)
                self.assertIn("in use", res.stdout + res.stderr)
                self.assertFalse(os.path.exists(os.path.join(out, "previous-1")),
                                 "--restart moved the running run's files")
        self.assertTrue(first.running(), "the first run ended while the second tried")
        os.kill(first.pid, signal.SIGUSR1)
        res = first.wait(END_TIMEOUT)
        self.assertExit(res, 75)  # undisturbed by the refused attempts
        it = int(CHECKPOINTED.search(res.stdout).group(1))
        self.assertNoProcessesLeft(out)
        # Now the same command runs: it resumes and checkpoints further on.
        second = self.start(args)
        self.wait_checkpoint(second, out, it + LONG_EVERY)
        os.kill(second.pid, signal.SIGUSR1)
        res = second.wait(END_TIMEOUT)
        self.assertExit(res, 75)
        self.assertResumedAt(res, it)
        verify_ckpt(committed(out)[-1][1])


# ---------------------------------------------------------------- 9. non-finite

class NonFinite(FaultCase):
    def test_diverging_run(self):
        out = self.out("run")
        args = ["run", "--out", out] + sets(algo__name="gd", model__init_scale=1,
                                            algo__lr=1e3, algo__target_rel_err=0,
                                            algo__max_iters=SHORT_ITERS,
                                            run__checkpoint_every=SHORT_EVERY,
                                            run__log_every=LOG_EVERY)
        res = self.otd(args)
        self.assertExit(res, 3)
        self.assertIn("non-finite", res.stderr)
        got = read(os.path.join(out, "results.h5"))
        self.assertEqual(got["summary"]["status"], "nonfinite")
        stopped = int(got["summary"]["iters"])
        ckpts = committed(out)
        self.assertEqual(ckpts[0][0], 0, "the iteration-0 checkpoint is gone: %s" % ckpts)
        for _, path in ckpts:  # every kept checkpoint is a good one
            it, W = verify_ckpt(path)
            self.assertTrue(np.all(np.isfinite(W)), path)
            self.assertLessEqual(it, stopped)
        with self.subTest("final_rel_err of a non-finite run"):
            # The loss is NaN; a relative error of 0 would read as a perfect fit.
            self.assertFalse(float(got["summary"]["final_rel_err"]) <= 1e-3,
                             "non-finite run reports final_rel_err %r"
                             % got["summary"]["final_rel_err"])
        before = file_bytes(os.path.join(out, "results.h5"))
        res = self.otd(args)
        self.assertExit(res, 3)
        self.assertIn("is complete", res.stdout)
        self.assertIn("nonfinite", res.stdout)
        self.assertEqual(file_bytes(os.path.join(out, "results.h5")), before)


# ---------------------------------------------------------------- 10. I/O

class Unwritable(FaultCase):
    def test_out_under_a_regular_file(self):
        blocker = self.out("a-file")
        with open(blocker, "w") as f:
            f.write("not a directory\n")
        out = os.path.join(blocker, "run")
        res = self.otd(["run", "--out", out] + SHORT)
        self.assertExit(res, 1)
        self.assertIn(out, res.stderr)
        self.assertEqual(file_bytes(blocker), b"not a directory\n")

    def test_disk_full_during_checkpoint_write(self):
        """The checkpoint directory of an interrupted run is moved onto a
        256 KiB tmpfs, which is then filled; the resumed run's next
        checkpoint write fails: exit 1 naming the path, the committed
        checkpoints untouched, and a copy of the run directory finishes
        exactly elsewhere."""
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        self.signal_interrupt(args)
        ck, saved = ckpt_dir(out), self.out("saved-checkpoints")
        os.rename(ck, saved)
        os.mkdir(ck)
        mnt = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", ck],
                             capture_output=True, text=True, timeout=30)
        if mnt.returncode != 0:
            self.skipTest("disk-full case needs `mount -t tmpfs` (not available here: %s)"
                          % mnt.stderr.strip())
        self.mounts.append(ck)
        for name in os.listdir(saved):
            shutil.copy2(os.path.join(saved, name), ck)
        filler = os.path.join(ck, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            for chunk in (1 << 16, 1 << 12, 1 << 9, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)
        kept = [(i, file_bytes(p)) for i, p in committed(out)]
        newest = kept[-1][0]

        with self.subTest("exit 1 naming the path"):
            res = self.otd(args)
            self.assertExit(res, 1)
            self.assertIn(ck, res.stderr)
        self.assertNoProcessesLeft(out)
        # Nothing committed is damaged.
        self.assertEqual([(i, file_bytes(p)) for i, p in committed(out)], kept)
        # Copy the run out of the full file system; it finishes there.
        elsewhere = self.out("elsewhere")
        os.mkdir(elsewhere)
        shutil.copy2(os.path.join(out, "results.h5"), elsewhere)
        os.mkdir(ckpt_dir(elsewhere))
        for _, path in committed(out):
            shutil.copy2(path, ckpt_dir(elsewhere))
            verify_ckpt(path)
        self.rerun_resumes(["run", "--out", elsewhere] + LONG, newest)


if __name__ == "__main__":
    unittest.main()
