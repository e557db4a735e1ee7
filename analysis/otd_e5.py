"""E5, the separation experiment: m* (the smallest m that succeeds) per
(method, l, d), shared by analysis/figures.py (`figures.py e5 DIR`) and the
adaptive search analysis/e5_search.py. docs/science.md section 5 defines E5.

m* of a (method, l, d), from the runs at each m (one per seed):
  - lazy_opt: the smallest m whose median final_rel_err over the seeds is
    <= LAZY_THRESHOLD (0.1);
  - every other method (bl, gd, ...): the smallest m at which at least
    SUCCESS_FRACTION (90 %) of the seeds reach epsilon, final_rel_err <=
    algo.target_rel_err (a run stops as converged exactly then).
The smallest m *among those run*: on a grid, m* is known to within the ratio
to the largest failing m below it (m_below); the search runs m* - 1 as well.

    from otd_e5 import series
    for s in series(sweep.done()):  # one per (method, l)
        s["order"], s["method"], [(p["dim"], p["m_star"]) for p in s["points"]]
"""

import math

import numpy as np

from otd_sweep import finite, group

LAZY_METHODS = ("lazy_opt",)  # judged by the median error, not by reaching epsilon
LAZY_THRESHOLD = 0.1
SUCCESS_FRACTION = 0.9


def D_over_d(d, order):
    """D/d, D = C(d+l-1, l): the dimension count's lazy threshold in m.
    As (d+1)(d+2)...(d+l-1)/l!, which is also defined between integer d."""
    out = 1.0
    for j in range(1, int(order)):
        out *= (d + j) / (j + 1)
    return out


def predicted_lazy_m(d, order, threshold=LAZY_THRESHOLD):
    """The m at which the dimension count sqrt(1 - m d / D) falls to threshold:
    (1 - threshold^2) D/d (docs/science.md section 4)."""
    return (1.0 - threshold * threshold) * D_over_d(d, order)


def judge(method, rows, threshold=LAZY_THRESHOLD, fraction=SUCCESS_FRACTION):
    """Whether the runs of one (method, l, d, m), one per seed, succeed:
    {"pass": bool, "n": seeds, "stat": median error (lazy) or fraction of
    seeds that reached epsilon, "uncertain": a fail that rests on an
    unconverged lazy solve (its error is only an upper bound)}."""
    errs = [r.get("final_rel_err") for r in rows]
    errs = [e if finite(e) else math.inf for e in errs]  # no number: not a success
    n = len(errs)
    if method in LAZY_METHODS:
        stat = float(np.median(errs))
        ok = stat <= threshold
        # cg stopped at algo.lazy_max_iters: its error bounds the optimum
        # from above, so a pass stands but a fail may not be one.
        unconverged = [r for r in rows if r.get("lazy_converged") == 0]
        return {"pass": ok, "n": n, "stat": stat, "uncertain": bool(unconverged) and not ok}
    reached = 0
    for r, e in zip(rows, errs):
        eps = r.get("algo.target_rel_err")
        if not finite(eps) or eps <= 0:
            raise ValueError("point %s: algo.target_rel_err = %s: E5 needs an epsilon > 0 "
                             "to judge %s" % (r.get("name"), eps, method))
        reached += e <= eps
    stat = reached / n if n else float("nan")
    # a count, not a float comparison: 9 of 10 seeds is 90 %
    return {"pass": n > 0 and reached >= fraction * n - 1e-9, "n": n, "stat": stat,
            "uncertain": False}


def m_star(method, rows, threshold=LAZY_THRESHOLD, fraction=SUCCESS_FRACTION):
    """m* of one (method, l, d) from its rows (any m, any seeds):
    {"m_star": smallest passing m or None, "m_below": largest failing m below
    it (None: nothing below was run or failed), "m_max": largest m run,
    "m": [m run], "pass": [...], "stat": [...], "n": [...], "uncertain": [...]}."""
    out = {"m": [], "pass": [], "stat": [], "n": [], "uncertain": []}
    for (m,), at in group(rows, ["model.m"]).items():
        j = judge(method, at, threshold, fraction)
        out["m"].append(m)
        for k in ("pass", "stat", "n", "uncertain"):
            out[k].append(j[k])
    passing = [m for m, ok in zip(out["m"], out["pass"]) if ok]
    out["m_star"] = min(passing) if passing else None
    below = [m for m, ok in zip(out["m"], out["pass"])
             if not ok and (out["m_star"] is None or m < out["m_star"])]
    out["m_below"] = max(below) if below else None
    out["m_max"] = max(out["m"]) if out["m"] else None
    return out


def fit_slope(ds, ms):
    """Least squares of log m* on log d: (slope, intercept), NaN if < 2 points
    or a single d."""
    x = np.log(np.asarray(ds, dtype=float))
    y = np.log(np.asarray(ms, dtype=float))
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def series(rows, threshold=LAZY_THRESHOLD, fraction=SUCCESS_FRACTION):
    """One entry per (problem.order, algo.name), methods in their figure order:
    {"order", "method", "points": [{"dim", "D_over_d", **m_star(...)}],
    "fit": {"slope", "intercept", "dims", "m_star"}} where the fit uses
    every d with an m*."""
    out = []
    for (order, method), pts in group(rows, ["problem.order", "algo.name"]).items():
        points = []
        for (d,), at in group(pts, ["problem.dim"]).items():
            p = {"dim": d, "D_over_d": D_over_d(d, order)}
            p.update(m_star(method, at, threshold, fraction))
            points.append(p)
        have = [p for p in points if p["m_star"] is not None]
        slope, intercept = fit_slope([p["dim"] for p in have], [p["m_star"] for p in have])
        out.append({"order": order, "method": method, "points": points,
                    "fit": {"slope": slope, "intercept": intercept,
                            "dims": [p["dim"] for p in have],
                            "m_star": [p["m_star"] for p in have]}})
    return out


def add_threshold_args(parser):
    """The two success rules as command-line options (figures.py e5 and
    e5_search.py take the same ones)."""
    parser.add_argument("--lazy-threshold", type=float, default=LAZY_THRESHOLD,
                        help="lazy_opt succeeds at m when its median final_rel_err is <= this "
                        "(default %g)" % LAZY_THRESHOLD)
    parser.add_argument("--success", type=float, default=SUCCESS_FRACTION,
                        help="other methods succeed at m when this fraction of the seeds reach "
                        "algo.target_rel_err (default %g)" % SUCCESS_FRACTION)
