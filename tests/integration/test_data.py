"""Typed, described data (issue 14, item 4): after a real small sweep and
`otd collect`, summary.h5 stores each column with the type of its source
(int64, float64, bool as h5py's enum, UTF-8 strings), marks cells without a
value in /missing, and describes every dataset; results.h5 describes every
dataset; otd_sweep.dataframe(DIR) gives the same values, typed, as the HDF5
file and summary.csv; the analysis scripts refuse a python3 without h5py
with exit status 2 and a message naming /usr/bin/python3."""

import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np
import pandas as pd

from otdtest import OTD, SOURCE, run_command

ANALYSIS = os.path.join(SOURCE, "analysis")
sys.path.insert(0, ANALYSIS)
import otd_sweep  # noqa: E402

BASE = """\
problem:
  order: 3
  rank: 2
  dim: 6
model.init_scale: 1
algo:
  name: gd
  max_iters: 60
  target_rel_err: 0
run.log_every: 20
"""

# Two good points and an invalid one (no configuration, no results).
SWEEP = """\
name: data
base: base.yaml
grid:
  model.m: [3, 4]
points:
  - {model.m: -1}
"""

INT64_MIN = -(2 ** 63)


class DataTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="otd-test-data-")
        with open(os.path.join(cls.tmp, "base.yaml"), "w") as f:
            f.write(BASE)
        with open(os.path.join(cls.tmp, "sweep.yaml"), "w") as f:
            f.write(SWEEP)
        cls.dir = os.path.join(cls.tmp, "sw")
        p = run_command([OTD, "sweep", os.path.join(cls.tmp, "sweep.yaml"), "--out", cls.dir,
                         "--local", "1"], timeout=300)
        assert p.returncode == 1, p.stdout + p.stderr  # the invalid point
        p = run_command([OTD, "collect", cls.dir], timeout=120)
        assert p.returncode == 1, p.stdout + p.stderr
        with open(os.path.join(cls.dir, "summary.csv"), newline="") as f:
            cls.csv = list(csv.DictReader(f))
        cls.h5 = os.path.join(cls.dir, "summary.h5")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def rows(self):
        """The points in manifest order: two done, then the invalid one."""
        self.assertEqual([r["status"] for r in self.csv], ["done", "done", "failed"])
        return self.csv

    def test_summary_types(self):
        self.rows()
        with h5py.File(self.h5, "r") as f:
            want = {"index": np.int64, "iters": np.int64, "restarts": np.int64,
                    "model.m": np.int64, "problem.dim": np.int64, "run.seed": np.int64,
                    "max_iters": np.int64, "algo.lr": np.float64, "final_rel_err": np.float64,
                    "wall_seconds": np.float64, "steps_per_s": np.float64,
                    "problem.normalize": np.bool_}
            for col, t in want.items():
                self.assertEqual(f[col].dtype, np.dtype(t), col)
            for col in ("name", "status", "reason", "rundir", "algo.name", "problem.weights",
                        "run.checkpoint_every", "problem.components_file"):
                self.assertEqual(h5py.check_string_dtype(f[col].dtype).encoding, "utf-8", col)
                self.assertIsNone(h5py.check_string_dtype(f[col].dtype).length, col)
            self.assertEqual(list(f["model.m"][()]), [3, 4, INT64_MIN])
            self.assertEqual(list(f["problem.normalize"][()]), [True, True, False])
            self.assertEqual(list(f["algo.name"].asstr()[()]), ["gd", "gd", ""])
            self.assertEqual(list(f["status"].asstr()[()]), ["done", "done", "failed"])
            self.assertEqual(list(f["run.checkpoint_every"].asstr()[:2]), ["auto", "auto"])
            self.assertEqual(list(f["iters"][:2]), [60, 60])
            # Only the invalid point lacks values, and only where it has none.
            for col in ("model.m", "problem.normalize", "algo.name", "algo.lr", "iters",
                        "final_rel_err"):
                self.assertEqual(list(f["missing"][col][()]), [False, False, True], col)
                self.assertEqual(f["missing"][col].dtype, np.dtype(bool))
            for col in ("index", "name", "status", "reason", "restarts"):
                self.assertNotIn(col, f["missing"], col)
            self.assertTrue(math.isnan(f["final_rel_err"][2]))

    def test_csv_text(self):
        rows = self.rows()
        self.assertEqual([r["model.m"] for r in rows], ["3", "4", ""])
        self.assertEqual([r["iters"] for r in rows][:2], ["60", "60"])
        self.assertEqual([r["index"] for r in rows], ["0", "1", "2"])
        self.assertEqual([r["problem.normalize"] for r in rows], ["true", "true", ""])

    def test_descriptions_and_units(self):
        def check(path, f):
            seen = []

            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    seen.append(name)
                    desc = obj.attrs.get("description")
                    self.assertIsInstance(desc, str, f"{path}: {name}")
                    self.assertTrue(desc.strip(), f"{path}: {name}")
            f.visititems(visit)
            return seen

        runs = [r["rundir"] for r in self.rows()[:2]]
        for rundir in runs:
            path = os.path.join(self.dir, rundir, "results.h5")
            with h5py.File(path, "r") as f:
                seen = check(path, f)
                for name in ("init/W", "final/W", "target/U", "target/a", "history/rel_err",
                             "history/wall_time", "history/target_mass"):
                    self.assertIn(name, seen)
                self.assertEqual(f["history/wall_time"].attrs["unit"], "s")
                self.assertNotIn("unit", f["history/rel_err"].attrs)
                self.assertNotIn("unit", f["history/iter"].attrs)
                self.assertIn("relative error", f["history/rel_err"].attrs["description"])
        with h5py.File(self.h5, "r") as f:
            seen = check(self.h5, f)
            self.assertIn("missing/model.m", seen)
            for col in f.attrs["columns"].split(","):
                self.assertIn(col, seen)
            for col in ("wall_seconds", "run.progress_seconds", "run.checkpoint_seconds"):
                self.assertEqual(f[col].attrs["unit"], "s", col)
            self.assertEqual(f["steps_per_s"].attrs["unit"], "1/s")
            for col in ("final_rel_err", "model.m", "iters", "algo.name"):
                self.assertNotIn("unit", f[col].attrs, col)
            # A configuration key: the first sentence of its help.
            self.assertEqual(f["algo.lr"].attrs["description"],
                             "Step size eta of every gradient step.")
            self.assertEqual(f["model.m"].attrs["description"],
                             "Number m of model components w_i (columns of W); "
                             "over-parameterized when m > r.")

    def test_dataframe(self):
        rows = self.rows()
        df = otd_sweep.dataframe(self.dir)
        with h5py.File(self.h5, "r") as f:
            cols = f.attrs["columns"].split(",")
            self.assertEqual(list(df.columns), cols)
            self.assertEqual(len(df), 3)
            # The invalid point makes config and result columns nullable.
            self.assertEqual(str(df["index"].dtype), "int64")
            self.assertEqual(str(df["restarts"].dtype), "int64")
            self.assertEqual(str(df["model.m"].dtype), "Int64")
            self.assertEqual(str(df["problem.normalize"].dtype), "boolean")
            self.assertEqual(df["algo.lr"].dtype, np.float64)
            self.assertEqual(df["final_rel_err"].dtype, np.float64)
            self.assertEqual(df["algo.name"].dtype, object)
            self.assertEqual(df["status"].dtype, object)
            self.assertEqual(list(df["name"]), [r["name"] for r in rows])
            self.assertEqual(df.attrs["unit"]["wall_seconds"], "s")
            self.assertEqual(df.attrs["description"]["algo.lr"], f["algo.lr"].attrs["description"])
            for col in cols:
                h = f[col].asstr()[()] if h5py.check_string_dtype(f[col].dtype) else f[col][()]
                miss = f["missing"][col][()] if col in f["missing"] else [False] * 3
                for i in range(3):
                    v, c = df[col].iloc[i], rows[i][col]
                    if miss[i]:
                        self.assertTrue(pd.isna(v), (col, i, v))
                        self.assertEqual(c, "", (col, i))
                        continue
                    self.assertFalse(v is None, (col, i))
                    if isinstance(h[i], (float, np.floating)):
                        self.assertTrue(v == h[i] or (math.isnan(v) and math.isnan(h[i])))
                        self.assertEqual(float(c), v, (col, i))  # 17 digits: exact
                    elif isinstance(h[i], (bool, np.bool_)):
                        self.assertEqual(bool(v), bool(h[i]), (col, i))
                        self.assertEqual(c, "true" if v else "false", (col, i))
                    elif isinstance(h[i], (int, np.integer)):
                        self.assertEqual(int(v), int(h[i]), (col, i))
                        self.assertEqual(c, str(int(v)), (col, i))
                    else:
                        self.assertIsInstance(v, str, (col, i))
                        self.assertEqual(v, h[i], (col, i))
                        self.assertEqual(c, v, (col, i))
        # The done points alone: plain numpy types, as the session shows.
        done = otd_sweep.dataframe(self.dir).iloc[:2]
        self.assertEqual(list(done["model.m"].astype("int64")), [3, 4])
        self.assertEqual(list(done["problem.normalize"].astype(bool)), [True, True])

    def test_dataframe_complete_columns_plain(self):
        """A sweep without missing cells reads as plain int64 and bool."""
        d = os.path.join(self.tmp, "good")
        shutil.copytree(self.dir, d)
        # Collect again with the invalid point fixed.
        cfgs = os.path.join(d, "configs")
        bad = [n for n in os.listdir(cfgs) if n.startswith("m-1")][0]
        with open(os.path.join(cfgs, bad)) as f:
            text = f.read()
        with open(os.path.join(cfgs, bad), "w") as f:
            f.write(text.replace("m: -1", "m: 2"))
        run_command([OTD, "collect", d], timeout=120)
        df = otd_sweep.dataframe(d)
        self.assertEqual(df["model.m"].dtype, np.int64)
        self.assertEqual(list(df["model.m"]), [3, 4, 2])
        self.assertEqual(df["problem.normalize"].dtype, np.bool_)
        with h5py.File(os.path.join(d, "summary.h5"), "r") as f:
            self.assertNotIn("model.m", f.get("missing", {}))

    def test_dataframe_no_summary(self):
        with self.assertRaises(otd_sweep.SweepError) as e:
            otd_sweep.dataframe(self.tmp)
        self.assertIn("otd collect", str(e.exception))

    def test_interpreter_check(self):
        """-I -S: /usr/bin/python3 without its site-packages, where Debian's
        h5py lives: the scripts say what to use instead of a traceback."""
        for script in ("figures.py", "plot_run.py", "e5_search.py"):
            p = subprocess.run(["/usr/bin/python3", "-I", "-S", os.path.join(ANALYSIS, script),
                                "--help"], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, script + p.stderr)
            self.assertIn("cannot import h5py", p.stderr, script)
            self.assertIn("Run the otd analysis scripts with /usr/bin/python3", p.stderr)
            self.assertNotIn("Traceback", p.stderr, script)
        # The library too, imported from a session.
        p = subprocess.run(["/usr/bin/python3", "-I", "-S", "-c",
                            "import sys; sys.path.insert(0, %r); import otd_sweep" % ANALYSIS],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("python3-pandas", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        # With its site-packages the same interpreter passes the check.
        p = subprocess.run(["/usr/bin/python3", os.path.join(ANALYSIS, "figures.py"), "--help"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()
