"""One run, one call: several runs made through the library's run call in
one process (tests/tools/run_many.c), some at the same time on the two
halves of MPI_COMM_WORLD (MPI_Comm_split), each equal bitwise to `otd run`
of the same configuration at the same rank count: final W, every history
column but wall time, and every /summary value that is not a timing."""
import os
import unittest

import numpy as np

from otdtest import MPIEXEC, TmpTestCase, read, run, run_command

RUN_MANY = os.environ.get("OTD_RUN_MANY", "otd_run_many")

# Values that measure time, not the computation.
TIMINGS = {"wall_time", "wall_seconds", "steps_per_s", "lazy_seconds", "lazy_gflops"}

SMALL = ["problem.dim=7", "problem.rank=2", "run.log_every=5"]
POINTS = {
    # name: (sets, group at P = 4)
    "gd": (SMALL + ["algo.name=gd", "model.m=4", "algo.max_iters=150"], 0),
    "bl": (SMALL + ["algo.name=bl", "model.m=6", "algo.max_iters=300", "algo.epoch_len=40",
                    "algo.lr=0.05"], 0),
    "lazy_opt": (SMALL + ["algo.name=lazy_opt", "model.m=5"], 1),
    "lazy_gd": (SMALL + ["algo.name=lazy_gd", "model.m=5", "algo.max_iters=100"], 1),
    "scaled": (SMALL + ["algo.name=lazy_gd", "model.m=3", "algo.lazy_alpha=10",
                        "algo.max_iters=60"], 1),
    "dense": (SMALL + ["algo.name=gd", "engine=dense", "model.m=4", "algo.max_iters=80"], "all"),
}


class RunCall(TmpTestCase):
    def assertSameRun(self, got_path, want_path, what):
        got, want = read(got_path), read(want_path)
        self.assertTrue(np.array_equal(got["final/W"], want["final/W"]), what)
        self.assertTrue(np.array_equal(got["init/W"], want["init/W"]), what)
        self.assertEqual(sorted(got["history"]), sorted(want["history"]), what)
        for k, v in want["history"].items():
            if k not in TIMINGS:
                self.assertTrue(np.array_equal(got["history"][k], v, equal_nan=True),
                                "%s: history %s" % (what, k))
        self.assertEqual(sorted(got["summary"]), sorted(want["summary"]), what)
        for k, v in want["summary"].items():
            if k not in TIMINGS:
                self.assertEqual(got["summary"][k], v, "%s: summary %s" % (what, k))
        self.assertEqual(got["attrs"]["config"], want["attrs"]["config"], what)

    def reference(self, name, sets, nranks):
        out = self.out("ref-%s-P%d" % (name, nranks))
        args = ["run", "--out", out]
        for s in sets:
            args += ["--set", s]
        self.assertOk(run(args, nranks))
        return os.path.join(out, "results.h5")

    def run_many(self, nranks, groups, points):
        cmd = [MPIEXEC, "-n", str(nranks), RUN_MANY, "--groups", str(groups)]
        for name, (sets, group) in points.items():
            cmd += ["@%s" % group, self.out("many-%s" % name)] + sets
        proc = run_command(cmd)
        self.assertOk(proc)
        return proc

    def test_split_halves_at_p4(self):
        """P = 4 split in two groups of 2 running different points at the
        same time, then one point on all four: each equals `otd run`."""
        proc = self.run_many(4, 2, POINTS)
        for name, (sets, group) in POINTS.items():
            self.assertIn("point %s: " % self.out("many-" + name), proc.stdout)
            nranks = 4 if group == "all" else 2
            self.assertSameRun(os.path.join(self.out("many-" + name), "results.h5"),
                               self.reference(name, sets, nranks), name)

    def test_sequential_in_one_rank(self):
        """P = 1: several runs one after another in one process, and a
        finished one asked again (nothing to do, same status)."""
        points = {k: (v[0], 0) for k, v in POINTS.items() if k in ("gd", "bl", "lazy_opt")}
        points["gd-again"] = (POINTS["gd"][0], 0)
        cmd = [MPIEXEC, "-n", "1", RUN_MANY, "--groups", "1"]
        for name, (sets, _) in points.items():
            d = self.out("many-" + ("gd" if name == "gd-again" else name))
            cmd += ["@0", d] + sets
        proc = run_command(cmd)
        self.assertOk(proc)
        self.assertIn("is complete (status max_iters): nothing to do", proc.stdout)
        for name in ("gd", "bl", "lazy_opt"):
            self.assertSameRun(os.path.join(self.out("many-" + name), "results.h5"),
                               self.reference(name, POINTS[name][0], 1), name)

    def test_failing_point_does_not_stop_the_others(self):
        """A point whose configuration is refused is reported; the others run."""
        points = {"bad": (["model.m=0"], 0), "gd": (POINTS["gd"][0], 0)}
        cmd = [MPIEXEC, "-n", "1", RUN_MANY, "--groups", "1"]
        for name, (sets, _) in points.items():
            cmd += ["@0", self.out("many-" + name)] + sets
        proc = run_command(cmd)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("model.m = 0", proc.stdout)
        self.assertIn("point %s: max_iters" % self.out("many-gd"), proc.stdout)


if __name__ == "__main__":
    unittest.main()
