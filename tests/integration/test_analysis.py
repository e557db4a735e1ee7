"""The E0-E5 figures (analysis/figures.py) from a collected sweep of real
`otd run`s: every figure writes a PNG and a PDF, and what it plotted (its
--data-json) agrees with values computed here, independently, from the
results files with h5py; a missing summary.csv and absent points fail with a
message naming what is missing.

The sweep is tiny (d = 6 or 8, at most 3000 steps, 32 runs of well
under a second each). It is made by make_collected_sweep, the one place that
knows how a collected sweep directory comes about."""
import csv
import json
import math
import os
import re
import shutil
import struct
import subprocess
import tempfile
import unittest
import zlib

import h5py
import numpy as np
import yaml

from otdtest import OTD, SOURCE, run_command

FIGURES = os.path.join(SOURCE, "analysis", "figures.py")
PYTHON = "/usr/bin/python3"

# Shared by every point: order 3, rank 2, geometric weights (a = 0.89, 0.45:
# a staircase of two steps), bl/tdp epochs short enough for several of them.
BASE = {"problem.order": 3, "problem.rank": 2, "problem.weights": "geometric",
        "algo.max_iters": 3000, "algo.lr": 0.02, "algo.epoch_len": 100, "run.log_every": 10}
GD = {"algo.name": "gd", "model.init_scale": 1.0}  # E0's sigma = 1


def sweep_points():
    """E1's grid (gd, bl) x d x m x seed, E0's extra order-4 gd points with
    m = r (also E1's second panel), and one tdp run for E2."""
    points = []
    for algo in ("gd", "bl"):
        for dim in (6, 8):
            for m in (2, 4, 8):
                for seed in (0, 1):
                    p = dict(GD) if algo == "gd" else {"algo.name": algo}
                    p.update({"problem.dim": dim, "model.m": m, "run.seed": seed})
                    points.append(p)
    for seed in (0, 1, 2):  # three seeds: a median that is not the mean
        points.append(dict(GD, **{"problem.order": 4, "problem.dim": 6, "model.m": 2,
                                  "run.seed": seed}))
    points.append({"algo.name": "tdp", "problem.dim": 6, "model.m": 8, "run.seed": 0})
    # The lazy side of E1 and E3: lazy_opt over m (m = 12: m d > D = 56, a
    # zero error drawn as a bound at its resolution), one lazy_gd run.
    for m in (2, 4, 8, 12):
        points.append({"algo.name": "lazy_opt", "problem.dim": 6, "model.m": m, "run.seed": 0})
    points.append({"algo.name": "lazy_gd", "problem.dim": 6, "model.m": 4, "run.seed": 0})
    return [dict(BASE, **p) for p in points]


def make_collected_sweep(tmpdir, points):
    """A collected sweep directory DIR with one run per point, made by the
    real tools: a sweep file listing the points, `otd sweep --local 2`, then
    `otd collect`. Returns DIR."""
    sweep = os.path.join(tmpdir, "sweep")
    spec = os.path.join(tmpdir, "analysis-sweep.yaml")
    with open(spec, "w") as f:
        yaml.safe_dump({"name": "analysis", "points": points}, f)
    proc = run_command([OTD, "sweep", spec, "--out", sweep, "--local", "2"])
    assert proc.returncode == 0, "otd sweep failed:\n%s%s" % (proc.stdout, proc.stderr)
    proc = run_command([OTD, "collect", sweep])
    assert proc.returncode == 0, "otd collect failed:\n%s%s" % (proc.stdout, proc.stderr)
    return sweep


def edit_summary(src, dst, keep=None, extra=None):
    """dst/summary.csv from src's rows kept by keep(row), plus extra rows
    (dicts, other cells empty); dst/runs points to src/runs. Columns are read
    and written by name, in the file's own order."""
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "summary.csv"), newline="") as f:
        r = csv.DictReader(f)
        header, rows = r.fieldnames, list(r)
    rows = [row for row in rows if keep is None or keep(row)] + list(extra or [])
    with open(os.path.join(dst, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, restval="")
        w.writeheader()
        w.writerows(rows)
    if not os.path.exists(os.path.join(dst, "runs")):
        os.symlink(os.path.join(src, "runs"), os.path.join(dst, "runs"))
    return dst


def read_runs(sweep):
    """{name: what this test needs of the run}, read with h5py from
    runs/<name>/results.h5, for every run directory (not via summary.csv)."""
    out = {}
    for name in sorted(os.listdir(os.path.join(sweep, "runs"))):
        with h5py.File(os.path.join(sweep, "runs", name, "results.h5"), "r") as f:
            cfg = yaml.safe_load(str(f.attrs["config"]))
            h = f["history"]
            out[name] = {
                "algo": cfg["algo"]["name"], "order": cfg["problem"]["order"],
                "dim": cfg["problem"]["dim"], "rank": cfg["problem"]["rank"],
                "m": cfg["model"]["m"], "eps": cfg["algo"]["target_rel_err"],
                "final_rel_err": float(f["summary"].attrs["final_rel_err"]),
                "resolution": float(f["summary"].attrs["final_rel_err_resolution"]),
                "n_fitted": int(f["summary"].attrs["n_fitted"]),
                "a": f["target/a"][()],
                "hist": {k: h[k][()] for k in h},
            }
    return out


def pdf_fonts(path):
    """{"type3": bool, "truetype": bool} for a PDF's fonts: pdffonts
    (poppler-utils) when installed, else the PDF's bytes with every stream
    inflated (font dictionaries may sit in compressed object streams)."""
    pdffonts = shutil.which("pdffonts")
    if pdffonts:
        out = subprocess.run([pdffonts, path], capture_output=True, text=True,
                             check=True).stdout
        rows = out.splitlines()[2:]
        return {"type3": any(" Type 3 " in r for r in rows),
                "truetype": any("TrueType" in r or "CID TrueType" in r for r in rows)}
    with open(path, "rb") as f:
        raw = f.read()
    parts = [raw]
    for m in re.finditer(rb"stream\r?\n", raw):
        end = raw.find(b"endstream", m.end())
        try:
            parts.append(zlib.decompress(raw[m.end():end]))
        except zlib.error:
            pass  # not a Flate stream (an image, a font program in another filter)
    text = b"\n".join(parts)
    return {"type3": re.search(rb"/Subtype\s*/Type3", text) is not None,
            "truetype": re.search(rb"/Subtype\s*/TrueType", text) is not None or
            (re.search(rb"/Subtype\s*/Type0", text) is not None and
             re.search(rb"/CIDFontType2", text) is not None)}


def pdf_width_pt(path):
    with open(path, "rb") as f:
        m = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)", f.read())
    return float(m.group(3)) - float(m.group(1))


def png_size(path):
    """(width, height) in pixels, from the PNG's IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def nulls(x):
    return [None if not math.isfinite(v) else v for v in np.asarray(x, float).ravel()]


class Figures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="otd-test-analysis-")
        cls.sweep = make_collected_sweep(cls.tmp, sweep_points())
        cls.runs = read_runs(cls.sweep)
        # A point that never ran (status missing, no run directory) must be
        # left out, not break a figure: bl at an m no run has.
        cls.sweep = edit_summary(cls.sweep, os.path.join(cls.tmp, "with-missing"), extra=[{
            "index": 999, "name": "never-ran", "status": "missing", "rundir": "runs/never-ran",
            "algo.name": "bl", "model.m": 64, "problem.dim": 6, "problem.order": 3,
            "problem.rank": 2, "run.seed": 0}])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def figure(self, fig, target, *extra, ok=True):
        """Run figures.py; return (CompletedProcess, data JSON or None)."""
        js = os.path.join(self.tmp, fig + ".json")
        if os.path.exists(js):
            os.remove(js)
        proc = subprocess.run([PYTHON, FIGURES, fig, target, "--data-json", js] + list(extra),
                              capture_output=True, text=True, timeout=300)
        if not ok:
            self.assertNotEqual(proc.returncode, 0, proc.stdout)
            self.assertFalse(os.path.exists(js), "a failed figure wrote its data")
            return proc, None
        self.assertEqual(proc.returncode, 0, "figures.py %s failed:\n%s%s"
                         % (fig, proc.stdout, proc.stderr))
        with open(js) as f:
            data = json.load(f)
        self.assertEqual(data["figure"], fig)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[:2], data["files"], proc.stdout)
        self.assertTrue(lines[2].startswith(fig + (" " if fig == "e5" else ": ")), proc.stdout)
        for path, magic in zip(data["files"], (b"\x89PNG", b"%PDF")):
            with open(path, "rb") as f:
                content = f.read()
            self.assertTrue(content.startswith(magic), path)
            self.assertGreater(len(content), 5000, path)
        self.check_paper_style(fig, data)
        return proc, data

    def check_paper_style(self, fig, data):
        """Item 5 of issue 14: TrueType fonts in the PDF, a single-column PDF
        and a larger PNG, titles stating l, r, the target and the seeds, and a
        band named in the legend."""
        png, pdf = data["files"]
        fonts = pdf_fonts(pdf)
        self.assertTrue(fonts["truetype"], "%s: no TrueType font" % pdf)
        self.assertFalse(fonts["type3"], "%s embeds Type 3 fonts" % pdf)
        # the PDF: one column of a two-column paper (3.5 in = 252 pt)
        self.assertAlmostEqual(pdf_width_pt(pdf), 252.0, delta=0.5)
        self.assertAlmostEqual(data["pdf"]["inches"][0], 3.5)
        # the PNG: larger, at 200 dpi
        w, h = png_size(png)
        self.assertGreaterEqual(w, 1400, png)
        self.assertAlmostEqual(w, round(data["png"]["inches"][0] * 200), delta=2)
        self.assertAlmostEqual(h, round(data["png"]["inches"][1] * 200), delta=2)
        for kind in ("pdf", "png"):
            titles = data[kind]["titles"]
            self.assertTrue(titles, kind)
            for t in titles:
                for word in ("l=", "r=", "seed", "target"):
                    self.assertIn(word, t, "%s %s title %r" % (fig, kind, t))
            bands = [t for t in data[kind]["legend"] if "min–max over" in t]
            if fig == "e1":  # several seeds per point: a band, named
                self.assertRegex(" ".join(bands), r"band: min–max over \d+ seeds")
            else:
                self.assertEqual(bands, [])

    def prefix(self, fig):
        return os.path.join(self.tmp, "out", fig)

    def assertSeries(self, got, want, what):
        self.assertEqual(len(got), len(want), what)
        for g, w in zip(got, want):
            if w is None:
                self.assertIsNone(g, what)
            else:
                self.assertAlmostEqual(g, w, delta=1e-12 * max(1.0, abs(w)), msg=what)

    def test_e0(self):
        proc, data = self.figure("e0", self.sweep, "--out", self.prefix("e0"))
        want = {}
        for r in self.runs.values():
            if r["algo"] == "gd" and r["m"] == r["rank"]:
                n, stuck, fitted = want.get((r["order"], r["rank"]), (0, 0, 0))
                want[(r["order"], r["rank"])] = (n + 1, stuck + (r["final_rel_err"] > 0.1),
                                                 fitted + (r["n_fitted"] == r["rank"]))
        got = {(b["order"], b["rank"]): (b["n"], b["stuck"], b["fitted_all"])
               for b in data["bars"]}
        self.assertEqual(got, want)
        self.assertEqual(sorted(got), [(3, 2), (4, 2)])
        self.assertEqual(got[(3, 2)][0], 4)  # two dims x two seeds
        for b in data["bars"]:
            self.assertAlmostEqual(b["fraction"], b["stuck"] / b["n"])
            self.assertEqual(b["n_fitted_known"], b["n"])
            self.assertAlmostEqual(b["fraction_fitted"], b["fitted_all"] / b["n"])
        # the data is not one-sided: some seeds fit both targets, some not
        fitted = [b["fitted_all"] for b in data["bars"]]
        self.assertGreater(sum(fitted), 0, data["bars"])
        self.assertLess(sum(fitted), sum(b["n"] for b in data["bars"]), data["bars"])
        self.assertIn("1 point not done left out", proc.stdout)
        self.assertIn("l=3 r=2: %d/4 fit every target" % want[(3, 2)][2], proc.stdout)

    def test_e1(self):
        proc, data = self.figure("e1", self.sweep, "--out", self.prefix("e1"))
        want, res = {}, {}
        for r in self.runs.values():
            key = (r["order"], r["algo"], r["dim"])
            want.setdefault(key, {}).setdefault(r["m"], []).append(r["final_rel_err"])
            res.setdefault(key, {}).setdefault(r["m"], []).append(r["resolution"])
        orders = sorted({k[0] for k in want})
        self.assertEqual([p["key"]["problem.order"] for p in data["panels"]], orders)
        ncurves = nbound = 0
        for panel in data["panels"]:
            order = panel["key"]["problem.order"]
            curves = {(c["algo"], c["dim"]): c for c in panel["curves"]}
            self.assertEqual(sorted(curves), sorted(k[1:] for k in want if k[0] == order))
            for (algo, dim), c in curves.items():
                by_m = want[(order, algo, dim)]
                ms = sorted(by_m)
                what = "l=%d %s d=%d" % (order, algo, dim)
                self.assertEqual(c["x"], ms, what)  # the missing m = 64 point is not there
                self.assertSeries(c["y"], [float(np.median(by_m[m])) for m in ms], what)
                self.assertSeries(c["y_min"], [min(by_m[m]) for m in ms], what)
                self.assertSeries(c["y_max"], [max(by_m[m]) for m in ms], what)
                self.assertEqual(c["n"], [len(by_m[m]) for m in ms], what)
                # A median below its resolution is drawn as a bound at it.
                r_m = [float(np.median(res[(order, algo, dim)][m])) for m in ms]
                self.assertSeries(c["resolution"], r_m, what)
                self.assertEqual(c["bound"], [float(np.median(by_m[m])) < rm
                                              for m, rm in zip(ms, r_m)], what)
                if algo == "lazy_opt":
                    nbound += sum(c["bound"])
                ncurves += 1
            dims = sorted({k[2] for k in want if k[0] == order})
            ms = sorted({m for k, by_m in want.items() if k[0] == order for m in by_m})
            self.assertEqual([dc["dim"] for dc in panel["dim_count"]], dims)
            for dc in panel["dim_count"]:
                D = math.comb(dc["dim"] + order - 1, order)
                self.assertEqual(dc["D"], D)
                x = np.array(dc["x"])
                self.assertAlmostEqual(x.min(), ms[0])
                self.assertAlmostEqual(x.max(), ms[-1])
                self.assertSeries(dc["y"], list(np.sqrt(np.maximum(0, 1 - x * dc["dim"] / D))),
                                  "dimension count d=%d" % dc["dim"])
                # drawn down to zero: sampled densely up to m = D/d, where it is 0
                m0 = D / dc["dim"]
                if ms[0] <= m0 <= ms[-1]:
                    self.assertAlmostEqual(dc["zero_at"], m0)
                    self.assertIn(0.0, dc["y"])
                    self.assertAlmostEqual(x[dc["y"].index(0.0)], m0)
                    self.assertLess(min(y for y in dc["y"] if y > 0), 1e-6)
                else:
                    self.assertIsNone(dc["zero_at"])
        # l=3: gd, bl x d=6, 8, tdp, lazy_opt, lazy_gd d=6; l=4: gd d=6
        self.assertEqual(ncurves, 8)
        # lazy_opt beyond m d = D (d = 6: D = 56, m = 12) has error zero: a bound.
        self.assertGreater(nbound, 0)
        self.assertIn("l=3 bl d=8: ", proc.stdout)

    def test_e1_fitted(self):
        proc, data = self.figure("e1", self.sweep, "--fitted", "--out", self.prefix("e1f"))
        want = {}
        for r in self.runs.values():
            key = (r["order"], r["algo"], r["dim"])
            want.setdefault(key, {}).setdefault(r["m"], []).append(r["n_fitted"] == r["rank"])
        ncurves = 0
        for panel in data["panels"]:
            order = panel["key"]["problem.order"]
            curves = {(c["algo"], c["dim"]): c for c in panel["fitted"]}
            self.assertEqual(sorted(curves), sorted(k[1:] for k in want if k[0] == order))
            for (algo, dim), c in curves.items():
                by_m = want[(order, algo, dim)]
                ms = sorted(by_m)
                what = "fitted l=%d %s d=%d" % (order, algo, dim)
                self.assertEqual(c["x"], ms, what)
                self.assertSeries(c["y"], [sum(by_m[m]) / len(by_m[m]) for m in ms], what)
                self.assertEqual(c["n"], [len(by_m[m]) for m in ms], what)
                ncurves += 1
        self.assertEqual(ncurves, 8)
        # gd over-parameterized fits both targets in some seed: not all zeros
        gd = [y for p in data["panels"] for c in p["fitted"] if c["algo"] == "gd" for y in c["y"]]
        self.assertGreater(max(gd), 0)
        self.assertIn(" | fit every target: ", proc.stdout)
        # without --fitted the panels have no such row
        _, plain = self.figure("e1", self.sweep, "--out", self.prefix("e1-plain"))
        self.assertNotIn("fitted", plain["panels"][0])

    def test_e5(self):
        """E5 on this grid sweep: m* per (algo, l, d), the smallest m of the grid
        that succeeds (lazy_opt: median error <= 0.1; the others: >= 90 % of
        the seeds reach epsilon), computed here from the results files."""
        proc, data = self.figure("e5", self.sweep, "--out", self.prefix("e5"))
        by = {}
        for r in self.runs.values():
            by.setdefault((r["order"], r["algo"], r["dim"]), {}).setdefault(r["m"], []).append(r)
        want = {}
        for key, at_m in by.items():
            ok = {}
            for m, rs in at_m.items():
                if key[1] == "lazy_opt":
                    ok[m] = float(np.median([r["final_rel_err"] for r in rs])) <= 0.1
                else:
                    ok[m] = sum(r["final_rel_err"] <= r["eps"] for r in rs) >= 0.9 * len(rs)
            passing = [m for m in ok if ok[m]]
            m_star = min(passing) if passing else None
            below = [m for m in ok if not ok[m] and (m_star is None or m < m_star)]
            want[key] = (m_star, max(below) if below else None)
        got = {(s["order"], s["method"], p["dim"]): (p["m_star"], p["m_below"])
               for s in data["series"] for p in s["points"]}
        self.assertEqual(got, want)
        # bl fits the rank-2 target at some m of the grid in both dims
        self.assertEqual(sorted(k for k in want if k[1] == "bl" and want[k][0] is not None),
                         [(3, "bl", 6), (3, "bl", 8)])
        lines = proc.stdout.splitlines()[2:]
        self.assertEqual(len(lines), len(data["series"]))
        for s, line in zip(data["series"], lines):
            have = [(p["dim"], p["m_star"]) for p in s["points"] if p["m_star"] is not None]
            self.assertTrue(line.startswith("e5 l=%d method=%s slope=" % (s["order"],
                                                                       s["method"])), line)
            self.assertIn(" points=%d " % len(have), line)
            if len({d for d, _ in have}) >= 2:
                slope = np.polyfit(np.log([d for d, _ in have]), np.log([m for _, m in have]),
                                   1)[0]
                self.assertAlmostEqual(s["fit"]["slope"], slope, places=9)
                self.assertIn("slope=%.2f d=6..8 " % slope, line)
            else:
                self.assertIsNone(s["fit"]["slope"])
        self.assertIn("1 point not done left out", lines[-1])

    def tdp_name(self):
        names = [n for n, r in self.runs.items() if r["algo"] == "tdp"]
        self.assertEqual(len(names), 1)
        return names[0]

    def check_e2(self, data, name):
        r = self.runs[name]
        self.assertEqual(data["point"], name)
        a = [c["a"] for c in data["curves"]]
        self.assertEqual(sorted(a, reverse=True), a, "targets not ordered by weight")
        self.assertEqual(sorted(c["k"] for c in data["curves"]), list(range(len(r["a"]))))
        mass = r["hist"]["target_mass"]
        for c in data["curves"]:
            self.assertEqual(c["a"], float(r["a"][c["k"]]))
            self.assertSeries(c["x"], nulls(r["hist"]["iter"]), "iter")
            self.assertSeries(c["y"], nulls(mass[:, c["k"]]), "target_mass k=%d" % c["k"])
            hit = np.nonzero(mass[:, c["k"]] >= 0.5)[0]
            self.assertEqual(c["half_iter"], float(r["hist"]["iter"][hit[0]]) if hit.size
                             else None)

    def test_e2_sweep_and_single_run(self):
        name = self.tdp_name()
        proc, data = self.figure("e2", self.sweep)  # default output DIR/figures/e2
        self.assertEqual(data["files"], [os.path.join(self.sweep, "figures", "e2." + e)
                                         for e in ("png", "pdf")])
        self.check_e2(data, name)
        # the deflation order: the heavier target reaches half its mass first
        halves = [c["half_iter"] for c in data["curves"]]
        self.assertNotIn(None, halves, "tdp did not fit both targets")
        self.assertLess(halves[0], halves[1])
        # one run directory instead of a sweep
        _, data = self.figure("e2", os.path.join(self.sweep, "runs", name),
                              "--out", self.prefix("e2-single"))
        self.check_e2(data, name)
        # --point picks another run (a bl one)
        bl = sorted(n for n, r in self.runs.items() if r["algo"] == "bl")[0]
        _, data = self.figure("e2", self.sweep, "--point", bl, "--out", self.prefix("e2-bl"))
        self.check_e2(data, bl)

    def test_e3(self):
        _, data = self.figure("e3", self.sweep, "--out", self.prefix("e3"))
        curves = {c["point"]: c for c in data["curves"]}
        self.assertEqual(sorted(curves), sorted(self.runs))
        for name, c in curves.items():
            self.assertEqual(c["algo"], self.runs[name]["algo"])
            self.assertSeries(c["x"], nulls(self.runs[name]["hist"]["iter"]), name)
            self.assertSeries(c["y"], nulls(self.runs[name]["hist"]["dist_init"]), name)

    def test_e4(self):
        _, data = self.figure("e4", self.sweep, "--out", self.prefix("e4"))
        want = sorted(n for n, r in self.runs.items() if r["algo"] in ("bl", "tdp"))
        self.assertEqual([p["column"] for p in data["panels"]],
                         ["n_large", "min_best_corr", "max_out_of_span"])
        for panel in data["panels"]:
            col = panel["column"]
            curves = {c["point"]: c for c in panel["curves"]}
            self.assertEqual(sorted(curves), want)
            for name, c in curves.items():
                h = self.runs[name]["hist"]
                last = {}  # epoch -> its last row's value: later rows overwrite
                for e, v in zip(h["epoch"], h[col]):
                    last[float(e)] = float(v)
                self.assertSeries(c["x"], sorted(last), name + " epochs")
                self.assertSeries(c["y"], nulls([last[e] for e in sorted(last)]),
                                  "%s %s" % (name, col))
        # several epochs and large components, not a degenerate plot
        tdp = {c["point"]: c for c in data["panels"][0]["curves"]}[self.tdp_name()]
        self.assertGreaterEqual(len(tdp["x"]), 3)
        self.assertGreater(max(tdp["y"]), 0)

    def test_errors(self):
        # no summary.csv
        empty = os.path.join(self.tmp, "not-collected")
        os.makedirs(empty, exist_ok=True)
        for fig in ("e0", "e1", "e3", "e5"):
            proc, _ = self.figure(fig, empty, ok=False)
            self.assertIn("otd collect %s" % empty, proc.stderr)
        # a single run cannot make the sweep figures
        proc, _ = self.figure("e1", os.path.join(self.sweep, "runs", self.tdp_name()), ok=False)
        self.assertIn("summary.csv", proc.stderr)
        # a sweep of gd points only: the bl/tdp figures name what they need
        gd_only = edit_summary(self.sweep, os.path.join(self.tmp, "gd-only"),
                               keep=lambda row: row["algo.name"] == "gd")
        for fig in ("e2", "e4"):
            proc, _ = self.figure(fig, gd_only, ok=False)
            self.assertIn("algo.name in (tdp, bl)", proc.stderr)
            self.assertIn("algo.name present: gd", proc.stderr)
        # and a sweep without gd at m = r cannot make E0
        no_gd = edit_summary(self.sweep, os.path.join(self.tmp, "no-gd"),
                             keep=lambda row: row["algo.name"] != "gd")
        proc, _ = self.figure("e0", no_gd, ok=False)
        self.assertIn("algo.name = gd, model.m = problem.rank", proc.stderr)
        # an unknown --point
        proc, _ = self.figure("e2", self.sweep, "--point", "no-such-point", ok=False)
        self.assertIn("no point named 'no-such-point'", proc.stderr)


if __name__ == "__main__":
    unittest.main()
