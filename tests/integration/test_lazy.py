"""The lazy regime through the real `otd run` (issue #5): lazy_opt's
optimal lazy error on the headline problem of docs/science.md E1 (l = 3, d = 10,
r = 3, orthonormal), the same answers at any rank count, lazy_gd reaching
lazy_opt's error, checkpoints and resume of lazy_gd, the summary the
analysis reads, and the memory check. The numbers themselves are checked
against a dense least-squares solve in tests/mpi/test_lazy.c."""
import os
import unittest

import h5py
import numpy as np

from otdtest import TmpTestCase, read, run, sets

CONFIG = os.path.join(os.environ.get("OTD_SOURCE_DIR", "."), "jobs", "configs", "default.yaml")
# E1's smallest point: l = 3, d = 10, r = 3, orthonormal (default.yaml).
E1 = [CONFIG] + sets(run__log_every=100)


def summary(path):
    with h5py.File(os.path.join(path, "results.h5"), "r") as f:
        out = {}
        for k, v in f["summary"].attrs.items():
            out[k] = v.decode() if isinstance(v, bytes) else v
        return out


class LazyOpt(TmpTestCase):
    def lazy_opt(self, m, nranks=2, extra=(), tag=""):
        out = self.out("lazy_opt-m%d-P%d%s" % (m, nranks, tag))
        res = run(["run"] + E1 + ["--out", out] + sets(algo__name="lazy_opt", model__m=m)
                  + list(extra), nranks=nranks)
        self.assertOk(res)
        return out, res

    def test_e1_dimension_count(self):
        """Lazy needs m ~ D/d = 22: stuck above 0.5 at m = 12, exact (below
        1e-3) at m = 30; bl reaches 1e-3 at m = 12."""
        out12, res = self.lazy_opt(12)
        s12 = summary(out12)
        self.assertEqual(s12["status"], "solved")
        self.assertGreater(s12["final_rel_err"], 0.5)
        self.assertIn("optimal lazy rel_err", res.stdout)
        self.assertAlmostEqual(s12["dim_count"], np.sqrt(1 - 120 / 220), places=12)
        self.assertEqual(s12["lazy_n"], 120)
        self.assertEqual(s12["lazy_solver"], "cholesky")
        self.assertGreater(s12["lazy_bytes_per_rank"], 0)
        out30, _ = self.lazy_opt(30)
        s30 = summary(out30)
        self.assertLess(s30["final_rel_err"], 1e-3)
        self.assertEqual(s30["dim_count"], 0.0)
        bl = self.out("bl-m12")
        self.assertOk(run(["run"] + E1 + ["--out", bl] + sets(model__m=12), nranks=2))
        sbl = summary(bl)
        self.assertEqual(sbl["status"], "converged")
        self.assertLessEqual(sbl["final_rel_err"], 1e-3)
        # History: W0, then the lazy optimum; dist_init = ||Delta|| / ||W0||.
        r = read(os.path.join(out12, "results.h5"))
        h = r["history"]
        np.testing.assert_array_equal(h["iter"], [0, 1])
        self.assertEqual(h["dist_init"][0], 0.0)
        W0, W = r["init/W"], r["final/W"]
        self.assertAlmostEqual(h["dist_init"][1],
                               np.linalg.norm(W - W0) / np.linalg.norm(W0), places=12)
        self.assertEqual(h["rel_err"][1], s12["final_rel_err"])

    def test_same_answer_any_rank_count(self):
        """P = 1, 2, 3, 4 (grids 1x1, 1x2, 1x3, 2x2) agree to 1e-8."""
        errs, Ws = [], []
        for p in (1, 2, 3, 4):
            out, _ = self.lazy_opt(20, nranks=p, extra=sets(algo__lazy_block=16))
            errs.append(summary(out)["final_rel_err"])
            Ws.append(read(os.path.join(out, "results.h5"))["final/W"])
        for p in range(1, 4):
            self.assertLess(abs(errs[p] - errs[0]), 1e-8 * errs[0], errs)
            self.assertLess(np.max(np.abs(Ws[p] - Ws[0])), 1e-8 * np.max(np.abs(Ws[0])))

    def test_cg_through_run(self):
        """algo.lazy_solver = cg through `otd run`: the dense solve's error
        at P = 1 and 3, and its summary; auto picks cg beyond m d = 8192
        and says so."""
        dense, _ = self.lazy_opt(12, nranks=1)
        want = summary(dense)["final_rel_err"]
        for p in (1, 3):
            out, res = self.lazy_opt(12, nranks=p, extra=sets(algo__lazy_solver="cg"), tag="cg")
            s = summary(out)
            self.assertEqual(s["lazy_solver"], "cg")
            self.assertEqual(s["lazy_converged"], 1)
            self.assertLessEqual(s["lazy_residual"], 1e-10)
            self.assertGreater(s["lazy_iters"], 0)
            self.assertLess(abs(s["final_rel_err"] - want), 1e-8 * want)
            self.assertIn("by preconditioned CG", res.stdout)
        out, res = self.lazy_opt(12, nranks=1, tag="cg2",
                                 extra=sets(algo__lazy_solver="cg", algo__lazy_max_iters=2))
        s = summary(out)
        self.assertEqual(s["lazy_converged"], 0)
        self.assertGreater(s["final_rel_err"], want)
        self.assertIn("upper bound", res.stdout)
        # auto: m d = 8200 > 8192 is solved by CG (d = 10, m = 820), and the
        # banner says why; nothing of order 8200^2 is allocated.
        out, res = self.lazy_opt(820, nranks=2, extra=sets(algo__lazy_max_iters=5))
        self.assertIn("CG (auto: m d > 8192)", res.stdout)
        self.assertEqual(summary(out)["lazy_solver"], "cg")

    def test_memory_is_checked_first(self):
        """m d = 1e8: a clear error naming the need, exit 2, nothing written."""
        out = self.out("huge")
        res = run(["run", CONFIG, "--out", out]
                  + sets(algo__name="lazy_opt", algo__lazy_solver="dense", problem__dim=1000,
                         model__m=100000), nranks=2)
        self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
        self.assertIn("GiB per rank", res.stderr)
        self.assertIn("model.m", res.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "results.h5")))


class LazyGD(TmpTestCase):
    def test_reaches_lazy_opt(self):
        """GD on the linearization converges to lazy_opt's error; its
        distance from W0 grows and stays finite."""
        opt = self.out("opt")
        self.assertOk(run(["run"] + E1 + ["--out", opt] + sets(algo__name="lazy_opt"),
                          nranks=2))
        gd = self.out("gd")
        self.assertOk(run(["run"] + E1 + ["--out", gd]
                          + sets(algo__name="lazy_gd", algo__lr=0.02, algo__max_iters=20000),
                          nranks=2))
        e_opt, e_gd = summary(opt)["final_rel_err"], summary(gd)["final_rel_err"]
        self.assertGreaterEqual(e_gd, e_opt * (1 - 1e-9))
        self.assertLess(e_gd - e_opt, 1e-3 * e_opt, (e_gd, e_opt))
        h = read(os.path.join(gd, "results.h5"))["history"]
        self.assertEqual(h["dist_init"][0], 0.0)
        self.assertTrue(np.all(np.isfinite(h["dist_init"])))
        self.assertGreater(h["dist_init"][-1], 0.0)

    def test_scaled_model_starts_at_one_and_is_lazy(self):
        """alpha (T(W) - T(W0)) starts at 0 (rel_err 1); with alpha = 100 GD
        ends near lazy_opt's error and barely moves W (dist_init ~ 1/alpha)."""
        opt = self.out("opt")
        self.assertOk(run(["run"] + E1 + ["--out", opt] + sets(algo__name="lazy_opt"),
                          nranks=1))
        out = self.out("alpha")
        self.assertOk(run(["run"] + E1 + ["--out", out]
                          + sets(algo__name="lazy_gd", algo__lazy_alpha=100, algo__lr=0.02,
                                 algo__max_iters=20000), nranks=2))
        h = read(os.path.join(out, "results.h5"))["history"]
        self.assertAlmostEqual(h["rel_err"][0], 1.0, places=10)
        e_opt = summary(opt)["final_rel_err"]
        self.assertLess(abs(summary(out)["final_rel_err"] - e_opt), 0.01 * e_opt)
        self.assertLess(h["dist_init"][-1], 0.05)

    def test_resume_is_bitwise(self):
        """Killed after a committed checkpoint, resumed: the same bits as an
        uninterrupted run, for the linearized and the scaled model."""
        for alpha in (0, 10):
            args = E1 + sets(algo__name="lazy_gd", algo__lazy_alpha=alpha, algo__lr=0.02,
                             algo__max_iters=1500, algo__target_rel_err=0,
                             run__checkpoint_every=500)
            ref = self.out("ref-%d" % alpha)
            self.assertOk(run(["run"] + args + ["--out", ref], nranks=2))
            cut = self.out("cut-%d" % alpha)
            res = run(["run"] + args + ["--out", cut], nranks=2,
                      env={"OTD_TEST_CRASH_AT": "prune:3"})
            self.assertNotEqual(res.returncode, 0)
            res = run(["run"] + args + ["--out", cut], nranks=2)
            self.assertOk(res)
            self.assertIn("resuming at iteration 1000", res.stdout)
            a, b = read(os.path.join(ref, "results.h5")), read(os.path.join(cut, "results.h5"))
            np.testing.assert_array_equal(a["final/W"], b["final/W"])
            np.testing.assert_array_equal(a["history"]["rel_err"], b["history"]["rel_err"])


if __name__ == "__main__":
    unittest.main()
