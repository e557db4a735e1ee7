#!/usr/bin/python3
"""Plot the relative error of one otd run against the iteration.

usage: /usr/bin/python3 analysis/plot_run.py RUN_DIR_or_results.h5 [-o out.png]

Writes a PNG (default: rel_err.png next to the results file) with
||T(W) - T*|| / ||T*|| on a log axis, the loss on a second log axis when
recorded, and a dashed line at algo.target_rel_err when the configuration sets
one; prints the path written.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otd_env  # noqa: E402

otd_env.require("h5py", "numpy", "matplotlib", "yaml")
import matplotlib  # noqa: E402

matplotlib.use("Agg")  # files only: no display on cluster nodes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from otd_results import config_get, describe, load_run  # noqa: E402


def positive(y):
    """Log axes cannot show values <= 0 (or NaN): mask them instead of failing."""
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y) & (y > 0), y, np.nan)


def plot(run, out):
    hist = run["history"]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    extra = []  # lines on the loss axis, listed in the one legend
    it = hist.get("iter")
    err = hist.get("rel_err")
    if it is None or err is None or len(it) == 0:
        ax.text(0.5, 0.5, "no history rows", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.semilogy(it, positive(err), color="C0", lw=1.5, label="relative error")
        loss = hist.get("loss")
        if loss is not None and len(loss) == len(it):
            ax2 = ax.twinx()
            extra += ax2.semilogy(it, positive(loss), color="0.55", lw=1, ls=":",
                                  label="loss (right axis)")
            ax2.set_ylabel("loss", color="0.4")
            ax2.tick_params(axis="y", colors="0.4")
    target = config_get(run["config"], "algo.target_rel_err")
    if isinstance(target, (int, float)) and target > 0:
        ax.axhline(target, color="C3", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("relative error  \u2016T(W) \u2212 T*\u2016 / \u2016T*\u2016")
    ax.set_title(describe(run))
    ax.grid(True, which="major", alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + extra
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Plot relative error vs iteration of one otd run.")
    ap.add_argument("run", help="run directory or results.h5")
    ap.add_argument("-o", "--output", help="PNG to write (default: rel_err.png beside the results)")
    args = ap.parse_args(argv)
    try:
        run = load_run(args.run)
    except (OSError, ValueError) as e:
        print(f"plot_run: {e}", file=sys.stderr)
        return 1
    out = args.output or os.path.join(os.path.dirname(os.path.abspath(run["path"])), "rel_err.png")
    plot(run, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
