#!/usr/bin/python3
"""The figures of docs/science.md section 5 (E0-E5) from a collected otd sweep.

usage: /usr/bin/python3 analysis/figures.py FIGURE DIR [--out PREFIX] [--data-json PATH]
           [--point NAME]... [--threshold X] [--fitted] [--lazy-threshold X] [--success F]

FIGURE  e0  m = r gets stuck: per (problem.order, problem.rank), two bars over the gd
            seeds with model.m = problem.rank: the fraction that fit every target
            (summary n_fitted = r, docs/science.md section 6) and, as before, the
            fraction whose final_rel_err > --threshold (0.1). Both: the count says
            whether the targets were found, the error whether the fit is finished.
            Seeds without n_fitted (older results) count only for the second bar.
        e1  final relative error vs model.m (log-log), one curve per (algo.name,
            problem.dim): median over seeds, min-max band; one panel per problem.order
            (and problem.rank when it varies); dashed: the dimension count
            sqrt(max(0, 1 - m d / D)), D = C(d+l-1, l), per d. A median below its
            resolution (final_rel_err_resolution) is an upper bound, drawn at the
            resolution as an open downward triangle. --fitted adds a row
            of panels below: the fraction of seeds that fit every target (n_fitted =
            problem.rank) vs model.m, same curves, every algorithm (gd's error at
            m > r is budget-limited while its count shows every target found)
        e2  deflation staircase: per-target fitted mass (history target_mass) vs
            iteration of one tdp/bl run, targets ordered by weight a_k (largest first)
        e3  distance from initialization (history dist_init) vs iteration, one curve
            per point, colour per algo.name
        e4  per-epoch statistics of bl/tdp runs (last history row of each epoch):
            large components, min best correlation, max out-of-span mass
        e5  the separation: m* (smallest m that succeeds) vs d (log-log) per (algo.name,
            problem.order), with the least-squares slope of log m* on log d and the
            lazy threshold D/d; lazy_opt succeeds when the median final_rel_err over the
            seeds is <= --lazy-threshold (0.1), other methods when at least --success
            (0.9) of the seeds reach algo.target_rel_err. Prints one line per (method, l):
            e5 l=3 method=lazy_opt slope=1.97 d=10..40 points=12 D/d_slope=1.85
            (analysis/otd_e5.py; runs from a grid sweep or from analysis/e5_search.py)
DIR     a sweep directory with summary.csv (`otd collect DIR`), or for e2-e4 also a
        single run directory (results.h5)

Writes PREFIX.png and PREFIX.pdf (default PREFIX: DIR/figures/FIGURE), prints their
paths and a one-line summary of the data plotted (e5: one line per series). The PDF is
one column wide (3.5 in, 7-point text, panels stacked) with TrueType (Type 42) fonts, as
IEEE/ACM require; the PNG is larger (7 in a panel, 200 dpi). Titles state l, r, the
target and the number of seeds; a shaded band is named in the legend; every variable
that tells curves apart has a colour and a marker or line style (STYLES, new_figure,
legend).
--data-json PATH writes what was plotted (panels, curves with their x/y values; NaN
as null) for checking by tests and scripts. --point NAME (repeatable; e2, e3, e4) restricts to the named points;
e2 plots the first. Only points with status done are used; the summary line says
how many others were left out. A missing summary.csv or a figure whose points are
absent is reported (which algo/keys) with exit status 1.

    /usr/bin/python3 analysis/figures.py e1 sweeps/e1   # sweeps/e1/figures/e1.png, .pdf
    /usr/bin/python3 analysis/figures.py e2 runs/deflation --out e2   # e2.png, e2.pdf
"""

import argparse
import json
import math
import os
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otd_env  # noqa: E402

otd_env.require("h5py", "numpy", "matplotlib", "pandas", "yaml")
import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only: no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otd_e5  # noqa: E402
from otd_results import describe  # noqa: E402
from otd_sweep import (SweepError, describe_where, finite, group, load_sweep,  # noqa: E402
                       require, select, values)

# Fixed order and colour per algorithm, so that every figure reads alike.
ALGOS = ("lazy_opt", "lazy_gd", "bl", "tdp", "gd")
ALGO_COLORS = {"lazy_opt": "C3", "lazy_gd": "C1", "bl": "C0", "tdp": "C2", "gd": "C7"}
DEFLATION_ALGOS = ("tdp", "bl")  # the algorithms with epochs and re-initialization
DASHES = ((5, 2), (2, 2), (8, 3, 2, 3), (1, 1))  # dimension-count line per problem.dim


def algo_color(name):
    # crc32, not hash(): str hashes change from one process to the next
    return ALGO_COLORS.get(name, "C%d" % (4 + zlib.crc32(str(name).encode()) % 5))


def algo_order(name):
    return (ALGOS.index(name), "") if name in ALGOS else (len(ALGOS), str(name))


# ---------------------------------------------------------------- style
#
# One look for every figure, in two sizes: the PDF for a paper, one column
# wide (3.5 in, the single column of IEEE/ACM two-column layouts) with
# 7-point text, and the PNG for screens and slides, larger and at 200 dpi.
# Both embed TrueType (Type 42) fonts: Type 3 fonts, matplotlib's default,
# are rejected by IEEE and ACM submission checks. Each figure is drawn once
# per size (fig_* takes args.style), not scaled: text keeps its point size.
# Every variable that tells curves apart is shown two ways (colour and
# marker for the algorithm; line style and marker fill for d or l), so a
# figure printed in grey or read by a colour-blind reader still separates
# them. Legends sit below their panel, never over the data.


class Style:
    def __init__(self, kind, width, panel_height, dpi, font, column):
        self.kind, self.width, self.panel_height, self.dpi = kind, width, panel_height, dpi
        self.font = font      # base font size, points
        self.column = column  # True: panels stacked in one column (the PDF)
        self.rc = {"pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
                   "font.size": font, "axes.titlesize": font, "axes.labelsize": font,
                   "legend.fontsize": font - 1, "xtick.labelsize": font - 1,
                   "ytick.labelsize": font - 1, "lines.linewidth": 1.0 if column else 1.6,
                   "lines.markersize": 3.5 if column else 6.5, "legend.frameon": False,
                   "axes.grid": True, "grid.alpha": 0.3, "savefig.dpi": dpi}


STYLES = {
    "pdf": Style("pdf", width=3.5, panel_height=2.3, dpi=300, font=7, column=True),
    "png": Style("png", width=7.0, panel_height=4.6, dpi=200, font=12, column=False),
}

ALGO_MARKERS = {"lazy_opt": "o", "lazy_gd": "P", "bl": "s", "tdp": "D", "gd": "X"}
LINESTYLES = ("-", "--", ":", "-.")  # per problem.dim (e1) or problem.order (e5)


def algo_marker(name):
    return ALGO_MARKERS.get(name, "*")


def new_figure(args, nrows=1, ncols=1, height_ratios=None):
    """A figure of nrows x ncols panels, axes[r][c], for args.style: side by
    side in the PNG; in the PDF one column, panel (r, c) at row c*nrows + r
    (a panel's rows stay together). Constrained layout: legends placed
    outside their axes (legend()) get room."""
    st = args.style
    ratios = list(height_ratios or [1] * nrows)
    grows, gcols = (nrows * ncols, 1) if st.column else (nrows, ncols)
    gratios = ratios * ncols if st.column else ratios
    width = st.width if st.column else st.width * ncols
    fig = plt.figure(figsize=(width, st.panel_height * sum(gratios) / max(ratios)), dpi=st.dpi,
                     layout="constrained")
    gs = fig.add_gridspec(grows, gcols, height_ratios=gratios)
    axes = [[None] * ncols for _ in range(nrows)]
    for r in range(nrows):
        for c in range(ncols):
            gr, gc = (c * nrows + r, 0) if st.column else (r, c)
            axes[r][c] = fig.add_subplot(gs[gr, gc])
            axes[r][c].otd_row = gr
    fig.otd_legend_rows = {}
    return fig, axes


def legend(ax, handles=None, ncol=2):
    """The panel's legend below it (outside the data), in ncol columns; the
    figure grows by its height when saved (save())."""
    h, labels = ax.get_legend_handles_labels() if handles is None else (
        handles, [x.get_label() for x in handles])
    if not h:
        return
    fig = ax.figure
    font = matplotlib.rcParams["legend.fontsize"]
    # Columns that do not fit the figure's width (the narrow PDF): one.
    # Width estimate per column: the longest label at ~0.55 em a character
    # plus the handle and spacing (~4.5 em).
    longest = max(len(str(t)) for t in labels)
    if ncol > 1 and ncol * (0.55 * longest + 4.5) * font > 0.95 * fig.get_figwidth() * 72:
        ncol = 1
    # Below the tick labels and the x label: about 2 text lines and the
    # tick marks, in units of the legend's font size.
    pad = (2.6 * matplotlib.rcParams["font.size"] + 8) / font
    ax.legend(h, labels, loc="upper center", bbox_to_anchor=(0.5, 0), borderaxespad=pad,
              ncol=ncol, handlelength=2.6, columnspacing=1.2)
    rows = -(-len(h) // ncol)
    row = getattr(ax, "otd_row", 0)
    fig.otd_legend_rows[row] = max(fig.otd_legend_rows.get(row, 0), rows)


def save(fig, path, style):
    """Write fig to path, its height grown by its legends' lines (the
    width, the column width for the PDF, stays)."""
    lines = sum(getattr(fig, "otd_legend_rows", {}).values())
    extra = lines * 1.45 * (style.font - 1) / 72.0 + 0.25 * (lines > 0)
    fig.set_figheight(fig.get_figheight() + extra)
    fig.savefig(path, dpi=style.dpi)
    plt.close(fig)


def n_seeds(rows):
    """How many seeds (distinct run.seed) the rows have: the N of "min-max
    over N seeds"."""
    return len({r.get("run.seed") for r in rows}) or 1


def setting(rows, keys=(("l", "problem.order"), ("r", "problem.rank"))):
    """"l=3, r=2, orthonormal target, 5 seeds" for the rows (several values
    of a key joined with "/"): what every figure title states."""
    parts = []
    for label, key in keys:
        vals = values(rows, key)
        parts.append("%s=%s" % (label, "/".join(str(v) for v in vals) if vals else "?"))
    targets = values(rows, "problem.target")
    if targets:
        parts.append("%s target" % "/".join(str(t) for t in targets))
    n = n_seeds(rows)
    parts.append("%d seed%s" % (n, "" if n == 1 else "s"))
    return ", ".join(parts)


def band_handle(n):
    """The legend entry that says what a shaded band is."""
    # (matplotlib.patches comes with pyplot)
    return matplotlib.patches.Patch(color="0.5", alpha=0.3, lw=0,
                                    label="band: min–max over %d seeds" % n)


def positive(y):
    """Log axes cannot show values <= 0 (or NaN): mask them instead of failing."""
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def listed(x):
    """A JSON-ready list: numpy scalars to Python, NaN/inf to None."""
    out = []
    for v in np.asarray(x, dtype=float).ravel():
        out.append(float(v) if math.isfinite(v) else None)
    return out


def jsonable(x):
    """x with every non-finite float replaced by None (JSON has no NaN/inf)."""
    if isinstance(x, dict):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def fmt(x):
    return "nan" if x is None or not math.isfinite(x) else "%.3g" % x


def left_out_note(sweep):
    """' (3 points not done left out)' when some rows could not be used."""
    n = sum(1 for r in sweep.rows if r.get("status") != "done")
    return " (%d point%s not done left out)" % (n, "" if n == 1 else "s") if n else ""


# ---------------------------------------------------------------- E0


def fits_all(row):
    """1 if the point fitted every target (summary n_fitted = problem.rank),
    0 if not, None when it has no n_fitted (results of an older otd)."""
    nf, rank = row.get("n_fitted"), row.get("problem.rank")
    if not finite(nf) or not finite(rank):
        return None
    return int(nf == rank)


def fig_e0(sweep, args):
    where = {"algo.name": "gd"}
    rows = [r for r in select(sweep.done(), where)
            if r.get("model.m") is not None and r.get("model.m") == r.get("problem.rank")]
    require(sweep, rows, describe_where(where) + ", model.m = problem.rank", "e0")
    bars = []
    for (order, rank), pts in group(rows, ["problem.order", "problem.rank"]).items():
        errs = [r.get("final_rel_err") for r in pts]
        n = sum(1 for e in errs if finite(e))
        stuck = sum(1 for e in errs if finite(e) and e > args.threshold)
        fits = [f for f in (fits_all(r) for r in pts) if f is not None]
        bars.append({"order": order, "rank": rank, "n": n, "stuck": stuck,
                     "fraction": stuck / n if n else float("nan"),
                     "n_fitted_known": len(fits), "fitted_all": sum(fits),
                     "fraction_fitted": sum(fits) / len(fits) if fits else float("nan"),
                     "targets": values(pts, "problem.target"), "seeds": n_seeds(pts)})
    fig, axes = new_figure(args)
    ax = axes[0][0]
    xs = np.arange(len(bars))
    width = 0.38
    # colour and hatching: the two bars stay apart in grey too
    series = (("fraction_fitted", "fitted_all", "n_fitted_known", -width / 2, "C2", "",
               "fit every target (n_fitted = r)"),
              ("fraction", "stuck", "n", width / 2, "C7", "//",
               "final rel. error > %g" % args.threshold))
    for key, count, total, dx, color, hatch, label in series:
        ys = [b[key] for b in bars]
        ax.bar(xs + dx, np.nan_to_num(ys), color=color, width=width, label=label, hatch=hatch,
               edgecolor="k", lw=0.5)
        for x, b in zip(xs, bars):
            ax.annotate("%d/%d" % (b[count], b[total]), (x + dx, np.nan_to_num(b[key])),
                        ha="center", va="bottom", xytext=(0, 2), textcoords="offset points",
                        fontsize="small")
    ax.set_xticks(xs, ["l=%s, r=%s\n%s target\n%d seeds" % (
        b["order"], b["rank"], "/".join(str(t) for t in b["targets"]), b["seeds"])
        for b in bars])
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("fraction of seeds")
    ax.set_title("E0: gd with m = r; %s" % setting(rows))
    ax.grid(False, axis="x")
    legend(ax, ncol=1)
    data = {"threshold": args.threshold, "bars": bars}
    summary = "e0: " + "; ".join("l=%s r=%s: %d/%d fit every target, %d/%d stuck" % (
        b["order"], b["rank"], b["fitted_all"], b["n_fitted_known"], b["stuck"], b["n"])
        for b in bars)
    return fig, data, summary + left_out_note(sweep)


# ---------------------------------------------------------------- E1


def dim_count(m, d, order):
    """sqrt(max(0, 1 - m d / D)), D = C(d+l-1, l): the lazy error by dimension count."""
    D = math.comb(int(d) + int(order) - 1, int(order))
    return np.sqrt(np.maximum(0.0, 1.0 - np.asarray(m, dtype=float) * d / D)), D


# The dimension-count curves: one grey and one dash pattern per d.
DIM_COUNT_GREYS = ("0.15", "0.45", "0.6", "0.3")


def dim_count_curve(ms, d, order):
    """The dimension count over the m range of the panel, drawn down to zero.

    sqrt(1 - m d / D) falls to 0 at m0 = D/d with infinite slope, which on a
    log y axis is a drop to -infinity. Evenly spaced samples stop short of it
    and the curve seemed to end in mid-air. Here the grid is dense towards
    m0: m0 (1 - 10^-k) for k = 1..16 gives values 10^(-k/2), down to 1e-8
    (the curve is vertical there: those m differ from m0 by m0 10^-16); m0
    itself has value 0 (kept so in the data JSON), which fig_e1 draws a
    decade below the bottom of the axis, whose limits the data fixed first:
    the curve leaves through the bottom of the axis at m0. The figure also
    marks m0 with a tick on the bottom edge and "0 at m=D/d" in the legend. Returns (grid, values, D,
    m0 or None when m0 is beyond the panel's largest m)."""
    D = math.comb(int(d) + int(order) - 1, int(order))
    m0 = D / float(d)
    lo, hi = float(ms[0]), float(ms[-1])
    pts = [np.geomspace(lo, hi, 200), np.asarray(ms, dtype=float)]
    zero = m0 if lo <= m0 <= hi else None
    if zero is not None:
        near = m0 * (1.0 - 10.0 ** -np.arange(1, 17))
        pts += [near[near >= lo], [m0]]
    grid = np.unique(np.concatenate(pts))
    return grid, dim_count(grid, d, order)[0], D, zero


def e1_curve(pts):
    """Per model.m over a curve's points: median, min and max of final_rel_err,
    and the median of its resolution (final_rel_err_resolution)."""
    xs, med, lo, hi, ns, res = [], [], [], [], [], []
    for (m,), at in group(pts, ["model.m"]).items():
        ok = [r for r in at if finite(r.get("final_rel_err"))]
        if not finite(m) or not ok:
            continue
        errs = [r["final_rel_err"] for r in ok]
        xs.append(m)
        med.append(float(np.median(errs)))
        lo.append(min(errs))
        hi.append(max(errs))
        ns.append(len(errs))
        rs = [r["final_rel_err_resolution"] for r in ok
              if finite(r.get("final_rel_err_resolution"))]
        res.append(float(np.median(rs)) if rs else LEGACY_RESOLUTION)
    return xs, med, lo, hi, ns, res


# Every error otd reports carries its resolution (/summary
# final_rel_err_resolution): below it the rounding of the cancelling sums
# that give the error dominates (docs/science.md section 3). A value below its
# resolution is only an upper bound and is drawn AT the resolution, with an
# open downward triangle, never as a point below it. Sweeps written before
# otd stored the resolution get this fixed one (the old rule of thumb,
# sqrt(eps) ~ 1e-8).
LEGACY_RESOLUTION = 1e-8


def bounded(y, res):
    """y where resolved, else its resolution; and which points are bounds."""
    y, res = np.asarray(y, dtype=float), np.asarray(res, dtype=float)
    bound = np.isfinite(y) & (y < res)
    return np.where(bound, res, y), bound


def e1_fitted_curve(pts):
    """Per model.m: how many seeds fit every target, of those with n_fitted."""
    xs, frac, ns = [], [], []
    for (m,), at in group(pts, ["model.m"]).items():
        fits = [f for f in (fits_all(r) for r in at) if f is not None]
        if not finite(m) or not fits:
            continue
        xs.append(m)
        frac.append(sum(fits) / len(fits))
        ns.append(len(fits))
    return xs, frac, ns


def m_ticks(ax, ms):
    """Label a log m axis with the m of the sweep (plain numbers) when few."""
    if len(ms) == 1:
        ax.set_xlim(ms[0] / 2, ms[0] * 2)
    if len(ms) <= 16:
        ax.set_xticks(ms, [str(m) for m in ms])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def fig_e1(sweep, args):
    rows = [r for r in sweep.done() if finite(r.get("model.m"))
            and finite(r.get("final_rel_err")) and finite(r.get("problem.dim"))
            and finite(r.get("problem.order"))]
    require(sweep, rows, "final_rel_err, model.m, problem.dim and problem.order", "e1")
    panel_keys = ["problem.order"]
    if len(values(rows, "problem.rank")) > 1:
        panel_keys.append("problem.rank")
    panels_rows = group(rows, panel_keys)
    nrows = 2 if args.fitted else 1
    fig, axes = new_figure(args, nrows, len(panels_rows), height_ratios=[3, 2][:nrows])
    dims = values(rows, "problem.dim")
    panels, lines, fitted_lines = [], [], []
    for col, (pkey, pts) in enumerate(panels_rows.items()):
        ax = axes[0][col]
        order = pkey[0]
        title = ", ".join("%s=%s" % (k.split(".")[-1], v) for k, v in zip(panel_keys, pkey))
        panel = {"key": dict(zip(panel_keys, pkey)), "title": title, "curves": [],
                 "dim_count": []}
        curves = group(pts, ["algo.name", "problem.dim"])
        seeds = n_seeds(pts)
        banded = False
        for (algo, d), cpts in sorted(curves.items(), key=lambda kv: (algo_order(kv[0][0]),
                                                                        kv[0][1])):
            xs, med, lo, hi, ns, res = e1_curve(cpts)
            color = algo_color(algo)
            di = dims.index(d)
            y, bound = bounded(med, res)
            # algorithm: colour and marker; d: line style and marker fill
            look = {"color": color, "marker": algo_marker(algo),
                    "mfc": color if di == 0 else "white"}
            ax.plot(xs, y, color=color, ls=LINESTYLES[di % len(LINESTYLES)])
            # the legend's entry shows line, marker and fill together
            ax.plot([], [], ls=LINESTYLES[di % len(LINESTYLES)], label="%s, d=%s" % (algo, d),
                    **look)
            xa = np.asarray(xs, dtype=float)
            ax.plot(xa[~bound], y[~bound], lw=0, **look)
            if bound.any():
                ax.plot(xa[bound], y[bound], color=color, marker="v", mfc="none", lw=0,
                        ms=matplotlib.rcParams["lines.markersize"] * 1.4)
            if max(ns) > 1:
                banded = True
                ax.fill_between(xs, bounded(lo, res)[0], bounded(hi, res)[0], color=color,
                                alpha=0.15, lw=0)
            panel["curves"].append({"algo": algo, "dim": d, "x": listed(xs), "y": listed(med),
                                    "y_min": listed(lo), "y_max": listed(hi), "n": ns,
                                    "resolution": listed(res),
                                    "bound": [bool(b) for b in bound]})
            last = ("< " + fmt(res[-1])) if bound[-1] else fmt(med[-1])
            lines.append("l=%s %s d=%s: %s at m=%s" % (order, algo, d, last, xs[-1]))
        ms = values(pts, "model.m")
        ax.set_xscale("log")
        ax.set_yscale("log")
        m_ticks(ax, ms)
        # The data decide the y range; the dimension counts are then drawn
        # into it, down through its bottom (they reach 0, -inf on a log
        # axis, at m = D/d).
        ax.autoscale_view()
        bottom, top = ax.get_ylim()
        ax.set_ylim(bottom, max(top, 1.3))
        ax.autoscale(False)
        for d in values(pts, "problem.dim"):
            grid, y, D, zero = dim_count_curve(ms, d, order)
            di = dims.index(d)
            label = "dimension count, d=%s (D=%d)" % (d, D)
            if zero is not None:
                label += ", 0 at m=D/d=%.3g" % zero
            yp = positive(y)
            if zero is not None:  # the vertical drop at m0 continues through the bottom
                yp[grid == zero] = bottom / 10
            ax.plot(grid, yp, color=DIM_COUNT_GREYS[di % len(DIM_COUNT_GREYS)], lw=1,
                    dashes=DASHES[di % len(DASHES)], label=label)
            if zero is not None:  # where it reaches 0: a tick at the bottom of the axis
                ax.plot([zero], [bottom], marker="|", ms=8, mew=1.5, clip_on=False,
                        color=DIM_COUNT_GREYS[di % len(DIM_COUNT_GREYS)])
            panel["dim_count"].append({"dim": d, "D": D, "x": listed(grid), "y": listed(y),
                                       "zero_at": zero})
        ax.plot([], [], color="0.3", marker="v", mfc="none", lw=0,
                label="median below its resolution: upper bound")
        handles, _ = ax.get_legend_handles_labels()
        if banded:
            handles.append(band_handle(seeds))
        ax.set_xlabel("m (model components)")
        ax.set_ylabel("final relative error")
        ax.set_title("E1: %s" % setting(pts))
        legend(ax, handles)
        if args.fitted:
            panel["fitted"] = e1_fitted_panel(axes[1][col], pts, dims, ms, order, title,
                                              fitted_lines)
        panels.append(panel)
    data = {"panels": panels}
    summary = "e1: " + "; ".join(lines)
    if args.fitted:
        summary += " | fit every target: " + "; ".join(fitted_lines)
    return fig, data, summary + left_out_note(sweep)


def e1_fitted_panel(ax, pts, dims, ms, order, title, lines):
    """E1's --fitted row: the fraction of seeds with n_fitted = problem.rank
    vs m, one curve per (algo.name, problem.dim) as above."""
    curves = []
    for (algo, d), cpts in sorted(group(pts, ["algo.name", "problem.dim"]).items(),
                                  key=lambda kv: (algo_order(kv[0][0]), kv[0][1])):
        xs, frac, ns = e1_fitted_curve(cpts)
        if not xs:
            continue
        di = dims.index(d)
        color = algo_color(algo)
        ax.plot(xs, frac, color=color, marker=algo_marker(algo),
                ls=LINESTYLES[di % len(LINESTYLES)], mfc=color if di == 0 else "white",
                label="%s, d=%s" % (algo, d))
        curves.append({"algo": algo, "dim": d, "x": listed(xs), "y": listed(frac), "n": ns})
        lines.append("l=%s %s d=%s: %d/%d at m=%s" % (order, algo, d, round(frac[-1] * ns[-1]),
                                                      ns[-1], xs[-1]))
    ax.set_xscale("log")
    m_ticks(ax, ms)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("m (model components)")
    ax.set_ylabel("fraction of seeds fitting\nevery target (n_fitted = r)")
    ax.set_title("E1, targets found: %s" % setting(pts))
    legend(ax)
    return curves


# ---------------------------------------------------------------- run selection (E2-E4)


def pick_runs(sweep, args, figure, algos):
    """The rows of e2-e4: --point names (any algo), a lone run directory, or
    every finished point of the given algos (in that algo order, then by name)."""
    if args.point:
        rows = [sweep.find(name) for name in args.point]
        bad = [r["name"] for r in rows if r.get("status") != "done"]
        if bad:
            raise SweepError("%s: point(s) not done: %s" % (figure, ", ".join(bad)))
        return rows
    if sweep.single:
        return sweep.done() or require(sweep, [], "a finished run", figure)
    where = {"algo.name": list(algos)} if algos else {}
    rows = select(sweep.done(), where)
    require(sweep, rows, describe_where(where) if where else "status done", figure)
    if algos:  # in the order asked for (e2 plots the first: tdp before bl)
        return sorted(rows, key=lambda r: (list(algos).index(r.get("algo.name")),
                                           str(r.get("name"))))
    return sorted(rows, key=lambda r: (algo_order(r.get("algo.name")), str(r.get("name"))))


def history(sweep, row, columns, figure):
    """The run's history columns (numpy arrays), or SweepError naming the
    missing ones (or saying it has no rows)."""
    hist = sweep.run(row)["history"]
    missing = [c for c in columns if c not in hist]
    if missing:
        raise SweepError("%s: point %s has no history column(s) %s" %
                         (figure, row.get("name"), ", ".join(missing)))
    if len(hist[columns[0]]) == 0:
        raise SweepError("%s: point %s has no history rows" % (figure, row.get("name")))
    return hist


# ---------------------------------------------------------------- E2


E2_MARKERS = "os^DvP<>Xp"


def run_value(run, row, key):
    """A configuration value of one run: its summary row's, else from its
    results' config ("?" when neither has it)."""
    if row.get(key) is not None:
        return row.get(key)
    node = run.get("config") or {}
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "?" if node is None else node


def fig_e2(sweep, args):
    row = pick_runs(sweep, args, "e2", DEFLATION_ALGOS)[0]
    run = sweep.run(row)
    hist = history(sweep, row, ["iter", "target_mass"], "e2")
    it = np.asarray(hist["iter"], dtype=float)
    mass = np.asarray(hist["target_mass"], dtype=float).reshape(len(it), -1)
    a = run["a"] if run["a"] is not None else np.ones(mass.shape[1])
    order = sorted(range(mass.shape[1]), key=lambda k: (-abs(a[k]), k))
    fig, axes = new_figure(args)
    ax = axes[0][0]
    cmap = plt.get_cmap("viridis")
    curves, reached = [], []
    for rank, k in enumerate(order):
        y = mass[:, k]
        # colour and marker per target (markers every ~10th of the run)
        ax.plot(it, y, color=cmap(rank / max(1, len(order) - 1) * 0.9),
                marker=E2_MARKERS[rank % len(E2_MARKERS)], markevery=max(1, len(it) // 10),
                label="u_%d, a=%.3g" % (k + 1, a[k]))
        hit = np.nonzero(y >= 0.5)[0]
        first = float(it[hit[0]]) if hit.size else None
        curves.append({"k": k, "a": float(a[k]), "x": listed(it), "y": listed(y),
                       "half_iter": first})
        reached.append("a=%.3g: %s" % (a[k], "-" if first is None else "%d" % first))
    ax.axhline(1.0, color="0.5", ls=":", lw=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("fitted mass  <T(W), u_k^l> / a_k")
    ax.set_title("E2: %s, %s target, seed %s (1 seed)\n%s" % (
        describe(run), run_value(run, row, "problem.target"), run_value(run, row, "run.seed"),
        row.get("name")))
    legend(ax)
    data = {"point": row.get("name"), "curves": curves}
    summary = "e2: %s: first iteration with mass >= 0.5, targets by weight: %s" % (
        row.get("name"), "; ".join(reached))
    return fig, data, summary


# ---------------------------------------------------------------- E3


def fig_e3(sweep, args):
    rows = pick_runs(sweep, args, "e3", None)
    fig, axes = new_figure(args)
    ax = axes[0][0]
    curves, seen, last, skipped = [], set(), {}, []
    for row in rows:
        algo = row.get("algo.name")
        try:
            hist = history(sweep, row, ["iter", "dist_init"], "e3")
        except SweepError:
            if args.point:  # asked for by name: say why it cannot be plotted
                raise
            skipped.append(str(row.get("name")))  # e.g. a solve without iterations
            continue
        it, dist = np.asarray(hist["iter"], float), np.asarray(hist["dist_init"], float)
        # colour and marker per algorithm
        ax.plot(it, positive(dist), color=algo_color(algo), alpha=0.8, marker=algo_marker(algo),
                markevery=max(1, len(it) // 8), label=algo if algo not in seen else None)
        seen.add(algo)
        curves.append({"point": row.get("name"), "algo": algo, "x": listed(it),
                       "y": listed(dist)})
        last.setdefault(algo, []).append(float(dist[-1]))
    if not curves:
        raise SweepError("e3: no point has a dist_init history (%s)" % ", ".join(skipped))
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("||W_t - W_0||_F / ||W_0||_F")
    ax.set_title("E3: distance from initialization; %s" % setting(rows))
    legend(ax, ncol=3)
    data = {"curves": curves, "skipped": skipped}
    summary = "e3: %d curves; final distance median per algo: %s" % (
        len(curves), "; ".join("%s %s" % (k, fmt(float(np.median(v))))
                               for k, v in sorted(last.items(),
                                                  key=lambda kv: algo_order(kv[0]))))
    if skipped:
        summary += " (%d without dist_init history skipped)" % len(skipped)
    return fig, data, summary + left_out_note(sweep)


# ---------------------------------------------------------------- E4

E4_PANELS = (("n_large", "large components", False),
             ("min_best_corr", "min best correlation", False),
             ("max_out_of_span", "max out-of-span mass", True))
E4_MAX_NAMED = 5


def epoch_ends(epoch):
    """Indices of the last history row of each epoch, in epoch order."""
    epoch = np.asarray(epoch, dtype=float)
    return [int(np.nonzero(epoch == e)[0][-1]) for e in np.unique(epoch[np.isfinite(epoch)])]


def fig_e4(sweep, args):
    rows = pick_runs(sweep, args, "e4", DEFLATION_ALGOS)
    fig, grid = new_figure(args, 1, len(E4_PANELS))
    axes = grid[0]
    panels = [{"column": c, "curves": []} for c, _, _ in E4_PANELS]
    # A few points: one colour and legend entry each; many (seeds of a
    # sweep): one colour per algorithm, as in e3.
    per_point = len(rows) <= E4_MAX_NAMED
    seen = set()
    for i, row in enumerate(rows):
        algo = row.get("algo.name")
        # colour and marker: per point (a few), or per algorithm (many)
        if per_point:
            color, marker, label = "C%d" % i, E2_MARKERS[i % len(E2_MARKERS)], str(row.get("name"))
        else:
            color, marker = algo_color(algo), algo_marker(algo)
            label = algo if algo not in seen else None
            seen.add(algo)
        hist = history(sweep, row, ["epoch"] + [c for c, _, _ in E4_PANELS], "e4")
        ends = epoch_ends(hist["epoch"])
        ep = np.asarray(hist["epoch"], float)[ends]
        for ax, panel, (col, _, logy) in zip(axes, panels, E4_PANELS):
            y = np.asarray(hist[col], float)[ends]
            ax.plot(ep, positive(y) if logy else y, marker=marker, alpha=0.8, color=color,
                    label=label)
            panel["curves"].append({"point": row.get("name"), "algo": algo,
                                    "x": listed(ep), "y": listed(y)})
    for ax, (col, label, logy) in zip(axes, E4_PANELS):
        if logy:
            ax.set_yscale("log")
        else:
            ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
    legend(axes[0], ncol=1)
    axes[0].set_title("E4: per-epoch statistics (last row of each epoch);\n%s" % setting(rows))
    data = {"panels": panels}
    lastvals = []
    for panel in panels:
        ys = [c["y"][-1] for c in panel["curves"] if c["y"] and c["y"][-1] is not None]
        lastvals.append("%s %s" % (panel["column"], fmt(float(np.median(ys))) if ys else "nan"))
    summary = "e4: %d points, last epoch median: %s" % (len(rows), "; ".join(lastvals))
    return fig, data, summary + left_out_note(sweep)


# ---------------------------------------------------------------- E5

E5_LINES = ("-", "--", "-.", ":")  # fitted line per problem.order
E5_SIZES = {"bl": 1.3, "gd": 0.85}  # bl and gd often share an m*: gd's smaller mark drawn on bl's
E5_REF_LINES = (":", (0, (6, 2, 1, 2)), (0, (1, 3)), "--")  # D/d per problem.order


def fig_e5(sweep, args):
    rows = [r for r in sweep.done() if finite(r.get("model.m")) and finite(r.get("problem.dim"))
            and finite(r.get("problem.order")) and r.get("algo.name")]
    require(sweep, rows, "algo.name, model.m, problem.dim and problem.order", "e5")
    try:
        found = otd_e5.series(rows, args.lazy_threshold, args.success)
    except ValueError as e:
        raise SweepError("e5: %s" % e) from e
    found.sort(key=lambda s: (s["order"], algo_order(s["method"])))
    orders = sorted({s["order"] for s in found})
    fig, axes = new_figure(args)
    ax = axes[0][0]
    lines, dd = [], []
    all_d = sorted({p["dim"] for s in found for p in s["points"]})
    for s in found:
        color = algo_color(s["method"])
        style = E5_LINES[orders.index(s["order"]) % len(E5_LINES)]
        marker = algo_marker(s["method"])
        filled = orders.index(s["order"]) == 0  # l beyond the first: open markers
        label = "%s, l=%s" % (s["method"], s["order"])
        closed = [p for p in s["points"] if p["m_star"] is not None and p["m_below"] is not None]
        atmin = [p for p in s["points"] if p["m_star"] is not None and p["m_below"] is None]
        none = [p for p in s["points"] if p["m_star"] is None]
        ms = matplotlib.rcParams["lines.markersize"] * E5_SIZES.get(s["method"], 1.0)
        ax.plot([p["dim"] for p in closed], [p["m_star"] for p in closed], marker, color=color,
                ms=ms, mfc=color if filled else "none", label=label)
        if atmin:  # succeeded at the smallest m run: m* is at most this
            ax.plot([p["dim"] for p in atmin], [p["m_star"] for p in atmin], "v", color=color,
                    mfc="none", label="%s: m* <= smallest m run" % label)
        if none:  # never succeeded: m* is above the largest m run
            ax.plot([p["dim"] for p in none], [p["m_max"] for p in none], "^", color=color,
                    mfc="none", label="%s: m* > largest m run" % label)
        fit = s["fit"]
        dims = fit["dims"]
        ref = [otd_e5.D_over_d(d, s["order"]) for d in dims]
        ref_slope, _ = otd_e5.fit_slope(dims, ref) if dims else (float("nan"), None)
        s["fit"]["D_over_d_slope"] = ref_slope
        if math.isfinite(fit["slope"]):
            xs = np.geomspace(min(dims), max(dims), 50)
            ax.plot(xs, np.exp(fit["intercept"]) * xs ** fit["slope"], color=color, ls=style,
                    label="fit %s: slope %.2f" % (label, fit["slope"]))
        span = "d=%s..%s" % (min(dims), max(dims)) if dims else "d=none"
        line = "e5 l=%s method=%s slope=%s %s points=%d D/d_slope=%s" % (
            s["order"], s["method"], "%.2f" % fit["slope"] if math.isfinite(fit["slope"])
            else "nan", span, len(dims), "%.2f" % ref_slope if math.isfinite(ref_slope)
            else "nan")
        notes = []
        if atmin:
            notes.append("m* at the smallest m run for d=%s" % ",".join(str(p["dim"])
                                                                        for p in atmin))
        if none:
            notes.append("no m* for d=%s" % ",".join(str(p["dim"]) for p in none))
        unsure = [p["dim"] for p in s["points"]
                  if any(u and m < (p["m_star"] if p["m_star"] is not None else math.inf)
                         for m, u in zip(p["m"], p["uncertain"]))]
        if unsure:
            notes.append("failures from unconverged lazy solves (upper bounds) at d=%s"
                         % ",".join(str(d) for d in unsure))
        lines.append(line + ("" if not notes else " (%s)" % "; ".join(notes)))
    if all_d:
        grid = np.geomspace(min(all_d), max(all_d), 100)
        for i, order in enumerate(orders):
            y = [otd_e5.D_over_d(d, order) for d in grid]
            ax.plot(grid, y, color="k", lw=1, ls=E5_REF_LINES[i % len(E5_REF_LINES)],
                    label="D/d, l=%s (lazy threshold by dimension count)" % order)
            # the D/d values at integer d (the figure's curve is smooth in d)
            dd.append({"order": order, "x": listed(all_d),
                       "y": listed([otd_e5.D_over_d(d, order) for d in all_d])})
    ax.set_xscale("log")
    ax.set_yscale("log")
    if len(all_d) <= 12:
        ax.set_xticks(all_d, [str(d) for d in all_d])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: "%g" % v)
    ax.yaxis.set_major_formatter(plain)
    lo, hi = ax.get_ylim()
    if hi / lo < 30:  # less than about a decade and a half: label the minor ticks too
        ax.yaxis.set_minor_formatter(plain)
    ax.set_xlabel("d (dimension)")
    ax.set_ylabel("m* (smallest m that succeeds)")
    ax.set_title("E5: m* vs d; %s\nlazy_opt: median rel. error <= %g; others: >= %g%% of "
                 "seeds reach eps" % (setting(rows), args.lazy_threshold, 100 * args.success))
    legend(ax)
    data = {"lazy_threshold": args.lazy_threshold, "success": args.success,
            "series": jsonable(found), "D_over_d": dd, "lines": lines}
    return fig, data, "\n".join(lines) + left_out_note(sweep)


# ---------------------------------------------------------------- main

FIGURES = {
    "e0": (fig_e0, "m = r gets stuck: fraction of gd seeds fitting every target, and with "
           "final rel. error > threshold"),
    "e1": (fig_e1, "final relative error vs m per (algo, d), one panel per order"),
    "e2": (fig_e2, "deflation staircase: per-target fitted mass vs iteration"),
    "e3": (fig_e3, "distance from initialization vs iteration"),
    "e4": (fig_e4, "per-epoch statistics of bl/tdp runs"),
    "e5": (fig_e5, "m* (smallest m that succeeds) vs d per (algo, l), slopes, D/d"),
}


def output_prefix(args):
    prefix = args.out or os.path.join(args.dir, "figures", args.figure)
    root, ext = os.path.splitext(prefix)
    return root if ext.lower() in (".png", ".pdf") else prefix


def write(sweep, args):
    """PREFIX.png and PREFIX.pdf, each drawn in its own style (STYLES), and
    (if asked) the data JSON; returns (paths, summary)."""
    prefix = output_prefix(args)
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    paths = [prefix + ".png", prefix + ".pdf"]
    shown = {}
    for path, kind in zip(paths, ("png", "pdf")):
        args.style = STYLES[kind]
        with plt.rc_context(args.style.rc):
            fig, data, summary = FIGURES[args.figure][0](sweep, args)
            # what a reader sees, for tests: every title and legend entry
            text = {"titles": [ax.get_title() for ax in fig.axes if ax.get_title()],
                    "legend": [t.get_text() for ax in fig.axes if ax.get_legend()
                               for t in ax.get_legend().get_texts()]}
            save(fig, path, args.style)
            text["inches"] = [float(v) for v in fig.get_size_inches()]
            shown[kind] = text
    data = dict(data, **shown)
    if args.data_json:
        doc = {"figure": args.figure, "dir": args.dir, "files": paths, "summary": summary}
        doc.update(data)
        with open(args.data_json, "w") as f:
            json.dump(doc, f, indent=1)
    return paths, summary


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Make the E0-E5 figures of an otd sweep.",
                                 epilog="Writes PREFIX.png and PREFIX.pdf "
                                 "(default DIR/figures/FIGURE).")
    sub = ap.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    for name, (_, help_text) in FIGURES.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("dir", metavar="DIR", help="collected sweep directory (summary.csv)"
                       + ("" if name in ("e0", "e1", "e5") else " or one run directory"))
        p.add_argument("--out", metavar="PREFIX", help="output prefix (default DIR/figures/%s)"
                       % name)
        p.add_argument("--data-json", metavar="PATH", help="write the plotted data as JSON")
        if name == "e0":
            p.add_argument("--threshold", type=float, default=0.1,
                           help="a seed is stuck when final_rel_err > this (default 0.1)")
        if name == "e1":
            p.add_argument("--fitted", action="store_true",
                           help="add a row of panels: fraction of seeds fitting every target "
                           "(n_fitted = problem.rank) vs m")
        if name == "e5":
            otd_e5.add_threshold_args(p)
        if name in ("e2", "e3", "e4"):
            p.add_argument("--point", action="append", metavar="NAME",
                           help="use this point (repeatable)%s" %
                           ("; the first is plotted" if name == "e2" else ""))
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        sweep = load_sweep(args.dir)
        if sweep.single and args.figure in ("e0", "e1", "e5"):
            raise SweepError("%s needs a collected sweep: no %s/summary.csv "
                             "(run `otd collect %s` first)" % (args.figure, args.dir, args.dir))
        paths, summary = write(sweep, args)
    except SweepError as e:
        print("figures: %s" % e, file=sys.stderr)
        return 1
    for p in paths:
        print(p)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
