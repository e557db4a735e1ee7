"""`otd run` with engine = dense: a tensor written by `otd tensor` and read
back through problem.tensor_file gives the same run as the generated dense
tensor, and every bad tensor file stops the run before anything is
written."""
import os
import unittest

import h5py
import numpy as np

from otdtest import TmpTestCase, read, run, sets

BASE = sets(engine="dense", problem__order=3, problem__dim=9, model__m=6, algo__name="gd",
            model__init_scale=0.5, algo__max_iters=60, algo__target_rel_err=0, run__seed=4)


class TensorFile(TmpTestCase):
    def test_round_trip(self):
        tfile = self.out("t.h5")
        proc = run(["tensor", "--out", tfile] + BASE + sets(problem__noise=0.1), nranks=2)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        gen = self.out("gen")
        proc = run(["run", "--out", gen] + BASE + sets(problem__noise=0.1), nranks=3)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("dense: mode-1 slices", proc.stdout)
        fromfile = self.out("file")
        proc = run(["run", "--out", fromfile] + BASE + sets(problem__tensor_file=tfile),
                   nranks=3)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("T* from", proc.stdout)
        a = read(os.path.join(gen, "results.h5"))
        with h5py.File(os.path.join(fromfile, "results.h5"), "r") as f:
            w_file = f["final/W"][()]
            w0_file = f["init/W"][()]
            rel_file = f["history/rel_err"][()]
        self.assertTrue(np.array_equal(w0_file, a["init/W"]))
        # the file holds (mult * T) / mult: equal to T up to one rounding
        scale = np.max(np.abs(a["final/W"]))
        self.assertLess(np.max(np.abs(w_file - a["final/W"])) / scale, 1e-12)
        np.testing.assert_allclose(rel_file, a["history"]["rel_err"], rtol=1e-10)
        # and the run did something: the noisy target cannot be fit exactly
        self.assertLess(rel_file[-1], rel_file[0])


class BadTensorFiles(TmpTestCase):
    def write(self, name, data, dset="T"):
        path = self.out(name)
        with h5py.File(path, "w") as f:
            f[dset] = data
        return path

    def test_errors(self):
        rng = np.random.default_rng(1)
        g = rng.standard_normal((9, 9, 9))
        sym = sum(np.transpose(g, p) for p in
                  [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]) / 6
        text = self.out("text.h5")
        with open(text, "w") as f:
            f.write("not hdf5\n")
        nan = sym.copy()
        nan[2, 5, 1] = np.nan
        asym = sym.copy()
        asym[0, 3, 1] += 1e-3
        cases = [
            (text, "not an HDF5 file"),
            (self.write("other.h5", sym, dset="X"), "/T"),
            (self.write("rank.h5", sym[:, :, 0]), "problem.order"),
            (self.write("shape.h5", sym[:8, :8, :8]), "problem.dim"),
            (self.write("nan.h5", nan), "[2, 5, 1]"),
            (self.write("asym.h5", asym), "asymmetr"),
            (self.write("int.h5", np.ones((9, 9, 9), dtype=np.int32)), "floating"),
        ]
        for p in (1, 3):
            for path, msg in cases:
                out = self.out("never-%d" % p)
                proc = run(["run", "--out", out] + BASE + sets(problem__tensor_file=path),
                           nranks=p)
                self.assertEqual(proc.returncode, 2, "%s: %s" % (path, proc.stderr))
                self.assertIn("problem.tensor_file", proc.stderr)
                self.assertIn(msg, proc.stderr, path)
                self.assertFalse(os.path.exists(os.path.join(out, "results.h5")))
        # a symmetric file is accepted
        ok = self.write("ok.h5", sym)
        proc = run(["run", "--out", self.out("ok")] + BASE + sets(problem__tensor_file=ok),
                   nranks=2)
        self.assertEqual(proc.returncode, 0, proc.stderr)


if __name__ == "__main__":
    unittest.main()
