"""Load an otd results file (results.h5) into plain Python and NumPy objects.

Shared by the analysis scripts (plot_run.py, sweep collection, the E0-E4
figures). Run with /usr/bin/python3 (Debian's h5py, numpy and yaml).

    run = load_run("runs/point_0001")          # a run directory ...
    run = load_run("runs/point_0001/results.h5")  # ... or the file itself
    run["config"]["algo"]["name"], run["history"]["rel_err"], run["W"]

The file layout is documented in docs/file-formats.md (section results.h5)
and include/otd/otd_results.h.
"""

import fcntl
import os

import otd_env

otd_env.require("h5py", "numpy", "yaml")
import h5py  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

RESULTS_NAME = "results.h5"


def results_path(path):
    """The results file of a run directory, or path itself if it is a file."""
    if os.path.isdir(path):
        return os.path.join(path, RESULTS_NAME)
    return path


def _text(value):
    """h5py gives str for variable-length strings, bytes for fixed-length."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    return value


def _attrs(obj):
    out = {}
    for key, value in obj.attrs.items():
        value = _text(value)
        if isinstance(value, np.ndarray) and value.shape == ():
            value = value[()]
        if isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


def _dataset(f, name):
    return np.asarray(f[name][()]) if name in f else None


def config_get(config, key, default=None):
    """config_get(cfg, "algo.name"): a dotted key in the nested config dict
    (a flat dict with dotted keys works too)."""
    if config is None:
        return default
    if key in config:
        return config[key]
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def load_run(path):
    """Read a run directory or results file into a dict:

    path     the results file read
    attrs    root attributes (config text, config_hash, otd_version, nranks, ...)
    config   the resolved configuration, parsed from the YAML attribute ({} if none)
    history  {column: numpy array}: 1-D for scalar columns, (n, r) for vector ones
    summary  /summary attributes ({} while the run has not finished)
    W, W0    final and initial factor matrices (d, m), or None
    U, a     target components (d, r) and weights (r,), or None
    """
    path = results_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no results file '{path}'")
    with h5py.File(path, "r") as f:
        attrs = _attrs(f)
        text = attrs.get("config")
        config = yaml.safe_load(text) if isinstance(text, str) and text.strip() else {}
        history = {}
        if "history" in f:
            for name, ds in f["history"].items():
                if isinstance(ds, h5py.Dataset):
                    history[name] = np.asarray(ds[()])
        summary = _attrs(f["summary"]) if "summary" in f else {}
        return {
            "path": path,
            "attrs": attrs,
            "config": config if isinstance(config, dict) else {},
            "history": history,
            "summary": summary,
            "W": _dataset(f, "final/W"),
            "W0": _dataset(f, "init/W"),
            "U": _dataset(f, "target/U"),
            "a": _dataset(f, "target/a"),
        }


def describe(run):
    """A one-line title: "bl: l=3, d=50, r=5, m=40" (missing keys left out)."""
    cfg = run["config"]
    algo = config_get(cfg, "algo.name") or run["attrs"].get("algo", "otd")
    parts = []
    for label, key in (("l", "problem.order"), ("d", "problem.dim"), ("r", "problem.rank"),
                       ("m", "model.m")):
        value = config_get(cfg, key)
        if value is not None:
            parts.append(f"{label}={value}")
    return f"{algo}: " + ", ".join(parts) if parts else str(algo)


def lock_held(rundir):
    """True while a live otd run holds the run directory's lock (.lock,
    flock): the test `otd collect` makes, with a shared lock that a run's
    exclusive one refuses."""
    try:
        fd = os.open(os.path.join(rundir, ".lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases our shared lock, if we got it


def run_verdict(run):
    """(status, reason) of a loaded run as `otd collect` gives it: done,
    failed or running. The verdict is the /summary attribute `outcome` that
    otd stored beside the status, from its one mapping (docs/file-formats.md,
    "Run status"): nothing here restates which status means what. An
    unfinished run is running while its lock is held, else interrupted."""
    summary = run["summary"]
    outcome = summary.get("outcome")
    if outcome == "done":
        return "done", None
    if outcome == "failed":
        return "failed", summary.get("status")
    if outcome == "unfinished":
        it = run["history"].get("iter")
        n = int(it[-1]) if it is not None and len(it) else 0
        if lock_held(os.path.dirname(run["path"])):
            return "running", f"at iteration {n}"
        return "failed", f"interrupted at iteration {n}; resumable"
    return "failed", f"/summary outcome {outcome!r} (written by an otd without it?)"
