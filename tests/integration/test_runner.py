"""Sweeps inside one MPI job (`otd sweep --local N` = one `mpirun -n N otd
sweep-run DIR`): points of 1 and 2 ranks mixed in one job of 4 ranks, each
bitwise equal to `otd run` of the same point at the same rank count, also
with the groups' counters kept in files (OTD_COUNTER=files); a
failing point (invalid value, non-finite) recorded while the others finish;
kill -9 of one rank mid-sweep, then a rerun that finishes every point with
results identical to uninterrupted runs; a signal that checkpoints every
group and exits 75; points of more ranks than the job recorded as failed."""
import csv
import os
import signal
import subprocess
import time
import unittest

import numpy as np
import yaml

from otdtest import MPIEXEC, OTD, TmpTestCase, kill_session, read, run, run_command, session_pids

BASE = {"problem": {"order": 3, "dim": 6, "rank": 2},
        "algo": {"name": "gd", "max_iters": 300, "target_rel_err": 0},
        "model.init_scale": 1, "run.log_every": 50}
TIMINGS = {"wall_time", "wall_seconds", "steps_per_s", "lazy_seconds", "lazy_gflops"}
WAIT = 120  # hang guards, not bounds


def otd(args, timeout=300, env=None):
    return run_command([OTD] + list(args), timeout=timeout, env=env)


class Runner(TmpTestCase):
    def make(self, name, points, grid=None, base=None):
        with open(self.out("base.yaml"), "w") as f:
            yaml.safe_dump(base or BASE, f)
        spec = {"name": name, "base": "base.yaml", "points": points}
        if grid:
            spec["grid"] = grid
        path = self.out(name + ".yaml")
        with open(path, "w") as f:
            yaml.safe_dump(spec, f)
        return path

    def manifest(self, d):
        with open(os.path.join(d, "manifest.tsv")) as f:
            return list(csv.DictReader(f, delimiter="\t"))

    def assertSameAsRun(self, d, row):
        """The point's results equal `otd run` of its config at its ranks."""
        ref = self.out("ref-" + row["name"])
        self.assertOk(run(["run", os.path.join(d, row["config"]), "--out", ref],
                          int(row["ranks"])))
        got, want = read(os.path.join(d, row["rundir"], "results.h5")), \
            read(os.path.join(ref, "results.h5"))
        what = "%s (%s ranks)" % (row["name"], row["ranks"])
        self.assertTrue(np.array_equal(got["final/W"], want["final/W"]), what)
        for k, v in want["history"].items():
            if k not in TIMINGS:
                self.assertTrue(np.array_equal(got["history"][k], v, equal_nan=True),
                                "%s: history %s" % (what, k))
        for k, v in want["summary"].items():
            if k not in TIMINGS:
                self.assertEqual(got["summary"][k], v, "%s: summary %s" % (what, k))

    def test_mixed_ranks_bitwise(self):
        """1- and 2-rank points in one job of 4 ranks: each equals otd run."""
        proc = self.mixed()
        self.assertNotIn("counter files", proc.stdout)

    def test_file_counters(self):
        """The same with the groups' counters kept in files (OTD_COUNTER=files;
        what Open MPI over TCP gets across nodes, test_multinode.py): the
        same results, each point run once, and the counters' files gone."""
        proc = self.mixed(env={"OTD_COUNTER": "files"})
        self.assertIn("sweep-run: the groups take points through counter files in %s/counters/"
                      % self.out("sw"), proc.stdout)
        self.assertFalse(os.path.exists(self.out("sw/counters")))

    def mixed(self, env=None):
        spec = self.make("mixed", [{"model.m": 7, "ranks": 2},
                                   {"model.m": 8, "ranks": 2, "algo.name": "lazy_opt"},
                                   {"model.m": 9, "ranks": 2, "algo.name": "bl"}],
                         grid={"model.m": [4, 5], "run.seed": [0, 1, 2]})
        d = self.out("sw")
        proc = otd(["sweep", spec, "--out", d, "--local", "4"], env=env)
        self.assertOk(proc)
        self.assertIn("9 of 9 points done", proc.stdout)
        self.assertIn("sweep-run: 9 points", proc.stdout)
        rows = self.manifest(d)
        self.assertEqual(sorted(r["ranks"] for r in rows), ["1"] * 6 + ["2"] * 3)
        # one job: no per-point launch logs, one run log per point
        logs = os.listdir(os.path.join(d, "logs"))
        self.assertEqual(sorted(l for l in logs if l.startswith("run-")),
                         sorted("run-%s.out" % r["name"] for r in rows))
        self.assertFalse([l for l in logs if l.startswith("local-")])
        for r in rows:
            with open(os.path.join(d, "tasks", r["name"] + ".exit")) as f:
                attempts = f.read().splitlines()
            self.assertEqual([a.split()[1] for a in attempts], ["0"], r["name"])  # once
            self.assertSameAsRun(d, r)
        col = otd(["collect", d])
        self.assertOk(col)
        self.assertIn("9 points: 9 done", col.stdout)
        return proc

    def test_failing_points_stay_local(self):
        """An invalid point, a non-finite one and one of 8 ranks in a job of
        2 are recorded with their exit status; the others finish."""
        spec = self.make("fail", [{"model.m": 0}, {"algo.lr": 1e6, "model.m": 4},
                                  {"model.m": 5, "ranks": 8}, {"model.m": 6}, {"model.m": 7}])
        d = self.out("sw")
        proc = otd(["sweep", spec, "--out", d, "--local", "2"])
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("2 of 5 points done", proc.stdout)
        codes = {}
        for r in self.manifest(d):
            with open(os.path.join(d, "tasks", r["name"] + ".exit")) as f:
                codes[r["name"]] = int(f.read().split()[1])
        by = {r["name"]: r for r in self.manifest(d)}
        invalid = [n for n, r in by.items() if r["status"] == "invalid"][0]
        self.assertEqual(codes[invalid], 2)
        self.assertEqual(sorted(codes.values()), [0, 0, 2, 2, 3])
        big = [n for n, r in by.items() if r["ranks"] == "8"][0]
        with open(os.path.join(d, "logs", "run-%s.out" % big)) as f:
            self.assertIn("needs 8 ranks; this job has 2", f.read())
        with open(os.path.join(d, "logs", "run-%s.out" % invalid)) as f:
            self.assertIn("model.m = 0", f.read())
        col = otd(["collect", d])
        self.assertIn("2 done, 0 running, 3 failed", col.stdout)
        self.assertIn("nonfinite", col.stdout)

    def long_sweep(self):
        base = dict(BASE, algo={"name": "gd", "max_iters": 60000, "target_rel_err": 0})
        base["run.checkpoint_every"] = 5000
        return self.make("long", [{"run.seed": s} for s in range(4)], base=base)

    def wait_checkpoint(self, d, n=1):
        """Until n points have a checkpoint beyond iteration 0."""
        t0 = time.time()
        while time.time() - t0 < WAIT:
            k = 0
            for root, _, files in os.walk(os.path.join(d, "runs")):
                k += any(f.startswith("ckpt-") and not f.startswith("ckpt-000000000000")
                         and f.endswith(".h5") for f in files)
            if k >= n:
                return
            time.sleep(0.05)
        self.fail("no checkpoint beyond 0 in %s" % d)

    def test_kill_one_rank_then_rerun(self):
        """kill -9 of one rank mid-sweep ends the job; the rerun finishes
        every point, each identical to an uninterrupted otd run."""
        spec = self.long_sweep()
        d = self.out("sw")
        self.assertOk(otd(["sweep", spec, "--out", d]))
        p = subprocess.Popen([MPIEXEC, "-n", "2", OTD, "sweep-run", d], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.wait_checkpoint(d)
        ranks = [pid for pid in session_pids(p.pid) if pid != p.pid
                 and "sweep-run" in open("/proc/%d/cmdline" % pid).read()]
        self.assertTrue(ranks)
        os.kill(ranks[-1], signal.SIGKILL)
        try:
            p.communicate(timeout=WAIT)
        finally:
            kill_session(p.pid)
        self.assertNotEqual(p.returncode, 0)
        proc = otd(["sweep", spec, "--out", d, "--local", "2", "--unfinished"])
        self.assertOk(proc)
        self.assertIn("4 of 4 points done", proc.stdout)
        for r in self.manifest(d):
            self.assertSameAsRun(d, r)

    def test_signal_checkpoints_every_group(self):
        """SIGUSR1 to the job: each group checkpoints, no new point, exit 75;
        running it again completes with identical results."""
        spec = self.long_sweep()
        d = self.out("sw")
        self.assertOk(otd(["sweep", spec, "--out", d]))
        p = subprocess.Popen([MPIEXEC, "-n", "2", OTD, "sweep-run", d], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.wait_checkpoint(d, 2)
        os.killpg(p.pid, signal.SIGUSR1)
        try:
            out, err = p.communicate(timeout=WAIT)
        finally:
            kill_session(p.pid)
        self.assertEqual(p.returncode, 75, out + err)
        self.assertIn("stopped by a signal", out)
        codes = []
        for r in self.manifest(d):
            path = os.path.join(d, "tasks", r["name"] + ".exit")
            if os.path.exists(path):
                with open(path) as f:
                    codes += [int(line.split()[1]) for line in f]
        self.assertIn(75, codes)
        proc = otd(["sweep", spec, "--out", d, "--local", "2"])
        self.assertOk(proc)
        for r in self.manifest(d):
            self.assertSameAsRun(d, r)


if __name__ == "__main__":
    unittest.main()
