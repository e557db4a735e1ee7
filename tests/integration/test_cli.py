"""The command line: help texts, `otd info`, and configuration errors that
must stop every rank with a message naming the key, before anything is
written."""
import os
import subprocess
import unittest

from otdtest import MPIEXEC, OTD, SOURCE, TmpTestCase, run, run_serial, sets


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
