"""The command line: help texts, `otd info`, and configuration errors that
must stop every rank with a message naming the key, before anything is
written."""
import json
import os
import stat
import subprocess
import unittest

import h5py
import numpy as np

from otdtest import MPIEXEC, OTD, SOURCE, TmpTestCase, run, run_command, run_serial, sets

COMMANDS = ("run", "tensor", "bench", "info", "sweep", "sweep-run", "collect")


def json_doc(text):
    """text parsed by a separate python3's json module (what a script
    reading otd's output would do): the document, or an AssertionError
    naming what did not parse."""
    p = subprocess.run(["/usr/bin/python3", "-c",
                        "import json, sys; json.dump(json.loads(sys.stdin.read()), sys.stdout)"],
                       input=text, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, "not JSON (%s):\n%s" % (p.stderr, text)
    return json.loads(p.stdout)


class Help(TmpTestCase):
    def test_help(self):
        proc = run_serial(["--help"])
        self.assertEqual(proc.returncode, 0)
        for word in ("run", "info", "exit status"):
            self.assertIn(word, proc.stdout)
        self.assertEqual(run_serial([]).returncode, 2)
        self.assertEqual(run_serial(["frobnicate"]).returncode, 2)

    def test_run_help_lists_every_key(self):
        proc = run(["run", "--help"])
        self.assertEqual(proc.returncode, 0)
        for key in ("problem.order", "problem.dim", "problem.rank", "problem.target",
                    "problem.weights", "problem.components_file", "model.m", "model.param",
                    "model.init_scale", "model.init_file", "algo.name", "algo.lr",
                    "algo.max_iters", "algo.lambda", "algo.reinit_threshold", "algo.epoch_len",
                    "algo.epoch_growth", "algo.target_rel_err", "algo.lazy_solver",
                    "algo.lazy_tol", "algo.lazy_max_iters", "run.seed", "run.log_every",
                    "metrics.large_fraction", "metrics.fit_corr", "metrics.fit_mass_tol",
                    "engine"):
            self.assertIn(key, proc.stdout)

    def test_info(self):
        out = self.out("r")
        proc = run(["run", "--out", out] + sets(algo__max_iters=30, algo__target_rel_err=0))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        info = run_serial(["info", os.path.join(out, "results.h5")])
        self.assertEqual(info.returncode, 0, info.stderr)
        for word in ("final_rel_err", "max_iters", "/final/W", "(10, 12)", "rel_err", "problem:"):
            self.assertIn(word, info.stdout)
        bad = run_serial(["info", self.out("nope.h5")])
        self.assertEqual(bad.returncode, 2)  # a missing input file is bad usage
        self.assertIn("nope.h5", bad.stderr)
        # a run directory stands for its results.h5
        self.assertEqual(run_serial(["info", out]).stdout, info.stdout)


class Conventions(TmpTestCase):
    """The command line's conventions: `otd version`, `otd help CMD`, every
    exit status in the help, --quiet, --json, --local without Slurm, and a
    rerun command that repeats how the sweep was run."""

    def test_version_and_help(self):
        v = run_serial(["version"])
        self.assertEqual(v.returncode, 0, v.stderr)
        self.assertEqual(v.stdout, run_serial(["--version"]).stdout)
        self.assertRegex(v.stdout, r"^otd \S+\n$")
        top = run_serial(["help"])
        self.assertEqual(top.returncode, 0)
        self.assertEqual(top.stdout, run_serial(["--help"]).stdout)
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                h = run_serial(["help", cmd])
                self.assertEqual(h.returncode, 0, h.stderr)
                self.assertTrue(h.stdout.startswith("usage:"), h.stdout[:200])
                self.assertEqual(h.stdout, run_serial([cmd, "--help"]).stdout)
                self.assertIn(cmd, top.stdout)
        for status in (0, 1, 2, 3, 75, 130):
            self.assertRegex(top.stdout, r"(?m)^ +%d [a-z]" % status)

    def test_run_quiet(self):
        out = self.out("q")
        args = ["run", "--out", out, "--quiet"] + sets(algo__max_iters=30, run__log_every=10)
        p = run(args, nranks=2)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = p.stdout.splitlines()
        self.assertEqual(len(lines), 2, p.stdout)
        self.assertRegex(lines[0], r"^done: max_iters after 30 steps")
        self.assertEqual(lines[1], "  results: %s/results.h5" % out)
        # without --quiet the same run has a banner and progress lines
        loud = run(["run", "--out", self.out("loud")] + args[4:], nranks=2)
        self.assertIn("BLAS:", loud.stdout)
        self.assertRegex(loud.stdout, r"(?m)^  iter ")
        # a finished run: the one line saying so
        p = run(args, nranks=2)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^otd: \S+ is complete \(status max_iters\)[^\n]*\n$")
        # errors still reach stderr
        p = run(["run", "--quiet", "--out", self.out("bad")] + sets(model__m=-1))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, "")
        self.assertIn("model.m", p.stderr)

    def test_info_json(self):
        out = self.out("r")
        p = run(["run", "--out", out] + sets(algo__name="gd", algo__max_iters=30,
                                             algo__target_rel_err=0))
        self.assertEqual(p.returncode, 0, p.stderr)
        p = run_serial(["info", "--json", out])
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json_doc(p.stdout)
        for key in ("file", "attrs", "config", "datasets", "summary", "history", "provenance",
                    "groups"):
            self.assertIn(key, doc)
        self.assertEqual(doc["file"], os.path.join(out, "results.h5"))
        self.assertNotIn("config", doc["attrs"])
        with h5py.File(doc["file"], "r") as f:
            self.assertEqual(doc["config"]["yaml"], f.attrs["config"])
            self.assertEqual(doc["attrs"]["nranks"], int(f.attrs["nranks"]))
            self.assertEqual(doc["summary"]["status"], f["summary"].attrs["status"])
            self.assertEqual(doc["summary"]["final_rel_err"],
                             float(f["summary"].attrs["final_rel_err"]))
            self.assertEqual(doc["history"]["rows"], len(f["history/iter"]))
            self.assertEqual(doc["provenance"] is None, "provenance" not in f)
        keys = doc["config"]["keys"]
        self.assertEqual(keys["model.m"], 12)
        self.assertEqual(keys["algo.max_iters"], 30)
        self.assertEqual(keys["algo.name"], "gd")
        self.assertIsInstance(keys["algo.lr"], float)
        ds = {d["path"]: d for d in doc["datasets"]}
        self.assertEqual(ds["/final/W"]["shape"], [10, 12])
        self.assertEqual(ds["/final/W"]["type"], "float64")
        self.assertEqual(doc["history"]["last"]["iter"], 30)
        self.assertIn("/summary", doc["groups"])

        # Values JSON cannot hold as numbers, and strings that need escaping.
        odd = self.out("odd.h5")
        with h5py.File(odd, "w") as f:
            f.attrs["nan"] = np.nan
            f.attrs["vec"] = np.array([1.5, np.inf, -np.inf, 2.0])
            f.attrs["text"] = 'a "quoted" \\ path\twith\x01 control, and \u00e9'
            f.attrs["config"] = "problem:\n  order: 3\n  bogus_key: 1\n"
            g = f.create_group("provenance")
            g.attrs["hosts"] = "n1,n2"
            f.create_dataset("x", data=np.zeros((2, 3), dtype=np.int32))
        p = run_serial(["info", "--json", odd])
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json_doc(p.stdout)
        self.assertIsNone(doc["attrs"]["nan"])
        self.assertEqual(doc["attrs"]["vec"], [1.5, None, None, 2])
        self.assertEqual(doc["attrs"]["text"], 'a "quoted" \\ path\twith\x01 control, and \u00e9')
        self.assertEqual(doc["config"]["yaml"], "problem:\n  order: 3\n  bogus_key: 1\n")
        self.assertIsNone(doc["config"]["keys"])  # another otd's config: the text only
        self.assertEqual(doc["provenance"], {"hosts": "n1,n2"})
        self.assertEqual(doc["datasets"], [{"path": "/x", "shape": [2, 3], "type": "int32"}])
        self.assertIsNone(doc["summary"])
        self.assertIsNone(doc["history"])

    def make_sweep(self):
        sw = self.out("sw.yaml")
        with open(sw, "w") as f:
            f.write("name: conv\nset:\n  problem.dim: 6\n  problem.rank: 2\n"
                    "  algo.max_iters: 20\ngrid:\n  run.seed: [0, 1, 2]\n")
        return sw

    def fake_sbatch(self):
        """A PATH with an sbatch that accepts every script (job 42)."""
        bindir = self.out("bin")
        os.makedirs(bindir, exist_ok=True)
        path = os.path.join(bindir, "sbatch")
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho 'Submitted batch job 42'\n")
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return {"PATH": bindir + os.pathsep + os.environ.get("PATH", "")}

    def test_sweep_local_quiet_collect_json_rerun(self):
        sw, d = self.make_sweep(), self.out("s")
        slurm_words = ("slurm:", "submit:", "sbatch", "--time=", "job ")
        # --local: nothing about Slurm, dry or not
        for extra in (["--dry-run"], []):
            p = run_command([OTD, "sweep", sw, "--out", d, "--local", "2"] + extra)
            self.assertEqual(p.returncode, 0, p.stderr)
            for w in slurm_words:
                self.assertNotIn(w, p.stdout, extra)
        self.assertIn("3 of 3 points done", p.stdout)
        p = run_command([OTD, "sweep", sw, "--out", d, "--local", "2", "--unfinished"])
        self.assertIn("nothing to do", p.stdout)
        for w in slurm_words:
            self.assertNotIn(w, p.stdout)

        # --quiet: the final line only (the job's own lines in a log)
        names = sorted(os.listdir(os.path.join(d, "runs")))
        for n in names[1:]:
            subprocess.run(["rm", "-rf", os.path.join(d, "runs", n)], check=True)
        p = run_command([OTD, "sweep", sw, "--out", d, "--local", "3", "--unfinished",
                         "--quiet"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "3 of 3 points done\n")
        with open(os.path.join(d, "logs", "sweep-run.out")) as f:
            self.assertIn("sweep-run: 2 points", f.read())
        with open(os.path.join(d, "local.args")) as f:
            self.assertEqual(f.read(), "--local\n3\n")

        # collect --json: one document; a missing point and the rerun
        # command repeating --local 3
        p = run_command([OTD, "collect", "--json", d])
        self.assertEqual(p.returncode, 0, p.stderr)
        doc = json_doc(p.stdout)
        self.assertEqual(doc["counts"], {"done": 3, "running": 0, "failed": 0, "missing": 0})
        self.assertTrue(doc["complete"])
        self.assertIsNone(doc["rerun"])
        subprocess.run(["rm", "-rf", os.path.join(d, "runs", names[2])], check=True)
        p = run_command([OTD, "collect", "--json", d])
        self.assertEqual(p.returncode, 1, p.stderr)
        doc = json_doc(p.stdout)
        self.assertEqual(doc["dir"], os.path.realpath(d))
        self.assertEqual(doc["n_points"], 3)
        self.assertEqual(doc["counts"], {"done": 2, "running": 0, "failed": 0, "missing": 1})
        self.assertFalse(doc["complete"])
        self.assertEqual(doc["summary"], {"csv": os.path.join(doc["dir"], "summary.csv"),
                                          "h5": os.path.join(doc["dir"], "summary.h5")})
        self.assertTrue(os.path.exists(doc["summary"]["csv"]))
        pts = {pt["name"]: pt for pt in doc["points"]}
        self.assertEqual(sorted(pts), names)
        self.assertEqual(pts[names[2]]["status"], "missing")
        self.assertIsNone(pts[names[2]]["iters"])
        self.assertEqual(pts[names[0]]["status"], "done")
        self.assertEqual(pts[names[0]]["iters"], 20)
        self.assertEqual(pts[names[0]]["results"]["max_iters"], 20)
        self.assertIsInstance(pts[names[0]]["results"]["final_rel_err"], float)
        self.assertTrue(doc["rerun"].endswith(" --unfinished --local 3"), doc["rerun"])
        text = run_command([OTD, "collect", d])
        self.assertEqual(text.stdout.splitlines()[-1].strip(), doc["rerun"])

        # --submit (a stand-in sbatch): quiet prints the final line; the rerun
        # command submits, with the job options given
        env = self.fake_sbatch()
        p = run_command([OTD, "sweep", sw, "--out", d, "--unfinished", "--submit", "--time",
                         "00:05:00", "--quiet"], env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(p.stdout.splitlines()), 1, p.stdout)
        self.assertRegex(p.stdout, r"^submitted 1 job \(42\)")
        self.assertFalse(os.path.exists(os.path.join(d, "local.args")))
        doc = json_doc(run_command([OTD, "collect", "--json", d]).stdout)
        self.assertTrue(doc["rerun"].endswith(" --unfinished --submit --time 00:05:00"),
                        doc["rerun"])
        # and --local again makes it local again
        p = run_command([OTD, "sweep", sw, "--out", d, "--local", "1", "--launch-each",
                         "--quiet"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "3 of 3 points done\n")  # no per-point lines
        subprocess.run(["rm", "-rf", os.path.join(d, "runs", names[0])], check=True)
        doc = json_doc(run_command([OTD, "collect", "--json", d]).stdout)
        self.assertTrue(doc["rerun"].endswith(" --unfinished --local 1 --launch-each"),
                        doc["rerun"])


class Blas(TmpTestCase):
    """otd runs the BLAS kernels this CPU supports without the user setting
    anything (Debian's OpenBLAS may fall back to generic SSE kernels on
    virtual CPUs), one thread per rank, and says so in its banner."""

    def test_fast_kernels_by_default(self):
        flags = set()
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
        # OpenBLAS's own detection may name a newer core of the same
        # family (Cooperlake on some AVX-512 CPUs): any of them is fast.
        avx512 = {"SkylakeX", "Cooperlake", "SapphireRapids"}
        if {"avx512f", "avx512vl", "avx512bw", "avx512dq"} <= flags:
            want = avx512
        elif {"avx2", "fma"} <= flags:
            want = {"Haswell", "Zen"} | avx512
        else:
            want = None
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
        proc = subprocess.run([MPIEXEC, "-n", "2", OTD, "run", "--out", self.out("b")] +
                              sets(algo__max_iters=5), capture_output=True, text=True,
                              timeout=120, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        banner = [l for l in proc.stdout.splitlines() if "BLAS:" in l]
        self.assertEqual(len(banner), 1, proc.stdout)
        self.assertIn("threads=1", banner[0])
        if want is not None:
            core = banner[0].split("core=", 1)[1].split()[0]
            self.assertIn(core, want, banner[0])
        # a user's explicit choice is respected
        env["OPENBLAS_CORETYPE"] = "Prescott"
        proc = subprocess.run([MPIEXEC, "-n", "1", OTD, "run", "--out", self.out("c")] +
                              sets(algo__max_iters=5), capture_output=True, text=True,
                              timeout=120, env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("core=Prescott", proc.stdout)
        # ... and said to be slower than what the CPU runs
        if want == avx512:
            self.assertIn("OPENBLAS_CORETYPE=Prescott from the environment; this CPU runs the "
                          "faster SkylakeX kernels", proc.stdout)


class Analysis(TmpTestCase):
    def test_plot_run(self):
        out = self.out("r")
        self.assertEqual(run(["run", "--out", out] + sets(run__log_every=10)).returncode, 0)
        png = self.out("fig.png")
        proc = subprocess.run(["/usr/bin/python3", os.path.join(SOURCE, "analysis", "plot_run.py"),
                               out, "-o", png], capture_output=True, text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        with open(png, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"\x89PNG"))
        self.assertGreater(len(data), 10000)


class Bench(TmpTestCase):
    """`otd bench` prints one key=value line per case with the fields the
    performance claims are read from (small cases: a smoke test, not a
    measurement; nothing about speed is asserted)."""

    def test_lines(self):
        for p in (1, 2):
            proc = run(["bench", "--case", "dense:3:12:5", "--case", "implicit:3:10:6:2",
                        "--repeats", "1", "--seconds", "0.01", "--lazy", "400"], nranks=p)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            lines = [l for l in proc.stdout.splitlines() if l.startswith("engine=")]
            self.assertEqual(len(lines), 2, proc.stdout)
            fields = [dict(kv.split("=", 1) for kv in l.split()) for l in lines]
            for key in ("engine", "l", "d", "m", "P", "ms_per_step", "steps_per_s",
                        "gflops_dense", "gflops_packed", "gbps", "dgemm_gflops", "ratio"):
                self.assertIn(key, fields[0])
            self.assertEqual(fields[0]["engine"], "dense")
            self.assertEqual(fields[1]["engine"], "implicit")
            self.assertEqual(int(fields[0]["P"]), p)
            for f in fields:
                self.assertGreater(float(f["steps_per_s"]), 0)
                self.assertGreater(float(f["dgemm_gflops"]), 0)
            if p > 1:
                self.assertIn("efficiency", fields[0])
            ck = [l for l in proc.stdout.splitlines() if l.startswith("case=checkpoint")]
            self.assertEqual(len(ck), 1, proc.stdout)
            ckf = dict(kv.split("=", 1) for kv in ck[0].split())
            self.assertGreater(float(ckf["ckpt_ms"]), 0)
            self.assertIn("overhead", ckf)
            lz = [l for l in proc.stdout.splitlines() if l.startswith("case=lazy_opt")]
            self.assertEqual(len(lz), 1, proc.stdout)
            lzf = dict(kv.split("=", 1) for kv in lz[0].split())
            self.assertEqual(int(lzf["n"]), 400)
            self.assertEqual(lzf["solver"], "cholesky")
            self.assertGreater(float(lzf["pdgemm_gflops"]), 0)
            self.assertIn("ratio", lzf)
        bad = run(["bench", "--case", "dense:1:5:5"])
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--case", bad.stderr)


class ConfigErrors(TmpTestCase):
    """Each bad input: non-zero exit on every rank count, a message naming
    the key (and value or suggestion), and no output directory."""

    CASES = [
        (sets(algo__lrr=0.1), ["algo.lrr", "algo.lr"]),                 # unknown key, suggestion
        (sets(model__m="twelve"), ["model.m", "twelve"]),                # bad type
        (sets(problem__order=1), ["problem.order", "1", "[2, 12]"]),     # out of range
        (sets(algo__lr="0.1x"), ["algo.lr", "0.1x"]),                    # trailing garbage
        (sets(algo__lr=-1), ["algo.lr", "-1"]),                          # step <= 0
        (sets(algo__max_iters=-5), ["algo.max_iters", "-5"]),
        (sets(problem__target="orthogonal"), ["problem.target", "orthogonal", "orthonormal"]),
        (sets(problem__rank=11, problem__dim=10), ["problem.rank", "problem.dim"]),
        (sets(problem__dim=3), ["problem.dim", "3", "ranks"]),           # more ranks than rows
    ]

    def test_errors_every_rank_count(self):
        for p in (1, 2, 3, 4):
            for args, words in self.CASES:
                if "problem.dim=3" in args and p < 4:
                    continue  # only an error when P > d
                out = self.out("never")
                proc = run(["run", "--out", out] + args, nranks=p, timeout=60)
                self.assertEqual(proc.returncode, 2, "P=%d %s: %s" % (p, args, proc.stderr))
                for w in words:
                    self.assertIn(w, proc.stderr, "P=%d %s" % (p, args))
                self.assertFalse(os.path.exists(os.path.join(out, "results.h5")))
                if "problem.dim=3" not in args:
                    self.assertFalse(os.path.exists(out), "output written for %s" % args)

    def test_yaml_file_errors(self):
        bad = self.out("bad.yaml")
        with open(bad, "w") as f:
            f.write("problem:\n  order: 3\n  dim: [10\nmodel:\n  m: 12\n")
        proc = run(["run", bad, "--out", self.out("never")], nranks=2)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("bad.yaml", proc.stderr)
        self.assertIn("YAML", proc.stderr)
        typo = self.out("typo.yaml")
        with open(typo, "w") as f:
            f.write("problem:\n  ordr: 3\n")
        proc = run(["run", typo, "--out", self.out("never")], nranks=3)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("problem.ordr", proc.stderr)
        self.assertIn("problem.order", proc.stderr)
        proc = run(["run", self.out("missing.yaml")], nranks=2)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("missing.yaml", proc.stderr)
        self.assertFalse(os.path.exists(self.out("never")))

    def test_file_and_set(self):
        cfg = self.out("c.yaml")
        with open(cfg, "w") as f:
            f.write("problem:\n  dim: 8\nalgo:\n  max_iters: 20\n  target_rel_err: 0\n")
        out = self.out("r")
        proc = run(["run", cfg, "--set", "algo.max_iters=30", "--out", out], nranks=2)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("d = 8", proc.stdout)
        self.assertIn("after 30 steps", proc.stdout)


if __name__ == "__main__":
    unittest.main()
