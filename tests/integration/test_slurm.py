"""The Slurm job scripts (jobs/slurm/) against a real slurmctld + slurmd on
localhost (slurmtest.Slurm: one private cluster for this whole file).

Every real-Slurm test lives in this one file, so that two test clusters
never run at once (CTest runs test files in parallel).

What is checked:
  - run_one.sbatch at 2 ranks (srun --mpi=pmix) gives results bitwise equal
    to a direct `mpirun -n 2 otd run` of the same config;
  - the warning signal (USR1 to the batch shell, as --signal=B:USR1 sends
    it) reaches otd's ranks, otd checkpoints and exits 75, the job requeues
    itself, runs again with SLURM_RESTART_COUNT=1, resumes and ends bitwise
    equal to an undisturbed run;
  - with OTD_MAX_REQUEUES=0 the signalled job is not requeued and says that
    the retry limit was reached (through OTD_LAUNCH=mpirun, the documented
    alternative launcher);
  - SIGTERM to the batch shell is relayed the same way;
  - sweep_task.sh runs both tasks of `sbatch --array=0-1` over a
    hand-written 2-point sweep directory (the layout of docs/file-formats.md);
  - `otd sweep --submit` of a 6-point sweep (2 ranks per point, srun
    --mpi=pmix) completes, `otd collect` reports 6 done, and every point is
    bitwise the same as the same sweep run with `otd sweep --local`;
  - `otd sweep --submit` from a working directory with spaces and
    non-ASCII into a sweep directory named with $( ), quotes and Slurm's %
    patterns: the task's log is where --output says, nothing else appears;
  - a sweep with an invalid value in a list and a task killed mid-run:
    collect reports both as failed with the command that reruns only the
    unfinished points; after the invalid value is fixed in the sweep file,
    that command (a Slurm array of just those points) completes them, the
    killed one resuming from its checkpoint, and the finished points'
    results are not rewritten.

Nothing depends on speed. Signalled runs have an unreachable step budget
(max_iters 2e9, target_rel_err 0): they are signalled once their first
checkpoint exists (otd installs its handlers before), so they are surely
running; and they end only through the signal. A requeue test holds the job
before signalling it: a held job keeps running, and once requeued it stays
pending until released, which leaves time to shorten max_iters in its
config (a key otd allows to change on resume) so that the rerun finishes.
Every wait is bounded by a generous timeout that fails the test."""
import csv
import hashlib
import os
import re
import shlex
import shutil
import signal
import unittest

from otdtest import OTD, SOURCE, TmpTestCase, read, run, run_command
from slurmtest import Slurm

JOBS = os.path.join(SOURCE, "jobs")
RUN_ONE = os.path.join(JOBS, "slurm", "run_one.sbatch")
SWEEP_TASK = os.path.join(JOBS, "slurm", "sweep_task.sh")
ENDLESS = 2000000000

CLUSTER = None


def setUpModule():
    global CLUSTER
    # Fails (never skips) with the reason when Slurm cannot be started.
    CLUSTER = Slurm(cpus=4).start()


def tearDownModule():
    if CLUSTER is not None:
        CLUSTER.stop()


def config_text(max_iters, seed=0):
    """A tiny gd problem (d = 10, m = 12): ~1e5 steps/s per rank pair."""
    return ("algo.name: gd\nmodel.init_scale: 1\nalgo.target_rel_err: 0\n"
            "algo.max_iters: %d\nrun.seed: %d\nrun.log_every: 100\n"
            "run.progress_seconds: 1\n" % (max_iters, seed))


CHECKPOINTED = re.compile(r"checkpointed at iteration (\d+)")


class SlurmCase(TmpTestCase):

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        self.slurm = CLUSTER
        self.jobs = []

    def tearDown(self):
        for j in self.jobs:  # a failed test leaves no job running
            self.slurm.cancel(j)
        super().tearDown()

    def write(self, name, text):
        path = self.out(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def slurp(self, path):
        with open(path) as f:
            return f.read()

    def status_lines(self, path):
        return [line.split() for line in self.slurp(path).splitlines()]

    def run_one(self, config, rundir, log, ntasks=2, env=None):
        """sbatch -n NTASKS run_one.sbatch CONFIG RUNDIR, from the test dir."""
        e = {"OTD_BIN": OTD, "OTD_JOBS_DIR": JOBS}
        e.update(env or {})
        job = self.slurm.submit(["-n", str(ntasks), "-D", self.tmp, "-o", log, RUN_ONE,
                                 config, rundir], env=e)
        self.jobs.append(job)
        return job

    def wait_checkpoint(self, rundir, job, log):
        """Wait until the run has committed a checkpoint: otd is running with
        its signal handlers installed."""
        ck = os.path.join(rundir, "checkpoints")

        def ready():
            if self.slurm.job(job)["JobState"] in ("FAILED", "COMPLETED", "CANCELLED"):
                raise AssertionError("job ended early:\n" + self.slurp(log))
            return os.path.isdir(ck) and any(n.endswith(".h5") for n in os.listdir(ck))
        self.slurm.wait_for(ready, 240, "a checkpoint in " + ck)

    def assertSameRun(self, got, ref):
        """Final W and every history column but wall_time bitwise equal."""
        a, b = read(got), read(ref)
        self.assertTrue((a["final/W"] == b["final/W"]).all(), "final W differs")
        self.assertEqual(sorted(a["history"]), sorted(b["history"]))
        for k in a["history"]:
            if k == "wall_time":
                continue
            self.assertEqual(a["history"][k].shape, b["history"][k].shape, k)
            self.assertTrue((a["history"][k] == b["history"][k]).all(), "history/%s differs" % k)
        self.assertEqual(a["summary"]["iters"], b["summary"]["iters"])

    def reference(self, config, name="ref"):
        """The same config run directly: mpirun -n 2 otd run."""
        ref = self.out(name)
        self.assertOk(run(["run", config, "--out", ref], nranks=2))
        return os.path.join(ref, "results.h5")


class TestRunOne(SlurmCase):

    def test_run_one_equals_direct_run(self):
        cfg = self.write("c.yaml", config_text(3000))
        log = self.out("run_one.log")
        job = self.run_one(cfg, self.out("r"), log)
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertEqual(rec["JobState"], "COMPLETED", text)
        self.assertEqual(rec["ExitCode"], "0:0", text)
        self.assertIn("srun --mpi=pmix", text)
        self.assertIn("P = 2 ranks", text)
        st = self.status_lines(self.out("r/task.exit"))
        self.assertEqual(len(st), 1, st)
        self.assertEqual(st[0][1:2] + st[0][3:], ["0", job])
        self.assertSameRun(self.out("r/results.h5"), self.reference(cfg))

    def test_warning_signal_requeues_and_resumes_exactly(self):
        cfg = self.write("c.yaml", config_text(ENDLESS))
        rundir, log = self.out("r"), self.out("run_one.log")
        job = self.run_one(cfg, rundir, log)
        self.wait_checkpoint(rundir, job, log)
        self.slurm.hold(job)
        self.slurm.signal_batch(job, "USR1")
        # Requeued by task.sh, and kept pending by the hold.
        self.slurm.wait_state(job, lambda r: r["Restarts"] == 1 and r["JobState"] == "PENDING",
                              what="requeued and pending")
        text = self.slurp(log)
        m = CHECKPOINTED.search(text)
        self.assertIsNotNone(m, text)
        stopped = int(m.group(1))
        self.assertIn("received SIGUSR1", text)
        self.assertIn("requeueing job %s" % job, text)
        st = self.status_lines(self.out("r/task.exit"))
        self.assertEqual([s[1] for s in st], ["75"], st)
        # The rerun must end: give it a budget a little beyond the checkpoint.
        final = stopped + 2000
        self.write("c.yaml", config_text(final))
        self.slurm.release(job)
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertEqual(rec["JobState"], "COMPLETED", text)
        self.assertEqual(rec["Restarts"], 1)
        self.assertIn("SLURM_RESTART_COUNT=1", text)
        self.assertIn("resuming at iteration %d" % stopped, text)
        st = self.status_lines(self.out("r/task.exit"))
        self.assertEqual([s[1] for s in st], ["75", "0"], st)
        self.assertTrue(all(s[3] == job for s in st), st)
        got = os.path.join(rundir, "results.h5")
        self.assertEqual(read(got)["summary"]["iters"], final)
        self.assertSameRun(got, self.reference(cfg))

    def test_retry_limit_with_mpirun(self):
        cfg = self.write("c.yaml", config_text(ENDLESS))
        rundir, log = self.out("r"), self.out("run_one.log")
        job = self.run_one(cfg, rundir, log,
                           env={"OTD_MAX_REQUEUES": "0", "OTD_LAUNCH": "mpirun"})
        self.wait_checkpoint(rundir, job, log)
        self.slurm.signal_batch(job, "USR1")
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertEqual(rec["JobState"], "FAILED", text)
        self.assertEqual(rec["ExitCode"], "75:0", text)
        self.assertEqual(rec["Restarts"], 0, text)
        self.assertIn("mpirun " + OTD, text)
        self.assertRegex(text, CHECKPOINTED)
        self.assertIn("retry limit reached: SLURM_RESTART_COUNT=0 >= OTD_MAX_REQUEUES=0", text)
        self.assertNotIn("otd task: requeueing", text)
        st = self.status_lines(self.out("r/task.exit"))
        self.assertEqual([s[1] for s in st], ["75"], st)

    def test_term_to_batch_shell_checkpoints(self):
        # SIGTERM (time limit, preemption) to the batch shell: relayed as
        # USR1, since srun would cancel the step on a TERM of its own.
        cfg = self.write("c.yaml", config_text(ENDLESS))
        rundir, log = self.out("r"), self.out("run_one.log")
        job = self.run_one(cfg, rundir, log, ntasks=1, env={"OTD_MAX_REQUEUES": "0"})
        self.wait_checkpoint(rundir, job, log)
        self.slurm.signal_batch(job, "TERM")
        rec = self.slurm.wait_job(job)[0]
        text = self.slurp(log)
        self.assertIn("received SIGTERM", text)
        self.assertRegex(text, CHECKPOINTED)
        st = self.status_lines(self.out("r/task.exit"))
        self.assertEqual([s[1] for s in st], ["75"], (st, text, rec))


class TestSweepArray(SlurmCase):

    def test_sweep_task_runs_both_array_tasks(self):
        d = self.out("sweep")
        names = ["seed0-0123456789", "seed1-abcdef0123"]
        rows = ["index\tname\tstatus\tconfig\trundir\trun.seed"]
        for i, name in enumerate(names):
            self.write("sweep/configs/%s.yaml" % name, config_text(1000, seed=i))
            rows.append("%d\t%s\tok\tconfigs/%s.yaml\truns/%s\t%d" % (i, name, name, name, i))
        self.write("sweep/manifest.tsv", "\n".join(rows) + "\n")
        os.makedirs(os.path.join(d, "logs"))
        # DIR/sweep.sbatch as docs/file-formats.md has it and `otd sweep` writes it.
        script = self.write("sweep/sweep.sbatch", "\n".join([
            "#!/bin/bash",
            "#SBATCH --job-name=otd-test",
            "#SBATCH --array=0-1%2",
            "#SBATCH --ntasks=1",
            "#SBATCH --output=%s/logs/%%A_%%a.out" % d,
            "#SBATCH --open-mode=append",
            "#SBATCH --requeue",
            "#SBATCH --signal=B:USR1@60",
            "export OTD_BIN=%s" % OTD,
            "export OTD_MAX_REQUEUES=3",
            'exec bash %s %s "$SLURM_ARRAY_TASK_ID"' % (SWEEP_TASK, d), ""]))
        job = self.slurm.submit(["-D", d, script])
        self.jobs.append(job)
        recs = self.slurm.wait_job(job)
        self.assertEqual(sorted(r["ArrayTaskId"] for r in recs), ["0", "1"], recs)
        for r in recs:
            i = int(r["ArrayTaskId"])
            logf = os.path.join(d, "logs", "%s_%d.out" % (job, i))
            text = self.slurp(logf)
            self.assertEqual(r["JobState"], "COMPLETED", text)
            self.assertIn("point %d: %s (ok)" % (i, names[i]), text)
            st = self.status_lines(os.path.join(d, "tasks", names[i] + ".exit"))
            self.assertEqual(len(st), 1, st)
            self.assertEqual(st[0][1], "0")
            self.assertEqual(st[0][3], "%s_%d" % (job, i))
            res = read(os.path.join(d, "runs", names[i], "results.h5"))
            self.assertEqual(res["summary"]["iters"], 1000)
            self.assertIn("seed: %d" % i, str(res["attrs"]["config"]))



SWEEP = """name: slurm-test
set:
  algo.name: gd
  model.init_scale: 1
  problem.dim: 8
  algo.target_rel_err: 0
  algo.max_iters: 2000
  run.log_every: 100
grid:
  model.m: %s
  run.seed: %s
%sranks: %d
throttle: 4
"""


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class TestSweepSubmit(SlurmCase):
    """`otd sweep --submit` and `otd collect` against the real cluster."""

    def otd(self, args, ok=True):
        p = run_command([OTD] + list(args), env=dict(self.slurm.env, OTD_JOBS_DIR=JOBS),
                        timeout=600)
        if ok:
            self.assertEqual(p.returncode, 0, "otd %s: %s%s" % (" ".join(args), p.stdout,
                                                               p.stderr))
        return p

    def submitted(self, d):
        """Job ids of DIR/submissions.txt, oldest first."""
        return [line.split()[1] for line in self.slurp(os.path.join(d, "submissions.txt"))
                .splitlines()]

    def wait_sweep(self, d):
        job = self.submitted(d)[-1]
        self.jobs.append(job)
        return self.slurm.wait_job(job)

    def test_submit_collect_equals_local(self):
        spec = self.write("sweep.yaml", SWEEP % ("[6, 12]", "[0, 1, 2]", "", 2))
        d = self.out("slurm")
        p = self.otd(["sweep", spec, "--out", d, "--submit"])
        self.assertIn("sbatch", p.stdout)
        recs = self.wait_sweep(d)
        self.assertEqual(len(recs), 6, recs)
        for r in recs:
            self.assertEqual(r["JobState"], "COMPLETED", r)
        p = self.otd(["collect", d])
        self.assertRegex(p.stdout, r"6 done")
        with open(os.path.join(d, "summary.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(sorted(r["status"] for r in rows), ["done"] * 6)
        # The same sweep run here: the same names, the same bits.
        loc = self.out("local")
        self.otd(["sweep", spec, "--out", loc, "--local", "2"])
        names = sorted(os.listdir(os.path.join(d, "runs")))
        self.assertEqual(names, sorted(os.listdir(os.path.join(loc, "runs"))))
        self.assertEqual(len(names), 6)
        for n in names:
            got = os.path.join(d, "runs", n, "results.h5")
            self.assertSameRun(got, os.path.join(loc, "runs", n, "results.h5"))
            self.assertIn("P = 2 ranks", self.slurp(os.path.join(
                d, "logs", [f for f in os.listdir(os.path.join(d, "logs"))
                            if self.slurp(os.path.join(d, "logs", f)).find(n) >= 0][0])))

    def test_submit_from_odd_paths(self):
        # Issue 11: a working directory with spaces and non-ASCII, a sweep
        # directory whose name a shell or Slurm would act on ($( ), quotes,
        # %j, %%), jobs/ under a path with a space. The task runs, its log
        # is DIR/logs/<job>_0.out (Slurm read --output as written), and
        # nothing else is created.
        cwd = self.out("dir with space/\u00fcn\u00ef")
        jobs = self.out("jobs dir \u00fc")
        shutil.copytree(JOBS, jobs)
        name = "sw $(touch y) 'q' \"d\" %j %% \u00fc"
        self.write(os.path.join(cwd, "sweep.yaml"), SWEEP % ("[6]", "[0]", "", 1))
        p = run_command([OTD, "sweep", "sweep.yaml", "--out", name, "--submit"], cwd=cwd,
                        env=dict(self.slurm.env, OTD_JOBS_DIR=jobs), timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        d = os.path.join(cwd, name)
        m = re.search(r"submitted job (\d+); `(.*)` shows progress", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        self.assertEqual(shlex.split(m.group(2)), ["otd", "collect", d])
        job = m.group(1)
        self.jobs.append(job)
        recs = self.slurm.wait_job(job)
        self.assertEqual([r["JobState"] for r in recs], ["COMPLETED"], recs)
        self.assertEqual(os.listdir(os.path.join(d, "logs")), ["%s_0.out" % job])
        self.assertIn("point 0: ", self.slurp(os.path.join(d, "logs", "%s_0.out" % job)))
        self.otd(["collect", d])
        self.assertEqual(sorted(os.listdir(cwd)), sorted([name, "sweep.yaml"]))
        for root, dirs, files in os.walk(self.tmp):
            self.assertNotIn("y", dirs + files, root)

    def test_failed_points_rerun(self):
        # model.m = -1 is invalid; the m = 10 point runs long enough (8e6
        # steps, a checkpoint every 1e5) to be killed mid-run.
        long_point = "points:\n  - {model.m: 10, run.seed: 0, algo.max_iters: 8000000, " \
                     "run.checkpoint_every: 100000}\n"
        spec = self.write("sweep.yaml", SWEEP % ("[6, -1]", "[0]", long_point, 1))
        d = self.out("sw")
        p = self.otd(["sweep", spec, "--out", d, "--submit"])
        self.assertIn("model.m = -1", p.stderr + p.stdout)
        job = self.submitted(d)[-1]
        self.jobs.append(job)
        # Find the long point's array task, wait for its first checkpoint
        # after iteration 0, then kill its otd process (SIGKILL, as the OOM
        # killer or a failing node would: no chance to checkpoint).
        with open(os.path.join(d, "manifest.tsv")) as f:
            hdr = f.readline().rstrip("\n").split("\t")
            man = [dict(zip(hdr, line.rstrip("\n").split("\t"))) for line in f]
        long_row = [r for r in man if r["model.m"] == "10"][0]
        ck = os.path.join(d, long_row["rundir"], "checkpoints")

        def checkpointed():
            return os.path.isdir(ck) and len([n for n in os.listdir(ck)
                                              if n.endswith(".h5")]) >= 2
        self.slurm.wait_for(checkpointed, 240, "a second checkpoint in " + ck)
        config = os.path.join(d, long_row["config"])
        victims = [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                   if config.encode() in cmdline(pid) and exe(pid) == os.path.realpath(OTD)]
        self.assertEqual(len(victims), 1, "otd processes of %s: %s" % (config, victims))
        os.kill(victims[0], signal.SIGKILL)
        recs = self.slurm.wait_job(job)
        states = {r["ArrayTaskId"]: r["JobState"] for r in recs}
        self.assertEqual(len(states), 3, recs)
        ok_row = [r for r in man if r["model.m"] == "6"][0]
        done_h5 = os.path.join(d, ok_row["rundir"], "results.h5")
        before = (os.path.getmtime(done_h5), sha(done_h5))
        p = self.otd(["collect", d], ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("1 done", p.stdout)
        self.assertIn("2 failed", p.stdout)
        self.assertIn("model.m = -1", p.stdout)
        self.assertIn("interrupted at iteration", p.stdout)
        rerun = [l.strip() for l in p.stdout.splitlines() if "--unfinished" in l]
        self.assertEqual(len(rerun), 1, p.stdout)
        self.assertTrue(rerun[0].endswith("--unfinished --submit"), rerun)
        # The user fixes the invalid value and runs the printed command.
        self.write("sweep.yaml", SWEEP % ("[6, 4]", "[0]", long_point, 1))
        args = shlex.split(rerun[0])
        self.assertEqual(args[0], OTD)
        self.otd(args[1:])
        self.assertEqual(len(self.submitted(d)), 2)
        recs = self.wait_sweep(d)
        self.assertEqual(len(recs), 2, recs)  # only the two unfinished points
        p = self.otd(["collect", d])
        self.assertIn("3 done", p.stdout)
        long_log = self.slurp(os.path.join(d, "logs", "%s_%s.out" % (
            self.submitted(d)[-1], long_row["index"])))
        self.assertRegex(long_log, r"resuming at iteration [1-9]")
        self.assertEqual((os.path.getmtime(done_h5), sha(done_h5)), before)
        res = read(os.path.join(d, long_row["rundir"], "results.h5"))
        self.assertEqual(res["summary"]["iters"], 8000000)


if __name__ == "__main__":
    unittest.main()
