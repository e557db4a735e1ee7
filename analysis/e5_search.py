#!/usr/bin/python3
"""E5's adaptive search: m* per (method, l, d) by running only the m it needs.

usage: /usr/bin/python3 analysis/e5_search.py SWEEP.yaml --out DIR [--local N]
           [--listed] [--other-max-m M] [--lazy-threshold X] [--success F]
           [--max-rounds K] [--dry-run]

SWEEP.yaml is an ordinary otd sweep file (jobs/sweeps/e5_small.yaml, e5.yaml)
whose grid has model.m and run.seed. Its points are grouped by every other
key (a group: one method, order l and dimension d). For each group the search
finds m* (analysis/otd_e5.py: lazy_opt the smallest m whose median
final_rel_err over the group's seeds is <= 0.1; every other method the
smallest m at which >= 90 % of the seeds reach algo.target_rel_err) among the
candidates: every integer from the group's smallest to its largest model.m
(--listed: only the listed values; for methods other than lazy_opt only up to
--other-max-m, 128, so that a method that never succeeds does not climb to
the m lazy_opt needs, where a step costs O(m^2 d)). A probe runs one m with all the group's
seeds. From a first guess (lazy_opt: the dimension count's (1 - 0.1^2) D/d,
D = C(d+l-1, l); other methods: problem.rank) it steps down while the probes
succeed, or up while they fail, by steps 1, 2, 4, ..., until it has a failing
and a succeeding m, then bisects between them: it ends with m* succeeding and
the candidate just below it failing (m* = the smallest candidate if that
succeeds; none if the largest fails). This assumes success is monotone in m;
it is only in expectation (the median over seeds smooths lazy_opt's error),
and a full grid (`otd sweep SWEEP.yaml`) is the check. A lazy_opt group whose
dimension-count guess lies above its largest m is not run (reported).

Each round collects the next probe of every unfinished group into one sweep
file, DIR/e5-search.yaml (the base, set and ranks of SWEEP.yaml, every probe
so far as `points`, written in the grid's key order so that a point has the
name the full grid would give it), runs `otd sweep DIR/e5-search.yaml --out DIR
--local N --unfinished` and `otd collect DIR`. DIR is then an ordinary
collected sweep: `figures.py e5 DIR` draws it. The search is a function of
the collected results, so running it again reuses every finished run and
continues where it stopped. It prints one line per round, m* per group and
the number of runs. Exit status 0 when every group has its answer, 1 when a
point failed or otd did, 2 on bad usage or a bad sweep file.

--dry-run prints the groups, their candidates and first guesses, and writes
nothing. The otd binary: $OTD_BIN, else build/otd of this checkout, else
`otd` on PATH; run `. jobs/env.sh` first (Open MPI as root).

    /usr/bin/python3 analysis/e5_search.py jobs/sweeps/e5_small.yaml --out results/e5 --local 2
    /usr/bin/python3 analysis/figures.py e5 results/e5
"""

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import otd_env  # noqa: E402

otd_env.require("h5py", "numpy", "pandas", "yaml")
import yaml  # noqa: E402

import otd_e5  # noqa: E402
from otd_sweep import SweepError, flatten_config, load_sweep  # noqa: E402

SEARCH_FILE = "e5-search.yaml"
M, SEED = "model.m", "run.seed"
# What otd uses when neither the base config nor the sweep sets a key
# (`otd run --help`); only these keys are read here.
DEFAULTS = {"algo.name": "bl", "problem.order": 3, "problem.dim": 10, "problem.rank": 3}
COPIED_KEYS = ("name", "ranks", "nodes", "ntasks", "time", "jobs", "gflops", "setup", "sbatch",
               "signal_seconds", "max_requeues")


class UsageError(Exception):
    """A bad command line or sweep file (exit status 2)."""


def otd_binary():
    if os.environ.get("OTD_BIN"):
        return os.environ["OTD_BIN"]
    built = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "otd")
    if os.path.exists(built):
        return os.path.normpath(built)
    return shutil.which("otd") or "otd"


def load_yaml(path, what):
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as e:
        raise UsageError("%s %s: %s" % (what, path, e)) from e
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise UsageError("%s %s: not a mapping" % (what, path))
    return doc


def canon(v):
    """A value comparable between YAML (the sweep file) and summary.csv cells."""
    if isinstance(v, str):
        try:
            parsed = yaml.safe_load(v)
        except yaml.YAMLError:
            return v
        if isinstance(parsed, (list, bool, int, float)):
            return canon(parsed)
        return v
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, (list, tuple)):
        return tuple(canon(x) for x in v)
    return v


class Group:
    """One (method, l, d, ...): the grid point without model.m and run.seed."""

    def __init__(self, template, full, candidates, seeds, threshold):
        self.template = template  # own keys in file order (model.m, run.seed included)
        self.key = {k: v for k, v in template.items() if k not in (M, SEED)}
        self.method = str(full["algo.name"])
        self.order = int(full["problem.order"])
        self.dim = int(full["problem.dim"])
        self.rank = int(full["problem.rank"])
        self.cands = candidates
        self.seeds = seeds
        if self.method in otd_e5.LAZY_METHODS:
            self.guess_m = otd_e5.predicted_lazy_m(self.dim, self.order, threshold)
        else:
            self.guess_m = self.rank
        self.guess = next((i for i, m in enumerate(self.cands) if m >= self.guess_m),
                          len(self.cands) - 1)
        # a lazy group whose dimension count says m* is beyond its range
        self.skip = (self.method in otd_e5.LAZY_METHODS and self.guess_m > self.cands[-1])

    def label(self):
        extra = ["%s=%s" % (k, v) for k, v in self.key.items()
                 if k not in ("algo.name", "problem.order", "problem.dim")]
        return " ".join(["%s l=%d d=%d" % (self.method, self.order, self.dim)] + extra)

    def point(self, m, seed):
        p = dict(self.template)
        p[M] = int(m)
        if seed is not None:
            p[SEED] = seed
        return p

    def probe(self, i):
        return [self.point(self.cands[i], s) for s in self.seeds]


def expand(spec, path):
    """The sweep file's own points (dicts of its grid/points keys, file
    order), its base config resolved to an absolute path, and base + set
    flattened."""
    unknown = set(spec) - set(COPIED_KEYS) - {"base", "set", "grid", "points"}
    if unknown:
        raise UsageError("%s: unknown sweep key(s) %s" % (path, ", ".join(sorted(unknown))))
    base = spec.get("base")
    fixed = {}
    if base:
        base = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), base))
        fixed.update(flatten_config(load_yaml(base, "base config")))
    fixed.update(flatten_config(spec.get("set") or {}))
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise UsageError("%s: grid is not a mapping" % path)
    own = []
    keys = list(grid)
    for combo in itertools.product(*[grid[k] if isinstance(grid[k], list) else [grid[k]]
                                     for k in keys]):
        own.append(dict(zip(keys, combo)))
    for p in spec.get("points") or []:
        if not isinstance(p, dict):
            raise UsageError("%s: a points entry is not a mapping" % path)
        own.append(dict(p))
    if not own:
        raise UsageError("%s: no points" % path)
    return own, base, fixed


def make_groups(own, fixed, listed, threshold, other_max_m):
    groups = {}
    for p in own:
        if M not in p:
            raise UsageError("every point needs model.m from the grid or points (the range "
                             "searched); %s has none" % p)
        key = tuple(sorted((k, repr(canon(v))) for k, v in p.items() if k not in (M, SEED)))
        g = groups.setdefault(key, {"template": p, "m": set(), "seeds": []})
        g["m"].add(int(p[M]))
        seed = p.get(SEED)
        if seed not in g["seeds"]:
            g["seeds"].append(seed)
    out = []
    for g in groups.values():
        full = dict(DEFAULTS)
        full.update(fixed)
        full.update(g["template"])
        ms = sorted(g["m"])
        if ms[0] < 1:
            raise UsageError("model.m must be >= 1 (got %d)" % ms[0])
        cands = ms if listed else list(range(ms[0], ms[-1] + 1))
        if str(full["algo.name"]) not in otd_e5.LAZY_METHODS and other_max_m:
            cands = [m for m in cands if m <= other_max_m] or cands[:1]
        out.append(Group(g["template"], full, cands, g["seeds"], threshold))
    return out


class Results:
    """The collected rows of DIR (none before the first round), looked up by
    the values of a point's own keys."""

    def __init__(self, sweep_dir):
        try:
            self.rows = load_sweep(sweep_dir).rows
        except SweepError:
            self.rows = []
        self.index = {}

    def of(self, point):
        keys = tuple(point)
        if keys not in self.index:
            by = self.index[keys] = {}
            for r in self.rows:
                by.setdefault(tuple(canon(r.get(k)) for k in keys), []).append(r)
        return self.index[keys].get(tuple(canon(v) for v in point.values()), [])


def outcome(group, i, results, threshold, fraction):
    """True/False when every seed of the probe is done, None if any has not
    run; SweepError if one ended otherwise (failed, invalid)."""
    found = []
    for p in group.probe(i):
        at = results.of(p)
        if not at:
            return None
        done = [r for r in at if r.get("status") == "done"]
        if not done:
            bad = at[0]
            raise SweepError("point %s: %s%s" % (bad.get("name"), bad.get("status"),
                                                  ": " + str(bad.get("reason"))
                                                  if bad.get("reason") else ""))
        found.append(done[0])
    return otd_e5.judge(group.method, found, threshold, fraction)["pass"]


def replay(group, result):
    """Walk the search from the guess with the known outcomes result(i)
    (True/False/None): ("run", i, visited) for the next probe to run, or
    ("done", lo, hi, visited): cands[lo] fails, cands[hi] succeeds (lo = -1:
    none below; hi = len: none succeeded)."""
    n = len(group.cands)
    lo, hi, step, i = -1, n, 1, group.guess
    visited = []
    while True:
        r = result(i)
        visited.append(i)
        if r is None:
            return ("run", i, visited)
        if r:
            hi = i
        else:
            lo = i
        if hi - lo <= 1:
            return ("done", lo, hi, visited)
        if lo == -1:  # succeeded so far: step down
            i = max(hi - step, 0)
            step *= 2
        elif hi == n:  # failed so far: step up
            i = min(lo + step, n - 1)
            step *= 2
        else:
            i = (lo + hi) // 2


def write_search_file(spec, base, points, path):
    doc = {k: spec[k] for k in COPIED_KEYS if k in spec}
    if base:
        doc["base"] = base
    if spec.get("set"):
        doc["set"] = spec["set"]
    doc["points"] = points
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("# written by analysis/e5_search.py: every probe so far; rerun the search,\n"
                "# not this file, to continue\n")
        yaml.safe_dump(doc, f, sort_keys=False, default_flow_style=None, width=1000)
    os.replace(tmp, path)


def run(cmd):
    """Run cmd, its output passed through; return its exit status."""
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd).returncode


def parse_args(argv):
    ap = argparse.ArgumentParser(description="E5: find m* per (method, l, d) by an adaptive "
                                 "search over m (docs/science.md section 5).")
    ap.add_argument("file", metavar="SWEEP.yaml")
    ap.add_argument("--out", metavar="DIR", help="the sweep directory (created)")
    ap.add_argument("--local", metavar="N", type=int, default=1,
                    help="points run at once (otd sweep --local N; default 1)")
    ap.add_argument("--listed", action="store_true",
                    help="candidates: only the listed model.m values (default: every integer "
                    "from the smallest to the largest)")
    otd_e5.add_threshold_args(ap)
    ap.add_argument("--other-max-m", type=int, default=128, metavar="M",
                    help="methods other than lazy_opt: search m <= M only (default 128; 0: the "
                    "file's range), so that a method that never succeeds does not climb to "
                    "the m lazy_opt needs")
    ap.add_argument("--max-rounds", type=int, default=100, metavar="K",
                    help="stop after K rounds (default 100)")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the groups and first guesses; run and write nothing")
    args = ap.parse_args(argv)
    if not args.dry_run and not args.out:
        ap.error("--out DIR is required (except with --dry-run)")
    if args.local < 1 or args.max_rounds < 1:
        ap.error("--local and --max-rounds must be >= 1")
    return args


def describe(group, lo, hi):
    if group.skip:
        return "not run: the dimension count puts m* near %.0f, above the largest m %d" % (
            group.guess_m, group.cands[-1])
    n = len(group.cands)
    if hi == n:
        return "no m* <= %d (every m run fails)" % group.cands[-1]
    below = ("m=%d fails" % group.cands[lo]) if lo >= 0 else "the smallest candidate"
    return "m*=%d (%s)" % (group.cands[hi], below)


def main(argv=None):
    args = parse_args(argv)
    try:
        spec = load_yaml(args.file, "sweep file")
        own, base, fixed = expand(spec, args.file)
        groups = make_groups(own, fixed, args.listed, args.lazy_threshold, args.other_max_m)
    except UsageError as e:
        print("e5_search: %s" % e, file=sys.stderr)
        return 2
    if args.dry_run:
        for g in groups:
            state = "skipped (guess %.0f > %d)" % (g.guess_m, g.cands[-1]) if g.skip else \
                "first m %d" % g.cands[g.guess]
            print("%s: m in %d..%d (%d candidates), %d seeds, %s"
                  % (g.label(), g.cands[0], g.cands[-1], len(g.cands), len(g.seeds), state))
        grid = sum(len(g.cands) * len(g.seeds) for g in groups)
        print("e5_search: %d groups; a full grid of the candidates would be %d runs"
              % (len(groups), grid))
        return 0
    otd = otd_binary()
    os.makedirs(args.out, exist_ok=True)
    search_file = os.path.join(args.out, SEARCH_FILE)
    start = time.time()
    rounds = 0
    try:
        while True:
            results = Results(args.out)
            points, new, states = [], [], []
            for g in groups:
                if g.skip:
                    states.append(None)
                    continue
                state = replay(g, lambda i, g=g: outcome(g, i, results, args.lazy_threshold,
                                                         args.success))
                states.append(state)
                for i in state[-1]:
                    for p in g.probe(i):
                        if p not in points:
                            points.append(p)
                if state[0] == "run":
                    new.append("%s: m=%d" % (g.label(), g.cands[state[1]]))
            if not new:
                break
            if rounds >= args.max_rounds:
                print("e5_search: stopped after %d rounds with %d groups unfinished"
                      % (rounds, len(new)), file=sys.stderr)
                return 1
            rounds += 1
            print("e5_search: round %d: %d probes (%s)" % (rounds, len(new), "; ".join(new)),
                  flush=True)
            write_search_file(spec, base, points, search_file)
            status = run([otd, "sweep", search_file, "--out", args.out, "--local",
                          str(args.local), "--unfinished"])
            cstatus = run([otd, "collect", args.out])
            if status != 0 or cstatus != 0:
                # a point that did not end done is reported by the next replay
                results = Results(args.out)
                for g in groups:
                    if not g.skip:
                        replay(g, lambda i, g=g: outcome(g, i, results, args.lazy_threshold,
                                                         args.success))
                print("e5_search: otd sweep/collect exited %d/%d" % (status, cstatus),
                      file=sys.stderr)
                return 1
    except SweepError as e:
        print("e5_search: %s" % e, file=sys.stderr)
        return 1
    if rounds == 0:  # nothing new to run: collect anyway, so summary.csv is current
        write_search_file(spec, base, points, search_file)
        if run([otd, "sweep", search_file, "--out", args.out]) != 0 or \
                run([otd, "collect", args.out]) != 0:
            return 1
    for g, state in zip(groups, states):
        if g.skip:
            print("e5_search: %s: %s" % (g.label(), describe(g, -1, -1)))
        else:
            print("e5_search: %s: %s, %d probes" % (g.label(), describe(g, state[1], state[2]),
                                                    len(set(state[-1]))))
    grid = sum(len(g.cands) * len(g.seeds) for g in groups)
    print("e5_search: %d runs in %d rounds, %.0f s (a full grid of the candidates: %d runs); "
          "%s" % (len(points), rounds, time.time() - start, grid,
                  os.path.join(args.out, "summary.csv")))
    print("next: /usr/bin/python3 %s e5 %s" % (
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "figures.py"), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
