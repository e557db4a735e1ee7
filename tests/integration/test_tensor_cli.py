"""`otd tensor`: the generated target written as /T of an HDF5 file, read
back with h5py: shape, symmetry, norm, agreement with the components /U and
/a written next to it, the noise norm, independence of the rank count, and
the refusals (existing output, bad configuration) before anything is
written."""
import itertools
import os
import unittest

import h5py
import numpy as np

from otdtest import TmpTestCase, run, sets


def load(path):
    with h5py.File(path, "r") as f:
        return {"T": f["T"][()], "U": f["U"][()], "a": f["a"][()],
                "attrs": {k: f.attrs[k] for k in f.attrs}}


def clean_tensor(U, a, order):
    """sum_k a_k u_k^{(x)l} as a dense array."""
    out = 0.0
    for k in range(len(a)):
        x = U[:, k]
        for _ in range(order - 1):
            x = np.multiply.outer(x, U[:, k])
        out = out + a[k] * x
    return out


def max_asymmetry(T):
    return max(np.max(np.abs(T - T.transpose(p)))
               for p in itertools.permutations(range(T.ndim)))


class TensorCli(TmpTestCase):
    def test_help(self):
        proc = run(["tensor", "--help"])
        self.assertOk(proc)
        for word in ("otd tensor", "--out", "problem.noise", "problem.tensor_file"):
            self.assertIn(word, proc.stdout)

    def test_clean_target(self):
        """Without noise /T is T* itself: normalized, symmetric, and equal to
        the components written beside it."""
        path = self.out("t.h5")
        proc = run(["tensor", "--out", path] +
                   sets(problem__order=3, problem__dim=7, problem__rank=3, run__seed=5),
                   nranks=2)
        self.assertOk(proc)
        self.assertIn(path, proc.stdout)
        self.assertIn("(7, 7, 7)", proc.stdout)
        res = load(path)
        T = res["T"]
        self.assertEqual(T.shape, (7, 7, 7))
        self.assertEqual(T.dtype, np.float64)
        self.assertEqual(res["U"].shape, (7, 3))
        self.assertEqual(res["a"].shape, (3,))
        self.assertAlmostEqual(np.linalg.norm(T), 1.0, delta=1e-12)
        self.assertLessEqual(max_asymmetry(T), 1e-15 * np.max(np.abs(T)))
        self.assertLessEqual(np.linalg.norm(T - clean_tensor(res["U"], res["a"], 3)), 1e-12)
        for key in ("config", "config_hash", "otd_version"):
            self.assertIn(key, res["attrs"])
        self.assertIn("dim: 7", res["attrs"]["config"])
        self.assertIn("engine: dense", res["attrs"]["config"])
        self.assertEqual(len(res["attrs"]["config_hash"]), 16)

    def test_noise_and_rank_counts(self):
        """problem.noise adds a symmetric tensor of exactly that norm, keyed by
        multi-index: the files of P = 1, 2, 3 agree to rounding. Works with
        the implicit engine named in the configuration."""
        args = sets(problem__order=4, problem__dim=7, problem__rank=2, problem__noise=0.5,
                    run__seed=11, engine="implicit")
        files = {}
        for p in (2, 1, 3):
            files[p] = self.out("n%d.h5" % p)
            self.assertOk(run(["tensor", "--out", files[p]] + args, nranks=p))
        ref = load(files[2])
        T = ref["T"]
        self.assertEqual(T.shape, (7,) * 4)
        self.assertLessEqual(max_asymmetry(T), 1e-15 * np.max(np.abs(T)))
        noise = np.linalg.norm(T - clean_tensor(ref["U"], ref["a"], 4))
        self.assertAlmostEqual(noise, 0.5, delta=1e-12)
        for p in (1, 3):
            res = load(files[p])
            self.assertTrue(np.array_equal(res["U"], ref["U"]))
            self.assertTrue(np.array_equal(res["a"], ref["a"]))
            diff = np.max(np.abs(res["T"] - T))
            self.assertLessEqual(diff, 1e-15 * np.max(np.abs(T)),
                                 "/T at P=%d differs from P=2 by %g" % (p, diff))

    def test_refuses_existing_output(self):
        path = self.out("t.h5")
        args = ["tensor", "--out", path] + sets(problem__dim=6)
        self.assertOk(run(args, nranks=2))
        with open(path, "rb") as f:
            before = f.read()
        proc = run(args, nranks=2)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(path, proc.stderr)
        self.assertIn("already exists", proc.stderr)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_bad_configuration(self):
        cases = [
            (sets(problem__order=1), 2, ["problem.order", "1"]),
            (sets(problem__noise=-1), 2, ["problem.noise", "-1"]),
            (sets(problem__dim=1, problem__rank=1), 2, ["problem.dim", "ranks"]),  # P > d
            (sets(problem__tensor_file="x.h5"), 2, ["problem.tensor_file"]),
        ]
        for args, p, words in cases:
            path = self.out("never.h5")
            proc = run(["tensor", "--out", path] + args, nranks=p, timeout=60)
            self.assertEqual(proc.returncode, 2, "%s: %s" % (args, proc.stderr))
            for w in words:
                self.assertIn(w, proc.stderr)
            self.assertFalse(os.path.exists(path))
        proc = run(["tensor"] + sets(problem__dim=6), nranks=2, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--out", proc.stderr)


if __name__ == "__main__":
    unittest.main()
