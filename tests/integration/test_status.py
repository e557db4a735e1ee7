"""One status mapping, three readers: for runs that converged, spent their
budget, solved (lazy_opt), went non-finite, were checkpointed on a signal and
were killed, `otd run`'s exit status, `otd collect`'s verdict, `otd info`'s
/summary and the Python loader (analysis/otd_sweep.py on a run directory
alone) all agree with the one table of include/otd/otd_status.h."""
import csv
import os
import signal
import subprocess
import sys
import time
import unittest

import yaml

from otdtest import MPIEXEC, OTD, SOURCE, TmpTestCase, kill_session, run_command, run_serial

sys.path.insert(0, os.path.join(SOURCE, "analysis"))
from otd_sweep import load_sweep  # noqa: E402

BASE = "problem: {order: 3, dim: 6, rank: 2}\nmodel: {m: 4, init_scale: 1}\nalgo.name: gd\n"
LONG = "algo.target_rel_err: 0, algo.max_iters: 100000000, run.checkpoint_every: 1000000"

# seed: (name, point values, otd run's exit status, collect's status, its reason,
#        /summary outcome)
POINTS = {
    0: ("converged", "algo.target_rel_err: 0.99", 0, "done", "", "done"),
    1: ("budget", "algo.target_rel_err: 0, algo.max_iters: 30", 0, "done", "", "done"),
    2: ("solved", "algo.name: lazy_opt", 0, "done", "", "done"),
    3: ("nonfinite", "algo.lr: 1e6, algo.max_iters: 100", 3, "failed", "nonfinite", "failed"),
    4: ("signal", LONG, 75, "failed", "interrupted at iteration", "unfinished"),
    5: ("killed", LONG, None, "failed", "interrupted at iteration", "unfinished"),
}

WAIT = 120  # a hang guard, not a bound


class Status(TmpTestCase):
    def make_sweep(self):
        with open(self.out("base.yaml"), "w") as f:
            f.write(BASE)
        with open(self.out("sweep.yaml"), "w") as f:
            f.write("name: status\nbase: base.yaml\nset:\n  run.log_every: 10\npoints:\n")
            for seed, (_, values, *_r) in POINTS.items():
                f.write("  - {run.seed: %d, %s}\n" % (seed, values))
        sw = self.out("sw")
        proc = run_command([OTD, "sweep", self.out("sweep.yaml"), "--out", sw])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(os.path.join(sw, "manifest.tsv")) as f:
            rows = [line.rstrip("\n").split("\t") for line in f]
        points = {}
        for r in (dict(zip(rows[0], r)) for r in rows[1:]):
            with open(os.path.join(sw, r["config"])) as f:
                seed = yaml.safe_load(f)["run"]["seed"]
            points[seed] = r
        self.assertEqual(sorted(points), sorted(POINTS))
        return sw, points

    def wait_stepping(self, d):
        """Until the run has committed its iteration-0 checkpoint, and a
        moment more: it is stepping."""
        t0 = time.time()
        while not os.path.exists(os.path.join(d, "checkpoints", "ckpt-000000000000.h5")):
            if time.time() - t0 > WAIT:
                self.fail("%s never started" % d)
            time.sleep(0.1)
        time.sleep(1.0)

    def test_every_reader_agrees(self):
        sw, points = self.make_sweep()
        for seed, (name, _, code, _, _, _) in POINTS.items():
            row = points[seed]
            d = os.path.join(sw, row["rundir"])
            proc = subprocess.Popen([MPIEXEC, "-n", "2", OTD, "run", os.path.join(sw, row["config"]),
                                     "--out", d], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True)
            if code is None or code == 75:
                self.wait_stepping(d)
                if code == 75:
                    os.killpg(proc.pid, signal.SIGUSR1)
                else:
                    kill_session(proc.pid)
            out, err = proc.communicate(timeout=WAIT)
            if code is not None:
                self.assertEqual(proc.returncode, code, "%s: %s%s" % (name, out, err))
        proc = run_command([OTD, "collect", sw])
        with open(os.path.join(sw, "summary.csv")) as f:
            got = {row["name"]: row for row in csv.DictReader(f)}
        for seed, (name, _, _, want, reason, outcome) in POINTS.items():
            row = points[seed]
            d = os.path.join(sw, row["rundir"])
            c = got[row["name"]]
            self.assertEqual(c["status"], want, "%s\n%s" % (name, proc.stdout))
            self.assertIn(reason, c["reason"], name)
            py = load_sweep(d).rows[0]
            self.assertEqual(py["status"], c["status"], name)
            self.assertEqual(py["reason"] or "", c["reason"], name)
            info = run_serial(["info", os.path.join(d, "results.h5")])
            self.assertEqual(info.returncode, 0, info.stderr)
            self.assertRegex(info.stdout, r"outcome\W+%s\b" % outcome, name)


if __name__ == "__main__":
    unittest.main()
