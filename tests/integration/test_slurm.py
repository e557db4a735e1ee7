"""The Slurm job scripts (jobs/slurm/) against a real slurmctld + slurmd on
localhost (slurmtest.Slurm: one private cluster for this whole file).

Every single-node real-Slurm test lives in this one file, the two-node ones
in test_multinode.py; CTest runs the two files one at a time (RESOURCE_LOCK
in tests/CMakeLists.txt), so that two test clusters never share the cores.

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
  - `otd sweep --submit` packs 40 small points (ranks 1 and 2 mixed) into
    at most 4 jobs (one sbatch submission and one script per job), each
    running `otd sweep-run DIR --share FILE` over its 2 ranks with srun
    --mpi=pmix: every point ends done, recorded with its job, a few
    compared bitwise with `otd run` at their rank count; the sweep file's
    `setup` lines are in every script and run once per job; the sweep
    directory is named with $( ), quotes and Slurm's % patterns, jobs/
    lies under a path with a space, and Slurm reads --output as written;
    after a point is lost, the rerun command of `otd collect` (with the same
    job options) packs only that point into a new job and completes it,
    leaving the other results untouched;
  - the warning signal to a packed job: both of its groups checkpoint their
    points, the job exits 75, requeues itself, resumes both points from
    their checkpoints and runs the rest; results bitwise equal to `otd run`.

Nothing depends on speed. Signalled runs have an unreachable step budget
(max_iters 2e9, target_rel_err 0): they are signalled once their first
checkpoint exists (otd installs its handlers before), so they are surely
running; and they end only through the signal. A requeue test holds the job
before signalling it: a held job keeps running, and once requeued it stays
pending until released, which leaves time to shorten max_iters in its
config (a key otd allows to change on resume) so that the rerun finishes.
Every wait is bounded by a generous timeout that fails the test."""
import hashlib
import json
import os
import re
import shlex
import shutil
import unittest

from otdtest import OTD, read, run, run_command
from slurmtest import CHECKPOINTED, ENDLESS, JOBS, Slurm, SlurmCase


def setUpModule():
    # Fails (never skips) with the reason when Slurm cannot be started.
    SlurmCase.cluster = Slurm(cpus=4).start()


def tearDownModule():
    if SlurmCase.cluster is not None:
        SlurmCase.cluster.stop()


def config_text(max_iters, seed=0):
    """A tiny gd problem (d = 10, m = 12): ~1e5 steps/s per rank pair."""
    return ("algo.name: gd\nmodel.init_scale: 1\nalgo.target_rel_err: 0\n"
            "algo.max_iters: %d\nrun.seed: %d\nrun.log_every: 100\n"
            "run.progress_seconds: 1\n" % (max_iters, seed))



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


# A sweep of small points: 2 x 10 x 2 = 40 (ranks 1 and 2 mixed).
SWEEP = """name: slurm-test
set:
  algo.name: gd
  model.init_scale: 1
  problem.dim: 8
  algo.target_rel_err: 0
  algo.max_iters: 2000
  run.log_every: 100
grid:
  model.m: [6, 12]
  run.seed: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
  ranks: [1, 2]
%s"""


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class TestSweepSubmit(SlurmCase):
    """`otd sweep --submit`: points packed into a few jobs, each running
    `otd sweep-run DIR --share FILE` over its allocation."""

    def test_packed_submit_equals_run(self):
        # 40 small points, ranks 1 and 2, into a sweep directory whose name
        # a shell or Slurm would act on ($( ), quotes, %j, %%), from a
        # working directory with spaces and non-ASCII, with jobs/ under a
        # path with a space; a `setup` line that records each job.
        cwd = self.out("dir with space/\u00fcn\u00ef")
        jobs = self.out("jobs dir \u00fc")
        shutil.copytree(JOBS, jobs)
        name = "sw $(touch y) 'q' \"d\" %j %% \u00fc"
        d = os.path.join(cwd, name)
        setup = 'echo "setup ran in $SLURM_JOB_ID" >> setup-marker.txt'
        self.write(os.path.join(cwd, "sweep.yaml"),
                   SWEEP % ("setup: [%s, 'export OTD_SETUP_SEEN=1']\n" % json.dumps(setup)))
        p = self.otd(["sweep", "sweep.yaml", "--out", name, "--submit", "--ntasks", "2",
                      "--sbatch", "--comment=a b #c"], cwd=cwd, jobs=jobs)
        m = re.search(r"slurm: 40 points in (\d+) jobs? of 1 node, 2 tasks, --time=01:00:00",
                      p.stdout)
        self.assertIsNotNone(m, p.stdout)
        njobs = int(m.group(1))
        sub = self.submitted(d)
        # The default packing: at most 4 jobs, one submission per job script.
        self.assertTrue(1 <= njobs <= 4, p.stdout)
        self.assertEqual(len(sub), njobs)
        self.assertEqual(sorted(s[1] for s in sub),
                         ["jobs/job-1-%d.sbatch" % k for k in range(njobs)])
        self.assertEqual(sorted(f for f in os.listdir(os.path.join(d, "jobs"))
                                if f.endswith(".sbatch")),
                         ["job-1-%d.sbatch" % k for k in range(njobs)])
        recs = self.wait_all(d)
        for r in recs:
            self.assertEqual(r["JobState"], "COMPLETED", (r, self.slurp(os.path.join(
                d, "jobs", "job-1-0.out"))))
        # The shares: every point in exactly one; each job's own files.
        shares = [self.slurp(os.path.join(d, "jobs", "job-1-%d.points" % k)).split()
                  for k in range(njobs)]
        rows = self.manifest(d)
        self.assertEqual(sorted(sum(shares, [])), sorted(r["name"] for r in rows))
        self.assertEqual(sorted(os.listdir(os.path.join(d, "jobs"))),
                         sorted("job-1-%d.%s" % (k, e) for k in range(njobs)
                                for e in ("sbatch", "points", "out", "exit")))
        for k, (job, _) in enumerate(sub):
            st = self.status_lines(os.path.join(d, "jobs", "job-1-%d.exit" % k))
            self.assertEqual([(s[1], s[3]) for s in st], [("0", job)])
            log = self.slurp(os.path.join(d, "jobs", "job-1-%d.out" % k))
            self.assertIn("srun --mpi=pmix", log)
            self.assertIn("sweep-run", log)
        # The script: the setup lines as written, the options one word each.
        script = self.slurp(os.path.join(d, "jobs", "job-1-0.sbatch")).splitlines()
        self.assertIn(setup, script)
        self.assertIn("#SBATCH --ntasks=2", script)
        opts = [shlex.split(l[len("#SBATCH "):]) for l in script if l.startswith("#SBATCH ")]
        self.assertEqual([o for o in opts if o[0].startswith("--comment")],
                         [["--comment=a b #c"]])
        self.assertEqual(shlex.split([l for l in script if l.startswith("#SBATCH --output")][0]
                                     [len("#SBATCH "):]),
                         ["--output=%s/jobs/job-1-0.out" % d.replace("%", "%%")])
        # The setup line ran once in each job, before otd (in the submit directory).
        self.assertEqual(sorted(self.slurp(os.path.join(cwd, "setup-marker.txt")).splitlines()),
                         sorted("setup ran in %s" % job for job, _ in sub))
        p = self.otd(["collect", d])
        self.assertIn("40 done", p.stdout)
        # Every point done once, recorded with its job; a few bitwise equal
        # to `otd run` of the same config at the same rank count.
        by_share = {n: sub[k][0] for k, names in enumerate(shares) for n in names}
        for r in rows:
            st = self.status_lines(os.path.join(d, "tasks", r["name"] + ".exit"))
            self.assertEqual([(s[1], s[3]) for s in st], [("0", by_share[r["name"]])])
        for r in [r for r in rows if r["run.seed"] == "3"]:
            ref = self.out("ref-" + r["name"])
            self.assertOk(run(["run", os.path.join(d, r["config"]), "--out", ref],
                              nranks=int(r["ranks"])))
            got = os.path.join(d, r["rundir"], "results.h5")
            self.assertSameRun(got, os.path.join(ref, "results.h5"))
            self.assertEqual(int(read(got)["attrs"]["nranks"]), int(r["ranks"]))

        # A point lost: collect's rerun command resubmits only it, with the
        # same job options, as a new submission (job-2-0) of one job.
        lost = rows[5]
        done = {r["name"]: sha(os.path.join(d, r["rundir"], "results.h5")) for r in rows
                if r is not lost}
        shutil.rmtree(os.path.join(d, lost["rundir"]))
        os.remove(os.path.join(d, "tasks", lost["name"] + ".exit"))
        p = self.otd(["collect", d], ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        rerun = p.stdout.splitlines()[-1].strip()
        self.assertEqual(shlex.split(rerun)[1:], ["sweep",
                                                  os.path.realpath(os.path.join(cwd, "sweep.yaml")),
                                                  "--out", os.path.realpath(d), "--unfinished",
                                                  "--submit",
                                                  "--ntasks", "2", "--sbatch",
                                                  "--comment=a b #c"])
        r = run_command(["bash", "-c", rerun], env=dict(self.slurm.env, OTD_JOBS_DIR=jobs),
                        cwd=self.tmp, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("slurm: 1 point in 1 job", r.stdout)
        self.assertEqual(self.submitted(d)[-1][1], "jobs/job-2-0.sbatch")
        self.assertEqual(self.slurp(os.path.join(d, "jobs", "job-2-0.points")),
                         lost["name"] + "\n")
        recs = self.wait_all(d)
        self.assertTrue(all(r["JobState"] == "COMPLETED" for r in recs), recs)
        self.otd(["collect", d])
        self.assertEqual({r["name"]: sha(os.path.join(d, r["rundir"], "results.h5"))
                          for r in rows if r is not lost}, done)
        self.assertSameRun(os.path.join(d, lost["rundir"], "results.h5"),
                           self.reference(os.path.join(d, lost["config"]), "ref-lost",
                                          nranks=int(lost["ranks"])))
        # Nothing a shell or Slurm could have made of the name.
        self.assertEqual(sorted(os.listdir(cwd)), sorted([name, "sweep.yaml",
                                                          "setup-marker.txt"]))
        for root, dirs, files in os.walk(self.tmp):
            self.assertNotIn("y", dirs + files, root)

    def test_warning_signal_requeues_packed_job(self):
        # Two endless points (they end only through the signal; gflops
        # makes the estimate small enough to share) and four small ones in
        # one job of 2 ranks: both groups run an endless point.
        endless = "points:\n  - {model.m: 6, run.seed: 100, algo.max_iters: %d}\n" \
                  "  - {model.m: 6, run.seed: 101, algo.max_iters: %d}\n" % (ENDLESS, ENDLESS)
        spec = self.write("sweep.yaml", SWEEP.replace("[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]", "[0, 1]")
                          .replace("  ranks: [1, 2]\n", "") % (endless + "gflops: 1000\n"))
        d = self.out("sw")
        p = self.otd(["sweep", spec, "--out", d, "--submit", "--ntasks", "2", "--jobs", "1"])
        self.assertIn("slurm: 6 points in 1 job of 1 node, 2 tasks", p.stdout)
        (job, _), = self.submitted(d)
        self.jobs.append(job)
        log = os.path.join(d, "jobs", "job-1-0.out")
        rows = self.manifest(d)
        long_rows = [r for r in rows if r["run.seed"] in ("100", "101")]
        self.assertEqual(len(long_rows), 2)
        for r in long_rows:
            self.wait_checkpoint(os.path.join(d, r["rundir"]), job, log)
        self.requeue_on_warning(d, job, log, long_rows, ndone=6)
        for r in long_rows:
            self.assertSameRun(os.path.join(d, r["rundir"], "results.h5"),
                               self.reference(os.path.join(d, r["config"]), "ref-" + r["name"],
                                              nranks=1))
        small = [r for r in rows if r not in long_rows][0]
        self.assertSameRun(os.path.join(d, small["rundir"], "results.h5"),
                           self.reference(os.path.join(d, small["config"]), "ref-small",
                                          nranks=1))


if __name__ == "__main__":
    unittest.main()
