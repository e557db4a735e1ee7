"""bl and tdp end to end: `otd run` with a short, growing epoch and a row
logged every step, checked from results.h5 against what this file computes
on its own:

  - the `epoch` column is the exact schedule start_s = sum_{t<s}
    ceil(H_0 (1+gamma)^t) (rational arithmetic) at every row;
  - `n_reinit` is nonzero only at the first row of an epoch s >= 1 (and is
    nonzero there in most epochs: the test is not empty); the run ends on
    an epoch start, so the columns redrawn there are exactly those of the
    final W with norm delta_0;
  - at the first and the last row, the metrics of src/driver/metrics.c
    (n_large, min_best_corr, max_out_of_span, target_mass, target_count,
    n_fitted, sum_sq_norm, max_norm, rel_err, dist_init) agree with NumPy
    from /init/W or /final/W and /target/U, /target/a;
  - n_fitted, the fitted-target count, agrees with NumPy at the final W of
    gd and bl runs, also with its thresholds (metrics.fit_corr,
    metrics.fit_mass_tol) set between the values of that W, and a target
    whose direction is found but whose mass is not is not counted;
  - P = 2 gives the same run as P = 1: integer columns bitwise, floats to
    1e-12."""
import math
import os
import unittest
from fractions import Fraction
from functools import reduce

import numpy as np

from otdtest import TmpTestCase, read, run, sets

# Columns holding counts or labels: equal bitwise at every rank count.
EXACT = ("iter", "epoch", "n_reinit", "n_large", "target_count", "n_fitted")


def epoch_starts(h0, gamma, limit):
    """Exact epoch starts [0, H_0, ...] up to the first one beyond limit;
    gamma is a decimal string, read exactly."""
    g = Fraction(gamma)
    starts = [0]
    s = 0
    while starts[-1] <= limit:
        starts.append(starts[-1] + math.ceil(h0 * (1 + g) ** s))
        s += 1
    return starts


def expected_epochs(starts, iters):
    return np.array([np.searchsorted(starts, it, side="right") - 1 for it in iters])


def dense(coef, V, order):
    """sum_i coef_i v_i^{(x) order} as a dense d^order array."""
    return sum(c * reduce(np.multiply.outer, [v] * order) for c, v in zip(coef, V.T))


def fitted_targets(W, U, a, order, homogeneous, large_fraction=0.1):
    """Per target k: match[k], the largest |cos(w_i, u_k)| of a large
    component whose best-correlated target is k (0 if none), and mass[k]
    (target_mass). Target k is fitted when match[k] >= metrics.fit_corr and
    |mass[k] - 1| <= metrics.fit_mass_tol (docs/science.md section 6)."""
    n = np.linalg.norm(W, axis=0)
    coef = n ** 2 if homogeneous else n ** order
    cos = (W.T @ U) / np.outer(np.where(n > 0, n, 1.0), np.linalg.norm(U, axis=0))
    large = (n > 0) & (coef >= large_fraction * np.min(np.abs(a)))
    match = np.zeros(len(a))
    for i in np.nonzero(large)[0]:
        k = np.argmax(np.abs(cos[i]))
        match[k] = max(match[k], abs(cos[i, k]))
    unorm = np.linalg.norm(U, axis=0)
    mass = coef @ ((cos * unorm) ** order) / (a * unorm ** (2 * order))
    return match, mass


def n_fitted(match, mass, fit_corr=0.99, fit_mass_tol=0.01):
    return float(np.sum((match >= fit_corr) & (np.abs(mass - 1) <= fit_mass_tol)))


def reference_metrics(W, W0, U, a, order, homogeneous, large_fraction, lam):
    """The definitions of include/otd/otd_metrics.h, computed directly."""
    n = np.linalg.norm(W, axis=0)
    coef = n ** 2 if homogeneous else n ** order
    V = W / np.where(n > 0, n, 1.0)
    unorm = np.linalg.norm(U, axis=0)
    cos = (V.T @ U) / unorm  # m x r
    best = np.max(np.abs(cos), axis=1)
    kbest = np.argmax(np.abs(cos), axis=1)
    large = (n > 0) & (coef >= large_fraction * np.min(np.abs(a)))
    # fraction of ||w||^2 outside span{u_k}: least-squares projection
    proj = U @ np.linalg.lstsq(U, W, rcond=None)[0]
    out = np.maximum(0.0, 1.0 - np.sum(proj ** 2, axis=0) / np.where(n > 0, n ** 2, 1.0))
    T = dense(coef, V, order)
    Tstar = dense(a, U, order)
    return {
        "n_large": float(np.sum(large)),
        "min_best_corr": np.min(best[large]) if large.any() else np.nan,
        "max_out_of_span": np.max(out[large]) if large.any() else np.nan,
        "target_count": np.bincount(kbest[large], minlength=len(a)).astype(float),
        "target_mass": coef @ ((V.T @ U) ** order) / (a * unorm ** (2 * order)),
        "n_fitted": n_fitted(*fitted_targets(W, U, a, order, homogeneous, large_fraction)),
        "sum_sq_norm": np.sum(n ** 2),
        "max_norm": np.max(n),
        "rel_err": np.linalg.norm(T - Tstar) / np.linalg.norm(Tstar),
        "fit_loss": 0.5 * np.sum((T - Tstar) ** 2),
        "loss": 0.5 * np.sum((T - Tstar) ** 2) + 0.5 * lam * np.sum(W ** 2),
        "dist_init": np.linalg.norm(W - W0) / np.linalg.norm(W0),
    }


class EpochsAndReinit(TmpTestCase):

    def run_case(self, algo, h0, gamma, delta0, delta1, order, homogeneous, steps, extra):
        starts = epoch_starts(h0, gamma, steps)
        # The run ends on an epoch start, after several epochs.
        self.assertIn(steps, starts)
        self.assertGreaterEqual(starts.index(steps), 8)
        args = sets(algo__name=algo, algo__epoch_len=h0, algo__epoch_growth=gamma,
                    model__init_scale=delta0, algo__reinit_threshold=delta1,
                    model__param="homogeneous" if homogeneous else "plain",
                    problem__order=order, run__log_every=1, algo__max_iters=steps,
                    algo__target_rel_err=0, algo__lambda=1e-3) + extra
        results = {}
        for p in (1, 2):
            out = self.out("%s-P%d" % (algo, p))
            self.assertOk(run(["run", "--out", out] + args, nranks=p))
            results[p] = read(os.path.join(out, "results.h5"))
        res = results[1]
        h = res["history"]
        iters = h["iter"]
        np.testing.assert_array_equal(iters, np.arange(steps + 1))

        # Epoch column: the exact schedule at every row.
        want = expected_epochs(starts, iters)
        bad = np.nonzero(h["epoch"] != want)[0]
        self.assertEqual(len(bad), 0, "epoch differs at iterations %s: got %s, expected %s"
                         % (iters[bad][:5], h["epoch"][bad][:5], want[bad][:5]))

        # Re-initializations: only at the first step of an epoch s >= 1.
        is_start = np.isin(iters, starts[1:])
        nre = h["n_reinit"]
        self.assertTrue(np.all(nre[~is_start] == 0),
                        "n_reinit nonzero off epoch starts at iterations %s"
                        % iters[(~is_start) & (nre != 0)])
        m = res["final/W"].shape[1]
        self.assertTrue(np.all((nre >= 0) & (nre <= m)))
        self.assertGreaterEqual(int(np.sum(nre[is_start] > 0)), 6,
                                "too few re-initializations to test: %s" % nre[is_start])
        # The last row is an epoch start: the columns redrawn there are the
        # final W's columns of norm delta_0 (the others moved off it).
        W, W0, U, a = res["final/W"], res["init/W"], res["target/U"], res["target/a"]
        norms = np.linalg.norm(W, axis=0)
        redrawn = np.abs(norms - delta0) <= 1e-14 * delta0
        self.assertGreater(nre[-1], 0)
        self.assertEqual(int(np.sum(redrawn)), int(nre[-1]),
                         "final column norms %s, delta_0 %g, n_reinit %d"
                         % (norms, delta0, nre[-1]))
        # bl/tdp start from columns of norm delta_0.
        np.testing.assert_allclose(np.linalg.norm(W0, axis=0), delta0, rtol=1e-14, atol=0)

        # Metrics at the first and last rows from W0 and the final W.
        for row, Wr in ((0, W0), (-1, W)):
            ref = reference_metrics(Wr, W0, U, a, order, homogeneous, 0.1, 1e-3)
            for name, val in ref.items():
                got = h[name][row]
                tol = 1e-8 if name in ("rel_err", "fit_loss", "loss") else 1e-10
                if name in ("n_large", "target_count", "n_fitted"):
                    np.testing.assert_array_equal(got, val, err_msg="%s at row %d" % (name, row))
                else:
                    np.testing.assert_allclose(got, val, rtol=tol, atol=1e-13,
                                               err_msg="%s at row %d" % (name, row))
        # The final row has large components (the correlation checks were
        # not of NaNs) and not every component is large.
        self.assertGreater(h["n_large"][-1], 0)
        self.assertLess(h["n_large"][-1], m)

        # P = 2 gives the same run.
        other = results[2]
        self.assertTrue(np.array_equal(other["init/W"], res["init/W"]))
        np.testing.assert_allclose(other["final/W"], res["final/W"], rtol=0,
                                   atol=1e-12 * np.max(np.abs(res["final/W"])),
                                   err_msg="final W at P = 2")
        for name, col in h.items():
            if name == "wall_time":
                continue
            if name in EXACT:
                self.assertTrue(np.array_equal(other["history"][name], col),
                                "%s differs between P = 1 and P = 2" % name)
            else:
                # to 1e-12 of the column's scale (rel_err near 0 carries
                # the cancellation of its Gram-matrix formula)
                scale = np.nanmax(np.abs(col))
                np.testing.assert_allclose(other["history"][name], col, rtol=1e-12,
                                           atol=1e-12 * scale, equal_nan=True,
                                           err_msg="%s at P = 2" % name)
        return res

    def test_bl_homogeneous(self):
        # starts 0, 4, 10, 19, 33, 54, 85, 131, 200
        self.run_case("bl", 4, "0.5", 0.05, 0.05, 3, True, 200,
                      sets(problem__dim=6, problem__rank=2, model__m=8, algo__lr=0.5,
                           run__seed=2))

    def test_tdp_plain_gaussian(self):
        # starts 0, 5, 12, 20, 30, 43, 59, 79, 103, 133, 171, 218
        self.run_case("tdp", 5, "0.25", 0.1, 0.12, 3, False, 218,
                      sets(problem__dim=6, problem__rank=3, problem__target="gaussian",
                           model__m=9, algo__lr=0.3, run__seed=4))


class FittedTargets(TmpTestCase):
    """n_fitted (history column and /summary) against fitted_targets() from
    the stored final W. gd with m = 5 > r = 3 stopped by its budget at
    relative error 2.4e-2 has fitted every target (its redundant components
    are still decaying): the count says so where the error does not. Each
    threshold set between two of that W's values splits the count there,
    in the direction the definition says."""

    def run_fitted(self, name, extra):
        out = self.out(name)
        self.assertOk(run(["run", "--out", out] + extra))
        res = read(os.path.join(out, "results.h5"))
        h, s = res["history"], res["summary"]
        self.assertEqual(h["iter"][-1], int(s["iters"]))
        self.assertEqual(h["n_fitted"][-1], int(s["n_fitted"]))
        return res, int(s["n_fitted"])

    def test_gd_thresholds(self):
        base = sets(algo__name="gd", problem__dim=10, problem__rank=3, model__m=5, run__seed=1,
                    algo__max_iters=5000, run__log_every=1000)
        res, got = self.run_fitted("gd", base)
        match, mass = fitted_targets(res["final/W"], res["target/U"], res["target/a"], 3, False)
        self.assertGreater(float(res["summary"]["final_rel_err"]), 1e-2)
        self.assertEqual(got, n_fitted(match, mass))
        self.assertEqual(got, 3)
        # fit_corr between the two weakest matches: one target fewer
        lo, hi = np.sort(match)[:2]
        self.assertGreater(hi - lo, 1e-9, match)
        corr = (lo + hi) / 2
        _, got = self.run_fitted("corr", base + sets(metrics__fit_corr=repr(corr)))
        self.assertEqual(got, n_fitted(match, mass, fit_corr=corr))
        self.assertEqual(got, 2)
        # fit_mass_tol between the two closest masses: only the closest
        dev = np.sort(np.abs(mass - 1))
        self.assertGreater(dev[1] - dev[0], 1e-9, mass)
        tol = (dev[0] + dev[1]) / 2
        _, got = self.run_fitted("mass", base + sets(metrics__fit_mass_tol=repr(tol)))
        self.assertEqual(got, n_fitted(match, mass, fit_mass_tol=tol))
        self.assertEqual(got, 1)

    def test_bl_direction_without_mass(self):
        # bl on geometric weights stopped at 1500 steps: the third target's
        # direction is found (a large component at |cos| > 0.99) but only
        # part of its weight is there, so it does not count.
        res, got = self.run_fitted("bl", sets(
            algo__name="bl", problem__dim=20, problem__rank=5, problem__weights="geometric",
            model__m=20, run__seed=3, algo__max_iters=1500, run__log_every=500))
        match, mass = fitted_targets(res["final/W"], res["target/U"], res["target/a"], 3, True)
        self.assertEqual(got, n_fitted(match, mass))
        partial = (match >= 0.99) & (np.abs(mass - 1) > 0.01)
        self.assertTrue(partial.any(), (match, mass))
        self.assertEqual(got, int(np.sum(match >= 0.99)) - int(np.sum(partial)))
        self.assertGreater(got, 0)


if __name__ == "__main__":
    unittest.main()
