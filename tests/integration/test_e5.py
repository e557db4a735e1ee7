"""E5 end to end on a reduced grid: analysis/e5_search.py drives the real
`otd sweep --local 2` and `otd collect` for lazy_opt, bl and gd at l = 3,
d in {6, 8, 10}, 2 seeds, m searched over the integers 2..24, and
analysis/figures.py e5 draws the result. What they report is checked against
an independent reading of summary.csv (csv module, statistics.median):

  - m* per (method, d) is the smallest m that succeeds (lazy_opt: median
    final_rel_err <= 0.1; bl, gd: >= 90 % of the seeds, here both, reach
    algo.target_rel_err), and m* - 1 was run and fails: the search ends at
    integer resolution; every m run below m* fails and every m above passes
    (what bisection leaves behind);
  - lazy_opt's m* lies between 0.9 D/d and ceil(D/d), D = C(d+2, 3) (at
    m d >= D the tangent space holds every symmetric tensor);
  - the runs are far fewer than the full grid's, their names are those the
    full grid would give (`otd sweep --dry-run`), and a second search runs
    nothing;
  - figures.py e5 prints `e5 l=3 method=... slope=... d=6..10 points=3` with
    the least-squares slope of log m* on log d, and its --data-json holds the
    same m* and D/d.

A synthetic summary.csv (no runs) pins the 90 % and median rules and the
open brackets, and the shipped sweep files are checked without running them:
E1's m grids are fine (ratio <= 1.25, two values each side) around every
lazy threshold D/d they cover, and the E5 files expand (otd sweep --dry-run)
into the groups the search expects. About 30 s on 2 cores."""
import csv
import json
import math
import os
import re
import shutil
import statistics
import tempfile
import unittest

import numpy as np
import yaml

from otdtest import OTD, SOURCE, run_command

PYTHON = "/usr/bin/python3"
SEARCH = os.path.join(SOURCE, "analysis", "e5_search.py")
FIGURES = os.path.join(SOURCE, "analysis", "figures.py")
DIMS = (6, 8, 10)
METHODS = ("lazy_opt", "bl", "gd")
M_RANGE = (2, 24)
SEEDS = (0, 1)


def sweep_file(path, ms):
    """The reduced E5 sweep: E1's base config (l = 3, r = 3, orthonormal)."""
    doc = {"name": "e5-test", "base": os.path.join(SOURCE, "jobs", "configs", "e1.yaml"),
           "set": {"algo.max_iters": 200000},
           "grid": {"algo.name": list(METHODS), "problem.dim": list(DIMS), "model.m": list(ms),
                    "run.seed": list(SEEDS)}}
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


def read_summary(sweep):
    with open(os.path.join(sweep, "summary.csv"), newline="") as f:
        return list(csv.DictReader(f))


def succeeds(method, rows):
    """The E5 criterion, written out again here."""
    errs = [float(r["final_rel_err"]) for r in rows]
    if method == "lazy_opt":
        return statistics.median(errs) <= 0.1
    reached = sum(e <= float(r["algo.target_rel_err"]) for e, r in zip(errs, rows))
    return reached >= 0.9 * len(rows)


def outcomes(rows):
    """{(method, order, d): {m: succeeds}} from summary.csv rows."""
    by = {}
    for r in rows:
        key = (r["algo.name"], int(r["problem.order"]), int(r["problem.dim"]))
        by.setdefault(key, {}).setdefault(int(r["model.m"]), []).append(r)
    return {k: {m: succeeds(k[0], at) for m, at in v.items()} for k, v in by.items()}


def D_over_d(d, order=3):
    return math.comb(d + order - 1, order) / d


class E5Search(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="otd-test-e5-")
        cls.file = sweep_file(os.path.join(cls.tmp, "e5.yaml"), M_RANGE)
        cls.dir = os.path.join(cls.tmp, "sweep")
        cls.proc = run_command([PYTHON, SEARCH, cls.file, "--out", cls.dir, "--local", "2"],
                               timeout=600)
        assert cls.proc.returncode == 0, "e5_search failed:\n%s%s" % (cls.proc.stdout,
                                                                     cls.proc.stderr)
        cls.rows = read_summary(cls.dir)
        cls.outcomes = outcomes(cls.rows)
        cls.m_star = {k: min((m for m, ok in v.items() if ok), default=None)
                      for k, v in cls.outcomes.items()}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_search_brackets_m_star(self):
        self.assertEqual(sorted(self.outcomes), sorted((a, 3, d) for a in METHODS for d in DIMS))
        for r in self.rows:
            self.assertEqual(r["status"], "done", r["name"])
        for key, by_m in self.outcomes.items():
            m_star = self.m_star[key]
            self.assertIsNotNone(m_star, "%s: no m <= %d succeeded: %s" % (key, M_RANGE[1], by_m))
            if m_star > M_RANGE[0]:
                self.assertIn(m_star - 1, by_m, "%s: m* - 1 was not run" % (key,))
            for m, ok in by_m.items():  # fails below, succeeds above
                self.assertEqual(ok, m >= m_star, "%s m=%d" % (key, m))
            for m in by_m:  # every seed at every m probed
                n = sum(1 for r in self.rows if (r["algo.name"], int(r["problem.dim"]),
                                                 int(r["model.m"])) == (key[0], key[2], m))
                self.assertEqual(n, len(SEEDS))
            line = "e5_search: %s l=3 d=%d: m*=%d (%s)" % (
                key[0], key[2], m_star, "m=%d fails" % (m_star - 1) if m_star > M_RANGE[0]
                else "the smallest candidate")
            self.assertIn(line, self.proc.stdout)
        for d in DIMS:  # the lazy side follows the dimension count
            m_star = self.m_star[("lazy_opt", 3, d)]
            self.assertGreaterEqual(m_star, math.ceil(0.9 * D_over_d(d)), d)
            self.assertLessEqual(m_star, math.ceil(D_over_d(d)), d)
        # the beyond-lazy side succeeds with few components at every d
        for method in ("bl", "gd"):
            for d in DIMS:
                self.assertLessEqual(self.m_star[(method, 3, d)], 12, (method, d))

    def test_runs_are_few_and_named_as_the_grid(self):
        n = len(self.rows)
        full = len(METHODS) * len(DIMS) * (M_RANGE[1] - M_RANGE[0] + 1) * len(SEEDS)
        self.assertIn("e5_search: %d runs in " % n, self.proc.stdout)
        self.assertIn("(a full grid of the candidates: %d runs)" % full, self.proc.stdout)
        self.assertLess(n, full / 4)
        grid = sweep_file(os.path.join(self.tmp, "grid.yaml"), range(M_RANGE[0], M_RANGE[1] + 1))
        proc = run_command([OTD, "sweep", grid, "--out", os.path.join(self.tmp, "g"),
                            "--dry-run"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        names = set(re.findall(r"^\s+\d+ (\S+)$", proc.stdout, re.M))
        self.assertEqual(len(names), full)
        self.assertLessEqual({r["name"] for r in self.rows}, names)

    def test_rerun_runs_nothing(self):
        before = {r["name"]: r["final_rel_err"] for r in self.rows}
        proc = run_command([PYTHON, SEARCH, self.file, "--out", self.dir, "--local", "2"])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("e5_search: %d runs in 0 rounds" % len(before), proc.stdout)
        self.assertNotIn("round 1", proc.stdout)
        after = {r["name"]: r["final_rel_err"] for r in read_summary(self.dir)}
        self.assertEqual(after, before)

    def test_figure(self):
        js = os.path.join(self.tmp, "e5.json")
        proc = run_command([PYTHON, FIGURES, "e5", self.dir, "--data-json", js])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(js) as f:
            data = json.load(f)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[:2], data["files"])
        for path in data["files"]:
            self.assertGreater(os.path.getsize(path), 5000, path)
        self.assertEqual(lines[2:], data["lines"])
        self.assertEqual([(s["order"], s["method"]) for s in data["series"]],
                         [(3, m) for m in METHODS])
        for s, line in zip(data["series"], lines[2:]):
            ms = [self.m_star[(s["method"], 3, d)] for d in DIMS]
            self.assertEqual([p["dim"] for p in s["points"]], list(DIMS))
            self.assertEqual([p["m_star"] for p in s["points"]], ms)
            self.assertEqual([p["m_below"] for p in s["points"]],
                             [m - 1 if m > M_RANGE[0] else None for m in ms])
            for p in s["points"]:
                self.assertAlmostEqual(p["D_over_d"], D_over_d(p["dim"]), places=12)
            slope = np.polyfit(np.log(DIMS), np.log(ms), 1)[0]
            self.assertAlmostEqual(s["fit"]["slope"], slope, places=9)
            ref = np.polyfit(np.log(DIMS), np.log([D_over_d(d) for d in DIMS]), 1)[0]
            self.assertAlmostEqual(s["fit"]["D_over_d_slope"], ref, places=9)
            self.assertEqual(line, "e5 l=3 method=%s slope=%.2f d=6..10 points=3 D/d_slope=%.2f"
                             % (s["method"], slope, ref))
        lazy = float(re.search(r"method=lazy_opt slope=(\S+)", proc.stdout).group(1))
        bl = float(re.search(r"method=bl slope=(\S+)", proc.stdout).group(1))
        self.assertGreater(lazy, 1.2)  # D/d: 1.68 over d = 6..10
        self.assertLess(bl, 0.8)
        self.assertEqual([dd["order"] for dd in data["D_over_d"]], [3])
        self.assertEqual(data["D_over_d"][0]["x"], list(DIMS))


class E5Rules(unittest.TestCase):
    """figures.py e5 on a hand-written summary.csv: the 90 % rule counts seeds,
    the median of an even count averages the middle two, open brackets and
    an m never reached are reported."""

    def test_rules(self):
        tmp = tempfile.mkdtemp(prefix="otd-test-e5-rules-")
        self.addCleanup(shutil.rmtree, tmp, True)
        rows = []

        def add(algo, d, m, errs, eps=1e-3, converged=None):
            for seed, e in enumerate(errs):
                rows.append({"name": "%s-%d-%d-%d" % (algo, d, m, seed), "status": "done",
                             "rundir": "runs/x", "algo.name": algo, "problem.order": 3,
                             "problem.dim": d, "model.m": m, "run.seed": seed,
                             "final_rel_err": e, "algo.target_rel_err": eps,
                             "lazy_converged": "" if converged is None else converged})
        ok, bad = 5e-4, 0.5
        add("bl", 10, 4, [ok] * 8 + [bad] * 2)   # 8 of 10: fails
        add("bl", 10, 5, [ok] * 9 + [bad])       # 9 of 10: succeeds
        add("bl", 20, 3, [ok] * 10)              # succeeds at the smallest m run
        add("bl", 20, 6, [ok] * 10)
        add("bl", 40, 3, [2e-3] * 10, eps=1e-2)  # its own epsilon: succeeds
        # lazy_opt: median of 0.05, 0.08, 0.13, 0.2 is 0.105 > 0.1
        add("lazy_opt", 10, 20, [0.05, 0.08, 0.13, 0.2])
        add("lazy_opt", 10, 22, [0.0, 0.0, 0.09, 0.11])
        add("lazy_opt", 20, 70, [0.3] * 4, converged=0)  # never below 0.1, unconverged
        add("lazy_opt", 20, 60, [0.4] * 4, converged=1)
        sweep = os.path.join(tmp, "sweep")
        os.makedirs(sweep)
        with open(os.path.join(sweep, "summary.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        js = os.path.join(tmp, "e5.json")
        proc = run_command([PYTHON, FIGURES, "e5", sweep, "--data-json", js])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(js) as f:
            data = json.load(f)
        series = {s["method"]: {p["dim"]: p for p in s["points"]} for s in data["series"]}
        self.assertEqual([p["m_star"] for p in series["bl"].values()], [5, 3, 3])
        self.assertEqual([p["m_below"] for p in series["bl"].values()], [4, None, None])
        self.assertEqual(series["bl"][10]["stat"], [0.8, 0.9])
        self.assertEqual(series["lazy_opt"][10]["m_star"], 22)
        self.assertAlmostEqual(series["lazy_opt"][10]["stat"][0], 0.105)
        self.assertIsNone(series["lazy_opt"][20]["m_star"])
        self.assertEqual(series["lazy_opt"][20]["m_max"], 70)
        self.assertEqual(series["lazy_opt"][20]["uncertain"], [False, True])
        lines = proc.stdout.splitlines()[2:]
        self.assertEqual(lines[0], "e5 l=3 method=lazy_opt slope=nan d=10..10 points=1 "
                         "D/d_slope=nan (no m* for d=20; failures from unconverged lazy "
                         "solves (upper bounds) at d=20)")
        slope = np.polyfit(np.log([10, 20, 40]), np.log([5, 3, 3]), 1)[0]
        self.assertEqual(lines[1], "e5 l=3 method=bl slope=%.2f d=10..40 points=3 "
                         "D/d_slope=%.2f (m* at the smallest m run for d=20,40)"
                         % (slope, np.polyfit(np.log([10, 20, 40]),
                                              np.log([D_over_d(d) for d in (10, 20, 40)]), 1)[0]))
        # a single run directory, or no summary.csv, cannot make E5
        proc = run_command([PYTHON, FIGURES, "e5", tmp])
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("otd collect", proc.stderr)


class SweepFiles(unittest.TestCase):
    def grid(self, name):
        with open(os.path.join(SOURCE, "jobs", "sweeps", name)) as f:
            return yaml.safe_load(f)["grid"]

    def test_e1_grids_fine_near_the_lazy_threshold(self):
        for name in ("e1_small.yaml", "e1.yaml"):
            g = self.grid(name)
            ms = sorted(g["model.m"])
            for order in g.get("problem.order", [3]):
                for d in g["problem.dim"]:
                    t = D_over_d(d, order)
                    lo = max(i for i, m in enumerate(ms) if m <= t)
                    hi = min(i for i, m in enumerate(ms) if m >= t)
                    near = ms[lo - 1:hi + 2]
                    self.assertEqual(len(near), hi - lo + 3, (name, order, d, t))
                    for a, b in zip(near, near[1:]):
                        self.assertLessEqual(b / a, 1.25, (name, order, d, t, a, b))

    def test_e5_files(self):
        for name, groups, skipped in (("e5_small.yaml", 24, 0), ("e5.yaml", 54, 4)):
            path = os.path.join(SOURCE, "jobs", "sweeps", name)
            g = self.grid(name)
            ms = g["model.m"]
            self.assertEqual(ms, sorted(ms))
            for a, b in zip(ms[2:], ms[3:]):
                self.assertLessEqual(b / a, 1.25, (name, a, b))
            dims = g["problem.dim"]
            self.assertEqual(dims[0], 10)
            self.assertGreaterEqual(dims[-1], 40 if name == "e5_small.yaml" else 160)
            for order in g.get("problem.order", [3]):  # every lazy m* is in range
                reach = [d for d in dims if D_over_d(d, order) <= ms[-1]]
                self.assertGreaterEqual(max(reach), 40 if order == 4 else dims[-1])
            proc = run_command([OTD, "sweep", path, "--out", os.path.join(tempfile.gettempdir(),
                                                                         "otd-e5-dry-run"),
                                "--dry-run"])
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn("0 invalid", proc.stdout)
            proc = run_command([PYTHON, SEARCH, path, "--dry-run"])
            self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
            self.assertIn("e5_search: %d groups" % groups, proc.stdout)
            self.assertEqual(proc.stdout.count("skipped"), skipped)
            for line in proc.stdout.splitlines():
                m = re.match(r"lazy_opt l=(\d) d=(\d+): .* first m (\d+)$", line)
                if m:  # the dimension count's guess: the first m >= 0.99 D/d
                    l, d, first = map(int, m.groups())
                    self.assertEqual(first, math.ceil(0.99 * D_over_d(d, l) - 1e-9), line)


if __name__ == "__main__":
    unittest.main()
