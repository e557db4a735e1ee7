"""Load a collected otd sweep (DIR/summary.csv) for analysis.

A sweep directory is what `otd sweep FILE --out DIR` writes and `otd collect DIR`
summarizes: DIR/summary.csv has one row per point (columns read by name:
index, name, status, reason, rundir, iters, final_rel_err, ..., every /summary
attribute of the run, every configuration key dotted: problem.order, model.m,
algo.name, ...), and DIR/<rundir>/results.h5 holds the run itself
(format: docs/file-formats.md, "summary.csv and summary.h5").

    from otd_sweep import load_sweep, select, group
    sw = load_sweep("sweeps/e1")           # or a single run directory
    gd = select(sw.done(), {"algo.name": "gd", "problem.dim": [10, 20]})
    for (order, m), rows in group(gd, ["problem.order", "model.m"]).items():
        errs = [r["final_rel_err"] for r in rows]
    run = sw.run(gd[0])                    # otd_results.load_run of that point

Cells of a column whose every non-empty cell is a number become int (all
integral) or float; other cells stay text; empty cells are None. A directory
holding results.h5 but no summary.csv is read as a sweep of one point, so the
per-run figures work on a plain `otd run --out DIR` as well.

For pandas, dataframe(DIR) reads DIR/summary.h5 into one typed row per point:
integer columns int64, reals float64, text str (object), booleans bool;
every column's description and unit are in df.attrs:

    >>> from otd_sweep import dataframe
    >>> df = dataframe("sweeps/e1")
    >>> df[["name", "model.m", "algo.lr", "problem.normalize", "final_rel_err"]].dtypes
    name                  object
    model.m                int64
    algo.lr              float64
    problem.normalize       bool
    final_rel_err        float64
    dtype: object
    >>> df.attrs["description"]["steps_per_s"], df.attrs["unit"]["steps_per_s"]
    ('gradient steps per second of wall time of the last process', '1/s')
    >>> done = df[df.status == "done"]
    >>> done.groupby(["problem.dim", "model.m"])["final_rel_err"].median()

A column with points that lack a value (a point that never ran has no iters,
an invalid point no configuration) becomes pandas' nullable Int64 / boolean
with <NA> there; floats get NaN, text None.

Errors are SweepError with a message meant for the user (main prints it and
exits nonzero). Run with /usr/bin/python3 (Debian's h5py, numpy, pandas,
yaml): importing this module with another Python exits with status 2 and
says so (otd_env.py).
"""

import csv
import math
import os

import otd_env

otd_env.require("h5py", "numpy", "pandas", "yaml")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from otd_results import RESULTS_NAME, load_run, run_verdict  # noqa: E402

SUMMARY_NAME = "summary.csv"
SUMMARY_H5 = "summary.h5"
DONE = "done"


class SweepError(Exception):
    """Something the user must fix: a missing file, a figure's points absent."""


def _number(text):
    """int or float of a CSV cell, or None if it is not a number."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


def _parse_columns(header, cells):
    """Rows as dicts; numeric columns converted as a whole, so one column
    never mixes numbers and text (a config key "10" next to "auto" stays text)."""
    rows = [dict(zip(header, line)) for line in cells]
    for col in header:
        values = [r.get(col) for r in rows]
        present = [v for v in values if v not in (None, "")]
        nums = [_number(v) for v in present]
        numeric = bool(present) and all(n is not None for n in nums)
        for r in rows:
            v = r.get(col)
            if v in (None, ""):
                r[col] = None
            elif numeric:
                r[col] = _number(v)
    return rows


def flatten_config(config, prefix=""):
    """{"problem": {"dim": 10}} -> {"problem.dim": 10}; lists stay lists."""
    out = {}
    for key, value in config.items():
        name = prefix + str(key)
        if isinstance(value, dict):
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


class Sweep:
    """A collected sweep: path (the directory), rows (list of dicts, file
    order) and run(row), the row's results loaded once and cached."""

    def __init__(self, path, rows, single=False):
        self.path = path
        self.rows = rows
        self.single = single  # a lone run directory rather than a sweep
        self._runs = {}

    def done(self):
        """The rows whose run finished (status done)."""
        return [r for r in self.rows if r.get("status") == DONE]

    def run(self, row):
        """otd_results.load_run of the row's run directory (cached)."""
        rundir = row.get("rundir")
        if not rundir:
            raise SweepError(f"point {row.get('name')}: no rundir in {self.summary_path()}")
        path = os.path.normpath(os.path.join(self.path, rundir))
        if path not in self._runs:
            try:
                self._runs[path] = load_run(path)
            except (OSError, ValueError) as e:
                raise SweepError(f"point {row.get('name')}: cannot read its results: {e}") from e
        return self._runs[path]

    def summary_path(self):
        return os.path.join(self.path, SUMMARY_NAME)

    def find(self, name):
        """The row named name (exact), else SweepError listing some names."""
        for r in self.rows:
            if r.get("name") == name:
                return r
        names = ", ".join(str(r.get("name")) for r in self.rows[:8])
        more = " ..." if len(self.rows) > 8 else ""
        raise SweepError(f"no point named '{name}' in {self.path} (points: {names}{more})")


def _single_run_row(path):
    """The summary.csv row `otd collect` would write for one run directory."""
    run = load_run(path)
    status, reason = run_verdict(run)
    row = {"index": 0, "name": os.path.basename(os.path.normpath(path)), "status": status,
           "reason": reason, "rundir": "."}
    for key, value in run["summary"].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row[key] = value
    row.update(flatten_config(run["config"]))
    return row, run


def load_sweep(path):
    """Read DIR/summary.csv (or a single run directory); SweepError if neither."""
    if not os.path.isdir(path):
        raise SweepError(f"'{path}' is not a directory")
    summary = os.path.join(path, SUMMARY_NAME)
    if not os.path.exists(summary):
        if os.path.exists(os.path.join(path, RESULTS_NAME)):
            row, run = _single_run_row(path)
            sw = Sweep(path, [row], single=True)
            sw._runs[os.path.normpath(os.path.join(path, "."))] = run
            return sw
        raise SweepError(f"no {summary}: run `otd collect {path}` first")
    try:
        with open(summary, newline="") as f:
            lines = list(csv.reader(f))
    except OSError as e:
        raise SweepError(f"cannot read {summary}: {e}") from e
    if not lines:
        raise SweepError(f"{summary} is empty: run `otd collect {path}` again")
    header = lines[0]
    for col in ("name", "status", "rundir"):
        if col not in header:
            raise SweepError(f"{summary}: no '{col}' column (header: {','.join(header)})")
    return Sweep(path, _parse_columns(header, lines[1:]))


def _matches(value, want):
    if callable(want):
        return bool(want(value))
    if isinstance(want, (list, tuple, set, frozenset)):
        return value in want
    return value == want


def select(rows, where):
    """The rows whose every column in where matches: a value (equal), a
    list/tuple/set (member) or a callable (true)."""
    return [r for r in rows if all(_matches(r.get(k), w) for k, w in where.items())]


def _sort_key(value):
    """Sort None last and numbers before text, without comparing across types."""
    if value is None:
        return (2, 0, "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (1, 0, str(value))


def group(rows, keys):
    """{(row[k] for k in keys): [rows]}, keys sorted (numbers numerically)."""
    out = {}
    for r in rows:
        out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return dict(sorted(out.items(), key=lambda kv: tuple(_sort_key(v) for v in kv[0])))


def values(rows, key):
    """The distinct values of one column, sorted."""
    return sorted({r.get(key) for r in rows}, key=_sort_key)


def finite(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def describe_where(where):
    """'algo.name in (bl, tdp), problem.order = 3'-style text for errors."""
    parts = []
    for k, w in where.items():
        if isinstance(w, (list, tuple, set, frozenset)):
            parts.append(f"{k} in ({', '.join(str(v) for v in w)})")
        else:
            parts.append(f"{k} = {w}")
    return ", ".join(parts)


def require(sweep, rows, what, figure):
    """rows, or a SweepError naming what figure needed (what: text such as
    describe_where's) and what the sweep has."""
    if rows:
        return rows
    algos = ", ".join(str(a) for a in values(sweep.done(), "algo.name")) or "none"
    total = len(sweep.rows)
    done = len(sweep.done())
    raise SweepError(f"{figure}: no finished points with {what} in "
                     f"{sweep.path} ({done} of {total} points done; algo.name present: {algos})")


def _column(f, name):
    """One summary.h5 column as a pandas Series of its type (see dataframe)."""
    ds = f[name]
    raw = ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) else ds[()]
    miss = None
    if "missing" in f and name in f["missing"]:
        miss = np.asarray(f["missing"][name][()], dtype=bool)
    if h5py.check_string_dtype(ds.dtype):
        out = pd.Series(list(raw), dtype=object)
        if miss is not None:
            out[miss] = None
    elif raw.dtype == np.bool_:
        out = pd.Series(raw, dtype=bool)
        if miss is not None:
            out = out.astype("boolean")
            out[miss] = pd.NA
    elif np.issubdtype(raw.dtype, np.integer):
        out = pd.Series(raw, dtype="int64")
        if miss is not None:
            out = out.astype("Int64")
            out[miss] = pd.NA
    else:
        out = pd.Series(raw, dtype="float64")
        if miss is not None:
            out[miss] = np.nan
    return out


def dataframe(path):
    """DIR/summary.h5 (`otd collect DIR`) as a pandas DataFrame: one row per
    point in manifest order, the columns of summary.csv in its order, each
    of its stored type; df.attrs["description"] and df.attrs["unit"] map
    each column to its description and unit (None: dimensionless).
    SweepError if DIR has no summary.h5 or it cannot be read."""
    summary = os.path.join(path, SUMMARY_H5)
    if not os.path.exists(summary):
        raise SweepError(f"no {summary}: run `otd collect {path}` first")
    try:
        with h5py.File(summary, "r") as f:
            text = f.attrs["columns"]
            names = text.split(",") if text else []
            df = pd.DataFrame({n: _column(f, n) for n in names}, columns=names)
            df.attrs["description"] = {n: f[n].attrs.get("description") for n in names}
            df.attrs["unit"] = {n: f[n].attrs.get("unit") for n in names}
    except (OSError, KeyError) as e:
        raise SweepError(f"cannot read {summary}: {e}") from e
    return df
