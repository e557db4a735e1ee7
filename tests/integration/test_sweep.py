"""`otd sweep` and `otd collect` with real processes: expansion of a sweep
file (stable names, merged duplicates, grid order, explicit points, invalid
points), bad sweep files, a local run of a tiny sweep compared bit for bit
with `otd run`, a point killed mid-run, and the rerun command `otd collect`
prints, which completes the failed points without touching the done ones.

Problems are tiny (gd, d = 6..8, m = 4..5, 200 steps); one point runs long
enough (a few seconds) to be killed after its first checkpoint."""
import csv
import hashlib
import os
import re
import shlex
import subprocess
import time
import unittest

import h5py
import numpy as np

from otdtest import MPIEXEC, OTD, TmpTestCase, kill_session, read, run, run_command

WAIT_TIMEOUT = 120  # waiting for the long point's first checkpoint (a hang guard, not a bound)

BASE = """\
problem:
  order: 3
  rank: 2
model.init_scale: 1
algo:
  name: gd
  max_iters: 200
  target_rel_err: 0
run.log_every: 50
"""

# The grid: problem.dim x model.m, last key fastest; a duplicate of a grid
# point and an invalid point among the explicit points.
SWEEP = """\
name: tiny
base: base.yaml
set:
  run.seed: 5
grid:
  problem.dim: [6, 8]
  model.m: [4, 5]
points:
  - {problem.dim: 6, model.m: 4}
  - {model.m: %s}
sbatch: ["--mem=1G"]
time: 00:10:00
%s"""

LONG_POINT = "  - {problem.dim: 7, algo.max_iters: 3000000, run.checkpoint_every: 20000}\n"


def otd(args, cwd=None, timeout=300):
    """`otd ARGS` as a plain process (sweep and collect are not MPI jobs)."""
    return run_command([OTD] + list(args), timeout=timeout, cwd=cwd)


def manifest(d):
    with open(os.path.join(d, "manifest.tsv")) as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def fingerprint(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return st.st_mtime_ns, hashlib.sha256(f.read()).hexdigest()


def tree_state(d):
    """mtime and hash of every file under d, except run directories."""
    out = {}
    for root, _, files in os.walk(d):
        if "/runs" in root[len(d):]:
            continue
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, d)] = fingerprint(p)
    return out


class SweepTest(TmpTestCase):

    def write(self, name, text):
        path = self.out(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def make_sweep(self, m_bad="-1", extra="", points_extra=""):
        self.write("base.yaml", BASE)
        text = SWEEP % (m_bad, extra)
        if points_extra:
            text = text.replace("sbatch:", points_extra + "sbatch:")
        return self.write("sweep.yaml", text)

    def assertRc(self, proc, rc):
        self.assertEqual(proc.returncode, rc, "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                         % (proc.returncode, rc, proc.stdout, proc.stderr))

    # ------------------------------------------------------------ expansion

    def test_expansion(self):
        sw = self.make_sweep()
        d1, d2 = self.out("d1"), self.out("d2")
        p = otd(["sweep", sw, "--out", d1, "--sbatch", "--partition=short", "--ntasks", "2"])
        self.assertRc(p, 0)
        self.assertIn("tiny: 5 points (1 duplicates merged, 1 invalid)", p.stdout)
        # The Slurm plan and the command that submits it; no job written yet.
        self.assertIn("slurm: 5 points in 1 job of 1 node, 2 tasks, --time=00:10:00", p.stdout)
        self.assertIn("submit: %s sweep %s --out %s --submit --sbatch --partition=short "
                      "--ntasks 2" % (os.path.realpath(OTD), os.path.realpath(sw), d1), p.stdout)
        self.assertEqual(os.listdir(os.path.join(d1, "jobs")), [])
        rows = manifest(d1)
        self.assertEqual([r["index"] for r in rows], ["0", "1", "2", "3", "4"])
        # Grid order: the last grid key varies fastest; the explicit points
        # follow, the duplicate of (6, 4) merged away.
        self.assertEqual([(r["problem.dim"], r["model.m"]) for r in rows],
                         [("6", "4"), ("6", "5"), ("8", "4"), ("8", "5"), ("", "-1")])
        self.assertEqual([r["status"] for r in rows], ["ok"] * 4 + ["invalid"])
        for r in rows:
            self.assertRegex(r["name"], r"^[A-Za-z0-9._+-]+-[0-9a-f]{10}$")
            self.assertEqual(r["config"], "configs/%s.yaml" % r["name"])
            self.assertEqual(r["rundir"], "runs/%s" % r["name"])
            self.assertTrue(os.path.isfile(os.path.join(d1, r["config"])))
        self.assertTrue(rows[0]["name"].startswith("dim6-m4-"))
        for sub in ("runs", "tasks", "logs", "configs", "jobs"):
            self.assertTrue(os.path.isdir(os.path.join(d1, sub)))
        with open(os.path.join(d1, "sweep.yaml")) as f, open(sw) as g:
            self.assertEqual(f.read(), g.read())

        # The invalid point: named, with key, value and allowed range.
        bad = rows[4]["name"]
        self.assertRegex(p.stderr, r"point 4 %s is invalid: model\.m = -1: out of range "
                         r"\(allowed: integer >= 1\)" % re.escape(bad))
        # Its config makes `otd run` fail at once with the same message.
        r = run(["run", os.path.join(d1, "configs", bad + ".yaml"), "--out", self.out("badrun")])
        self.assertRc(r, 2)
        self.assertIn("model.m = -1: out of range (allowed: integer >= 1)", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.out("badrun"), "results.h5")))

        # A second expansion elsewhere gives the same names; one into the same
        # directory rewrites nothing.
        self.assertRc(otd(["sweep", sw, "--out", d2]), 0)
        self.assertEqual([r["name"] for r in manifest(d2)], [r["name"] for r in rows])
        before = tree_state(d1)
        time.sleep(0.01)
        self.assertRc(otd(["sweep", sw, "--out", d1, "--sbatch", "--partition=short",
                           "--ntasks", "2"]), 0)
        self.assertEqual(tree_state(d1), before)

        # --dry-run writes nothing.
        d3 = self.out("d3")
        p = otd(["sweep", sw, "--out", d3, "--dry-run"])
        self.assertRc(p, 0)
        self.assertIn("4 %s (invalid)" % bad, p.stdout)
        self.assertFalse(os.path.exists(d3))

    def test_bad_sweep_files(self):
        self.write("base.yaml", BASE)
        cases = [
            ("name: x\nbase: base.yaml\ngrids:\n  model.m: [4]\n",
             r"sweep\.yaml:3:1: unknown sweep key 'grids'"),
            ("base: nothere.yaml\ngrid:\n  model.m: [4]\n",
             r"base 'nothere\.yaml': cannot open base config '\S*nothere\.yaml'"),
            ("base: base.yaml\ngrid:\n  model.m: []\n",
             r"grid key model\.m: expected a non-empty list"),
            ("base: base.yaml\ngrid:\n  model.mm: [4, 5]\n",
             r"unknown key 'model\.mm' .*did you mean 'model\.m'"),
            ("base: base.yaml\ngrid: {}\n", r"grid must map configuration keys to lists"),
            ("base: base.yaml\nset:\n  algo.lrr: 1\n", r"unknown key 'algo\.lrr'"),
            ("base: base.yaml\nranks: 0\n", r"ranks = '0': expected an integer >= 1"),
            ("grid: [1, 2\n", r"sweep\.yaml:\d+:\d+: YAML syntax error"),
        ]
        for text, msg in cases:
            with self.subTest(text=text):
                sw = self.write("sweep.yaml", text)
                d = self.out("dir")
                p = otd(["sweep", sw, "--out", d])
                self.assertRc(p, 2)
                self.assertRegex(p.stderr, msg)
                self.assertFalse(os.path.exists(d), "something was written for a bad file")
        self.assertRc(otd(["sweep", "--out", self.out("x")]), 2)
        self.assertRc(otd(["sweep", self.out("sweep.yaml")]), 2)

    def test_help(self):
        for cmd in ("sweep", "collect"):
            p = otd([cmd, "--help"])
            self.assertRc(p, 0)
            self.assertIn("usage: otd %s" % cmd, p.stdout)
            self.assertIn("Exit status", p.stdout)
        p = otd(["--help"])
        self.assertIn("otd sweep FILE --out DIR", p.stdout)
        self.assertIn("otd collect DIR", p.stdout)
        self.assertRc(otd(["collect", self.out("nope")]), 2)

    # ------------------------------------------------ packing into jobs

    def plan(self, p):
        """(number of jobs, [(points, ntasks, time, estimate, own)]) of the plan."""
        m = re.search(r"^slurm: \d+ points? in (\d+) jobs? ", p.stdout, re.M)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        jobs = [(int(n), int(t), tl, float(e), own != "")
                for n, t, tl, e, own in re.findall(
                    r"^  job \d+: (\d+) points?, \d+ nodes?, (\d+) tasks?, --time=(\S+), "
                    r"estimated (\S+) s( \(too large to share\))?$", p.stdout, re.M)]
        return int(m.group(1)), jobs

    def test_packing(self):
        # Small points (d = 8, m = 12, 2000 steps): 40 need at most 4 jobs,
        # 1,000 at most 10 (issue 13); by default as few as fit in time.
        self.write("base.yaml", BASE.replace("max_iters: 200", "max_iters: 2000"))
        for n, most in ((40, 4), (1000, 10)):
            sw = self.write("p%d.yaml" % n, "base: base.yaml\nset: {problem.dim: 8, model.m: 12}"
                            "\ngrid:\n  run.seed: [%s]\n" % ", ".join(map(str, range(n))))
            p = otd(["sweep", sw, "--out", self.out("p%d" % n), "--dry-run"])
            self.assertRc(p, 0)
            njobs, jobs = self.plan(p)
            self.assertLessEqual(njobs, most)
            self.assertEqual(sum(j[0] for j in jobs), n)
        # Twelve points at an assumed 100 kFLOP/s per rank (about 10 s
        # each) into jobs of 2 ranks and 2 minutes (60 s for points): the
        # fewest jobs whose estimates fit, balanced; a point of 4 ranks
        # (more than --ntasks) and one far longer than a job get jobs of
        # their own, sized from them.
        sw = self.write("big.yaml", "base: base.yaml\nset: {algo.max_iters: 200}\ngflops: 1e-4\n"
                        "grid:\n  run.seed: [%s]\npoints:\n  - {run.seed: 99, ranks: 4}\n"
                        "  - {run.seed: 98, algo.max_iters: 200000}\n"
                        % ", ".join(map(str, range(12))))
        args = ["sweep", sw, "--out", self.out("big"), "--dry-run", "--time", "2", "--ntasks", "2"]
        p = otd(args)
        self.assertRc(p, 0)
        njobs, jobs = self.plan(p)
        shared = [j for j in jobs if not j[4]]
        own = sorted([j for j in jobs if j[4]], key=lambda j: j[1])
        self.assertEqual(njobs, len(jobs))
        self.assertEqual(sum(j[0] for j in shared), 12)
        self.assertGreater(len(shared), 1, p.stdout)
        self.assertTrue(all(j[1] == 2 and j[2] == "00:02:00" and j[3] <= 60 for j in shared),
                        p.stdout)
        self.assertLessEqual(max(j[0] for j in shared) - min(j[0] for j in shared), 1)
        # One job fewer would not fit.
        _, fewer = self.plan(otd(args + ["--jobs", str(len(shared) - 1)]))
        self.assertGreater(max(j[3] for j in fewer if not j[4]), 60)
        self.assertEqual([(j[0], j[1]) for j in own], [(1, 1), (1, 4)])
        self.assertRegex(p.stdout, r"job \d+: 1 point, 2 nodes, 4 tasks, ")
        self.assertGreater(own[0][3], 3600)  # the long point: its estimate ...
        h, mnt, sec = map(int, own[0][2].split(":"))
        self.assertGreaterEqual(3600 * h + 60 * mnt + sec, 2 * own[0][3])  # ... twice, as --time
        # --jobs K: K jobs share the points, whatever the estimate.
        njobs, jobs = self.plan(otd(args + ["--jobs", "3"]))
        self.assertEqual([j[0] for j in jobs if not j[4]], [4, 4, 4])
        self.assertEqual(njobs, 5)

    def test_bad_job_settings(self):
        self.write("base.yaml", BASE)
        d = self.out("dir")
        cli = [(["--time", "0"], "time '0': expected a Slurm time limit"),
               (["--time", "1:2:3:4"], "time '1:2:3:4'"),
               (["--time=abc"], "time 'abc'"),
               (["--nodes", "0"], "--nodes 0: expected an integer >= 1"),
               (["--ntasks", "1", "--nodes", "2"], "ntasks = 1 is less than nodes = 2"),
               (["--jobs", "x"], "--jobs x: expected an integer"),
               (["--sbatch=-n4"], "otd sets each job's --ntasks"),
               (["--sbatch", "--time=1:00:00"], "otd sets each job's --time"),
               (["--throttle", "2"], "--throttle is gone"),
               (["--local", "1", "--ntasks", "2"], "--ntasks sizes Slurm jobs")]
        sw = self.write("s.yaml", "base: base.yaml\ngrid:\n  run.seed: [0, 1]\n")
        for args, msg in cli:
            with self.subTest(args=args):
                p = otd(["sweep", sw, "--out", d] + args)
                self.assertRc(p, 2)
                self.assertIn(msg, p.stderr)
                self.assertFalse(os.path.exists(d))
        files = [("time: abc\n", r"s\.yaml:3:1: time 'abc'"),
                 ("ntasks: 1\nnodes: 3\n", r"ntasks = 1 is less than nodes = 3"),
                 ("gflops: 0\n", r"s\.yaml:3:1: gflops = '0': expected"),
                 ('setup: "a\\nb"\n', r"s\.yaml:3:8: setup line 'a\nb': a line break"),
                 ("setup: [{a: 1}]\n", r"every setup entry must be one shell line"),
                 ("sbatch: [\"--array=0-3\"]\n", r"not array tasks"),
                 ("throttle: 3\n", r"unknown sweep key 'throttle'.*throttle is gone")]
        for text, msg in files:
            with self.subTest(text=text):
                # The key on line 3.
                sw = self.write("s.yaml", "base: base.yaml\n\n" + text +
                                "grid:\n  run.seed: [0, 1]\n")
                p = otd(["sweep", sw, "--out", d])
                self.assertRc(p, 2)
                self.assertRegex(p.stderr, msg)
                self.assertFalse(os.path.exists(d))

    # --------------------------------------------------------- local runs

    def check_same_as_run(self, d, name, nranks):
        """The point's results equal `otd run` of its config, bit for bit,
        and its name ends with its config hash."""
        ref = self.out("ref-" + name)
        self.assertRc(run(["run", os.path.join(d, "configs", name + ".yaml"), "--out", ref], nranks), 0)
        a = read(os.path.join(d, "runs", name, "results.h5"))
        b = read(os.path.join(ref, "results.h5"))
        self.assertTrue(np.array_equal(a["final/W"], b["final/W"]))
        self.assertEqual(a["attrs"]["config_hash"], b["attrs"]["config_hash"])
        self.assertTrue(name.endswith("-" + a["attrs"]["config_hash"][:10]))
        self.assertEqual(int(a["attrs"]["nranks"]), nranks)

    def test_local_ranks2(self):
        self.write("base.yaml", BASE)
        sw = self.write("two.yaml", "base: base.yaml\nranks: 2\ngrid:\n  run.seed: [0, 1]\n"
                        "set: {problem.dim: 6, model.m: 4}\n")
        d = self.out("two")
        # The fallback: one `mpirun -n 2 otd run` per point, one at a time.
        p = otd(["sweep", sw, "--out", d, "--local", "1", "--launch-each"])
        self.assertRc(p, 0)
        self.assertEqual(len(re.findall(r"^\[\d/2\] \S+: done \(exit 0\)$", p.stdout, re.M)), 2)
        for r in manifest(d):
            self.check_same_as_run(d, r["name"], 2)
        self.assertRc(otd(["collect", d]), 0)

    def test_local_collect_kill_and_rerun(self):
        sw = self.make_sweep()
        d = self.out("sweep")
        # 1. Four good points and one invalid one, two at a time (one
        # process per point, which prints a line per point).
        p = otd(["sweep", sw, "--out", d, "--local", "2", "--launch-each"])
        self.assertRc(p, 1)
        rows = manifest(d)
        names = [r["name"] for r in rows]
        for n in names[:4]:
            self.assertRegex(p.stdout, r"\] %s: done \(exit 0\)" % re.escape(n))
        self.assertRegex(p.stdout, r"\] %s: failed \(exit 2\): exit 2: model\.m = -1"
                         % re.escape(names[4]))
        self.assertIn("4 of 5 points done", p.stdout)
        for n in names[:4]:
            with open(os.path.join(d, "tasks", n + ".exit")) as f:
                self.assertRegex(f.read(), r"^\d+ 0 \S+ local\n$")
        self.check_same_as_run(d, names[0], 1)
        self.check_same_as_run(d, names[3], 1)
        done_files = {n: fingerprint(os.path.join(d, "runs", n, "results.h5"))
                      for n in names[:4]}

        # --unfinished picks only the failed point (one job for Slurm).
        p = otd(["sweep", sw, "--out", d, "--unfinished", "--submit", "--dry-run"])
        self.assertRc(p, 0)
        self.assertIn("1 of them not done", p.stdout)
        self.assertIn("slurm: 1 point in 1 job of 1 node, 1 task, --time=00:10:00", p.stdout)
        self.assertIn("submit: sbatch %s/jobs/job-1-0.sbatch" % d, p.stdout)
        self.assertEqual(os.listdir(os.path.join(d, "jobs")), [])

        # 2. The edited file adds a long point; the done points stay as they are.
        sw = self.make_sweep(points_extra=LONG_POINT)
        self.assertRc(otd(["sweep", sw, "--out", d]), 0)
        rows = manifest(d)
        self.assertEqual([r["name"] for r in rows][:5], names)
        long_name = rows[5]["name"]
        self.assertTrue(long_name.startswith("dim7-"))

        # 3. Run the long point by hand, collect while it runs, kill it.
        job = subprocess.Popen([MPIEXEC, "-n", "1", OTD, "run", rows[5]["config"], "--out",
                                rows[5]["rundir"]], cwd=d, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            ckdir = os.path.join(d, rows[5]["rundir"], "checkpoints")
            deadline = time.monotonic() + WAIT_TIMEOUT
            while not any(re.match(r"ckpt-0*[1-9]\d*\.h5$", f)
                          for f in (os.listdir(ckdir) if os.path.isdir(ckdir) else [])):
                self.assertIsNone(job.poll(), "the long point ended before its checkpoint")
                self.assertLess(time.monotonic(), deadline, "no checkpoint in time")
                time.sleep(0.05)
            p = otd(["collect", d])
            self.assertRc(p, 1)
            self.assertRegex(p.stdout, r"running +5 %s" % re.escape(long_name))
        finally:
            kill_session(job.pid)
            job.wait(timeout=60)
        p = otd(["collect", d])
        self.assertRc(p, 1)
        self.assertIn("6 points: 4 done, 0 running, 2 failed, 0 missing", p.stdout)
        self.assertRegex(p.stdout, r"failed +5 %s: interrupted at iteration [1-9]\d*; resumable"
                         % re.escape(long_name))
        self.assertRegex(p.stdout, r"failed +4 %s: exit 2: model\.m = -1: out of range"
                         % re.escape(names[4]))
        with h5py.File(os.path.join(d, rows[5]["rundir"], "results.h5"), "r") as f:
            self.assertEqual(f["summary"].attrs["status"], "running")
        rerun = p.stdout.splitlines()[-1].strip()
        # as the sweep was last run: --local 2 --launch-each (step 1)
        self.assertEqual(rerun, "%s sweep %s --out %s --unfinished --local 2 --launch-each"
                         % (os.path.realpath(OTD), os.path.realpath(sw), d))

        # 4. Fix the invalid value, run the printed command: everything done.
        self.make_sweep(m_bad="3", points_extra=LONG_POINT)
        p = run_command(shlex.split(rerun), timeout=600)
        self.assertRc(p, 0)
        self.assertIn("2 of them not done", p.stdout)
        self.assertIn("6 of 6 points done", p.stdout)
        for n in names[:4]:
            self.assertNotIn(n, p.stdout)
            self.assertEqual(fingerprint(os.path.join(d, "runs", n, "results.h5")),
                             done_files[n], "a done point's results were touched")
        p = otd(["collect", d])
        self.assertRc(p, 0)
        self.assertIn("6 points: 6 done, 0 running, 0 failed, 0 missing", p.stdout)
        self.assertNotIn("rerun", p.stdout)
        with open(os.path.join(d, "tasks", long_name + ".exit")) as f:
            self.assertEqual(len(f.read().splitlines()), 1)  # the hand-run left no record
        self.check_csv(d)

    def check_csv(self, d):
        """summary.csv and summary.h5 against the manifest and results files."""
        rows = manifest(d)
        with open(os.path.join(d, "summary.csv")) as f:
            table = list(csv.DictReader(f))
        header = list(table[0].keys())
        for col in ("index", "name", "status", "reason", "rundir", "iters", "wall_seconds",
                    "restarts", "final_rel_err", "final_loss", "steps_per_s", "problem.order",
                    "problem.dim", "model.m", "algo.name", "run.seed", "engine"):
            self.assertIn(col, header)
        keys = [line.split()[0] for line in
                otd(["run", "--help"]).stdout.split("Configuration keys.")[1].splitlines()
                if line.startswith("  ") and not line.startswith("   ")]
        for k in keys:
            self.assertIn(k, header)
        self.assertEqual(len(table), len(rows))
        with h5py.File(os.path.join(d, "summary.h5"), "r") as h:
            self.assertEqual(h.attrs["columns"].split(","), header)
            for i, (t, m) in enumerate(zip(table, rows)):
                self.assertEqual(t["name"], m["name"])
                self.assertEqual(t["status"], "done")
                self.assertEqual(t["rundir"], m["rundir"])
                res = read(os.path.join(d, m["rundir"], "results.h5"))
                s = res["summary"]
                self.assertEqual(int(t["iters"]), int(s["iters"]))
                self.assertEqual(float(t["final_rel_err"]), float(s["final_rel_err"]))
                self.assertEqual(float(t["final_loss"]), float(s["final_loss"]))
                self.assertEqual(float(t["wall_seconds"]), float(s["wall_seconds"]))
                self.assertEqual(t["run.seed"], "5")
                self.assertIn("model:\n  m: %s\n" % t["model.m"], res["attrs"]["config"])
                self.assertIn("  dim: %s\n" % t["problem.dim"], res["attrs"]["config"])
                self.assertEqual(h["name"].asstr()[i], t["name"])
                self.assertEqual(h["final_rel_err"][i], float(s["final_rel_err"]))
                # Typed by source: integers stay integers, in both files.
                self.assertEqual(h["model.m"][i], int(t["model.m"]))
                self.assertEqual(h["iters"][i], int(s["iters"]))
                self.assertEqual(h["algo.name"].asstr()[i], "gd")
                self.assertEqual(h["problem.normalize"][i], t["problem.normalize"] == "true")
            self.assertEqual(h["model.m"].dtype, np.int64)
            self.assertEqual(h["iters"].dtype, np.int64)
            self.assertEqual(h["final_rel_err"].dtype, np.float64)
            self.assertEqual(h["problem.normalize"].dtype, np.bool_)
            self.assertNotIn("missing", h)  # every point done: every cell has a value
        self.assertEqual({t["problem.normalize"] for t in table}, {"true"})
        self.assertEqual([t["restarts"] for t in table], ["0"] * 6)


if __name__ == "__main__":
    unittest.main()
