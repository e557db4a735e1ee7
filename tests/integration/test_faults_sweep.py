"""Faults and hostile input for `otd sweep` and `otd collect` (issue 11, the
sweep classes), with real processes; the Slurm side of the same classes is
in test_slurm.py (one private cluster per test file).

  - text that crashed the point-name builder (a grid value starting with a
    space or a comma) expands, with --dry-run and for real;
  - every command otd prints (the rerun command of `otd collect` with the
    job options of the last submission, the `submit:` lines) is
    shell-quoted: run through `bash -c` from directories named
    `x $(touch y)`, with quotes, `%`, backticks and non-ASCII, it does
    exactly what it says and nothing else (no file y); the batch scripts'
    quoting is checked on the real cluster (test_slurm.py) and by the fuzz
    test;
  - run, sweep --local, collect and the rerun command from a working
    directory with spaces and non-ASCII characters, by relative paths;
  - an extra #SBATCH option is checked by one rule from the command line and
    from the sweep file (exit 2 naming the option, nothing written), which
    also refuses the options otd sets per job (--time, --nodes, --ntasks,
    --array);
  - a different sweep (another name, base configuration or set) into an
    existing sweep directory is refused, exit 2, naming the directory and
    what differs, nothing rewritten; the same sweep, edited points, and
    --replace are accepted;
  - a sweep with 200,000 listed points, or a grid of a million, is refused
    at once naming the limit and the count (the timeout only guards against
    a hang: the quadratic duplicate check took far longer).

The fuzz test of the parser and name builder under the sanitizers is
tests/fuzz/fuzz_sweep.c (ctest fuzz_sweep)."""
import os
import re
import shlex
import subprocess
import unittest

from otdtest import MPIEXEC, OTD, TmpTestCase, run_command

BASE = """\
problem: {order: 3, rank: 2, dim: 6}
model: {m: 4, init_scale: 1}
algo: {name: gd, max_iters: 30, target_rel_err: 0}
run.log_every: 10
"""

# Names that a shell or Slurm would act on if printed or written bare.
ODD_NAMES = [
    "x $(touch y)",
    "a'b\"c %j %% %A ünï",
    "b`touch y`; c & d|e #f",
]


def otd(args, cwd=None, timeout=120, env=None):
    """`otd ARGS` as a plain process (sweep and collect are not MPI jobs)."""
    return run_command([OTD] + list(args), timeout=timeout, cwd=cwd, env=env)


def bash_words(words, cwd):
    """The words bash makes of a command line (printed one per NUL), in cwd:
    whatever a badly quoted line would make lands there, not in the
    checkout."""
    p = subprocess.run(["bash", "-c", "printf '%s\\0' " + words], capture_output=True,
                       timeout=30, cwd=cwd)
    if p.returncode != 0:
        raise AssertionError("bash could not read %r: %s" % (words, p.stderr))
    return [w.decode() for w in p.stdout.split(b"\0")[:-1]]


def tree(d):
    """Every path under d (relative), with file contents."""
    out = {}
    for root, dirs, files in os.walk(d):
        for n in dirs:
            out[os.path.relpath(os.path.join(root, n), d)] = None
        for n in files:
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, d)] = f.read()
    return out


class SweepFaults(TmpTestCase):

    def write(self, path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertRc(self, proc, rc):
        self.assertEqual(proc.returncode, rc, "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                         % (proc.returncode, rc, proc.stdout, proc.stderr))

    def sweep_file(self, where, text="base: base.yaml\ngrid:\n  run.seed: [0]\n"):
        self.write(os.path.join(where, "base.yaml"), BASE)
        return self.write(os.path.join(where, "sweep.yaml"), text)

    def no_stray_files(self):
        """Nothing a shell or Slurm would have made of the odd names."""
        for root, dirs, files in os.walk(self.tmp):
            for n in dirs + files:
                self.assertNotIn(n, ("y", "c", "d", "e"), "stray %s in %s" % (n, root))

    # ------------------------------------------------ 7. crashes on text

    def test_grid_values_starting_with_space_or_comma(self):
        # These segfaulted in the point-name builder (even with --dry-run).
        for i, values in enumerate(['[" plain"]', '[",1"]', '[" ", ",", " ,x"]',
                                    '[" 1", ",,2", "\\" ,\\""]']):
            with self.subTest(values=values):
                sw = self.sweep_file(self.out("c%d" % i),
                                     "base: base.yaml\ngrid:\n  algo.name: %s\n"
                                     "  model.m: [4]\n" % values)
                d = self.out("c%d/sw" % i)
                p = otd(["sweep", sw, "--out", d, "--dry-run"])
                self.assertRc(p, 0)
                self.assertFalse(os.path.exists(d))
                p = otd(["sweep", sw, "--out", d])
                self.assertRc(p, 0)
                with open(os.path.join(d, "manifest.tsv")) as f:
                    rows = [line.split("\t") for line in f.read().splitlines()[1:]]
                self.assertTrue(rows)
                for r in rows:
                    # Invalid algorithm names: kept, named, with the error.
                    self.assertRegex(r[1], r"^[A-Za-z0-9._+-]*-?m4-[0-9a-f]{10}$")
                    self.assertEqual(r[2], "invalid")
                    self.assertIn("point %s %s is invalid: algo.name = " % (r[0], r[1]),
                                  p.stderr)

    # ------------------------------------- 6. printed commands run nothing else

    def test_printed_commands_are_quoted(self):
        for i, name in enumerate(ODD_NAMES):
            with self.subTest(name=name):
                where = os.path.join(self.out("q%d" % i), name)
                sw = self.sweep_file(where)
                d = os.path.join(where, "sw " + name)
                p = otd(["sweep", sw, "--out", d])
                self.assertRc(p, 0)
                submit = [l for l in p.stdout.splitlines() if l.startswith("submit: ")]
                self.assertEqual(len(submit), 1, p.stdout)
                self.assertEqual(bash_words(submit[0][len("submit: "):], self.tmp),
                                 [os.path.realpath(OTD), "sweep", os.path.realpath(sw), "--out",
                                  d, "--submit"])
                # What --submit would run: one sbatch per job script.
                p = otd(["sweep", sw, "--out", d, "--submit", "--dry-run"])
                self.assertRc(p, 0)
                submit = [l for l in p.stdout.splitlines() if l.startswith("submit: ")]
                self.assertEqual([bash_words(l[len("submit: "):], self.tmp) for l in submit],
                                 [["sbatch", os.path.join(d, "jobs", "job-1-0.sbatch")]])

                # The point never ran: collect prints the rerun command; run
                # through bash from the parent directory, it runs the point
                # of this sweep and creates nothing else.
                p = otd(["collect", d])
                self.assertRc(p, 1)
                rerun = p.stdout.splitlines()[-1].strip()
                self.assertEqual(bash_words(rerun, self.tmp)[1:6],
                                 ["sweep", os.path.realpath(sw), "--out", d, "--unfinished"])
                r = run_command(["bash", "-c", rerun], cwd=self.out("q%d" % i), timeout=300)
                self.assertRc(r, 0)
                self.assertIn("1 of 1 points done", r.stdout)
                self.assertRc(otd(["collect", d]), 0)
                self.assertEqual(sorted(os.listdir(self.out("q%d" % i))), [name])
                self.no_stray_files()

    def test_unfinished_submit_line_is_quoted(self):
        # The --array word of a partial rerun, and a sweep submitted once
        # (submissions.txt): the rerun command ends in --submit.
        where = os.path.join(self.out("u"), ODD_NAMES[1])
        sw = self.sweep_file(where, "base: base.yaml\ngrid:\n  run.seed: [0, 1, 2]\n")
        d = os.path.join(where, "sw %j")
        self.assertRc(otd(["sweep", sw, "--out", d]), 0)
        with open(os.path.join(d, "manifest.tsv")) as f:
            names = [line.split("\t")[1] for line in f.read().splitlines()[1:]]
        r = run_command([MPIEXEC, "-n", "1", OTD, "run", "configs/%s.yaml" % names[1], "--out",
                         "runs/%s" % names[1]], cwd=d)
        self.assertRc(r, 0)
        p = otd(["sweep", sw, "--out", d, "--unfinished", "--submit", "--dry-run"])
        self.assertRc(p, 0)
        self.assertIn("slurm: 2 points in 1 job", p.stdout)
        line = [l for l in p.stdout.splitlines() if l.startswith("submit: ")][0]
        self.assertEqual(bash_words(line[len("submit: "):], self.tmp),
                         ["sbatch", os.path.join(d, "jobs", "job-1-0.sbatch")])
        # A sweep submitted once, with job options: the rerun command ends
        # in --submit and those options, each one word.
        with open(os.path.join(d, "submissions.txt"), "w") as f:
            f.write("1 1 jobs/job-1-0.sbatch 3\n")
        opts = ["--ntasks", "2", "--time", "00:05:00", "--sbatch", "--comment=x 'y' $(z) %j"]
        with open(os.path.join(d, "submit.args"), "w") as f:
            f.write("".join(o + "\n" for o in opts))
        p = otd(["collect", d])
        self.assertRc(p, 1)
        words = bash_words(p.stdout.splitlines()[-1].strip(), self.tmp)
        self.assertEqual(words[1:], ["sweep", os.path.realpath(sw), "--out", d, "--unfinished",
                                     "--submit"] + opts)
        self.no_stray_files()

    # ----------------------------- 16. paths with spaces and non-ASCII

    def test_relative_paths_with_spaces_and_non_ascii(self):
        cwd = self.out("x/dir with space/ünï")
        self.sweep_file(cwd, "base: base.yaml\ngrid:\n  run.seed: [0, 1]\n")
        r = run_command([MPIEXEC, "-n", "1", OTD, "run", "base.yaml", "--out", "run ü dir"],
                        cwd=cwd)
        self.assertRc(r, 0)
        self.assertTrue(os.path.isfile(os.path.join(cwd, "run ü dir", "results.h5")))
        p = otd(["sweep", "sweep.yaml", "--out", "sw é $x", "--local", "1"], cwd=cwd)
        self.assertRc(p, 0)
        self.assertIn("2 of 2 points done", p.stdout)
        d = os.path.join(cwd, "sw é $x")
        self.assertRc(otd(["collect", "sw é $x"], cwd=cwd), 0)
        with open(os.path.join(d, "summary.csv")) as f:
            self.assertEqual(len(f.read().splitlines()), 3)
        # A point removed: the rerun command (absolute, quoted) redoes it
        # from anywhere.
        with open(os.path.join(d, "manifest.tsv")) as f:
            name = f.read().splitlines()[1].split("\t")[1]
        os.rename(os.path.join(d, "runs", name), os.path.join(cwd, "moved"))
        os.remove(os.path.join(d, "tasks", name + ".exit"))
        p = otd(["collect", "sw é $x"], cwd=cwd)
        self.assertRc(p, 1)
        r = run_command(["bash", "-c", p.stdout.splitlines()[-1].strip()], cwd=self.tmp)
        self.assertRc(r, 0)
        self.assertIn("2 of 2 points done", r.stdout)

    # ------------------------------------ 13. one rule for sbatch options

    def test_sbatch_options_one_rule(self):
        where = self.out("s")
        self.sweep_file(where)
        bad = [("-p short", "one word"), ("--mem 4G", "one word"),
               ("time=10", "starts with '-'"), ("", "starts with '-'"),
               ("--comment=a\\b", "backslash"), ("--comment=a\tb", "control character"),
               ("--time=00:10:00", "otd sets each job's --time"),
               ("-t10", "otd sets each job's --time"), ("-N2", "otd sets each job's --nodes"),
               ("--ntasks=4", "otd sets each job's --ntasks"),
               ("--array=0-3", "not array tasks")]
        for opt, why in bad:
            with self.subTest(opt=opt):
                d = os.path.join(where, "cli")
                p = otd(["sweep", os.path.join(where, "sweep.yaml"), "--out", d, "--sbatch", opt])
                self.assertRc(p, 2)
                self.assertIn("--sbatch '%s'" % opt.replace("\t", "\\x09"), p.stderr)
                self.assertIn(why, p.stderr)
                self.assertFalse(os.path.exists(d))
                # The same option in the file: as a list entry and alone.
                for form in ("[%s]", "%s"):
                    sw = self.write(os.path.join(where, "f.yaml"),
                                    "base: base.yaml\ngrid:\n  run.seed: [0]\nsbatch: %s\n"
                                    % (form % ('"%s"' % opt.replace("\\", "\\\\")
                                               .replace("\t", "\\t"))))
                    d = os.path.join(where, "file")
                    p = otd(["sweep", sw, "--out", d])
                    self.assertRc(p, 2)
                    self.assertRegex(p.stderr, r"f\.yaml:4:\d+: sbatch option '%s'"
                                     % re.escape(opt.replace("\t", "\\x09")))
                    self.assertIn(why, p.stderr)
                    self.assertFalse(os.path.exists(d))
        # A newline (from the file's escapes) would start a script line.
        sw = self.write(os.path.join(where, "f.yaml"),
                        'base: base.yaml\nsbatch: "--x=1\\nrm -rf y"\n')
        p = otd(["sweep", sw, "--out", os.path.join(where, "nl")])
        self.assertRc(p, 2)
        self.assertIn("sbatch option '--x=1\\x0arm -rf y': a control character", p.stderr)
        # Good ones, spaces in the value included, are accepted (test_slurm.py
        # checks that Slurm reads such an option as one).
        sw = self.write(os.path.join(where, "g.yaml"),
                        'base: base.yaml\ngrid:\n  run.seed: [0]\nsbatch: ["--comment=a b #c"]\n')
        d = os.path.join(where, "good")
        self.assertRc(otd(["sweep", sw, "--out", d, "--sbatch", "--comment=x 'y' $(z)",
                           "--sbatch=-pshort", "--sbatch=--ntasks-per-node=2"]), 0)

    # ------------------------- 14. a different sweep into a sweep directory

    def test_different_sweep_refused(self):
        where = self.out("d")
        sw = self.sweep_file(where, "name: one\nbase: base.yaml\nset: {run.seed: 1}\n"
                             "grid:\n  model.m: [4, 5]\n")
        d = os.path.join(where, "sw")
        self.assertRc(otd(["sweep", sw, "--out", d]), 0)
        before = tree(d)
        self.write(os.path.join(where, "base2.yaml"), BASE.replace("dim: 6", "dim: 7"))
        cases = [
            ("name: two\nbase: base.yaml\nset: {run.seed: 1}\ngrid:\n  model.m: [4, 5]\n",
             "name 'one' there, 'two' here"),
            ("name: one\nbase: base2.yaml\nset: {run.seed: 1}\ngrid:\n  model.m: [4, 5]\n",
             "problem.dim '6' there, '7' here"),
            ("name: one\nbase: base.yaml\nset: {run.seed: 2}\ngrid:\n  model.m: [4, 5]\n",
             "run.seed '1' there, '2' here"),
            ("name: one\nbase: base.yaml\nset: {run.seed: 1, algo.lr: 0.5}\n"
             "grid:\n  model.m: [4, 5]\n", "algo.lr unset there, '0.5' here"),
        ]
        for text, what in cases:
            with self.subTest(what=what):
                other = self.write(os.path.join(where, "other.yaml"), text)
                for extra in ([], ["--dry-run"], ["--local", "1"], ["--unfinished"]):
                    p = otd(["sweep", other, "--out", d] + extra)
                    self.assertRc(p, 2)
                    self.assertIn("sweep directory '%s' holds another sweep" % d, p.stderr)
                    self.assertIn(what, p.stderr)
                    self.assertIn("--replace", p.stderr)
                    self.assertEqual(tree(d), before, "the sweep directory was changed")
        # The same sweep with more points (and a fixed value) is its own.
        self.write(sw, "name: one\nbase: base.yaml\nset: {run.seed: 1}\n"
                   "grid:\n  model.m: [4, 5, 6]\n")
        self.assertRc(otd(["sweep", sw, "--out", d]), 0)
        with open(os.path.join(d, "manifest.tsv")) as f:
            self.assertEqual(len(f.read().splitlines()), 4)
        # --replace: the other sweep takes the directory, runs/ kept.
        os.makedirs(os.path.join(d, "runs", "keep"))
        other = self.write(os.path.join(where, "other.yaml"), cases[0][0])
        self.assertRc(otd(["sweep", other, "--out", d, "--replace"]), 0)
        with open(os.path.join(d, "sweep.yaml")) as f:
            self.assertEqual(f.read(), cases[0][0])
        self.assertTrue(os.path.isdir(os.path.join(d, "runs", "keep")))
        self.assertRc(otd(["sweep", other, "--out", d]), 0)
        # A sweep directory of an older otd (no sweep.id): its own sweep
        # file is accepted, another is refused.
        os.remove(os.path.join(d, "sweep.id"))
        p = otd(["sweep", sw, "--out", d])
        self.assertRc(p, 2)
        self.assertIn("its sweep.yaml differs", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "sweep.id")))
        self.assertRc(otd(["sweep", other, "--out", d]), 0)
        self.assertTrue(os.path.exists(os.path.join(d, "sweep.id")))

    # ------------------------------------------- 15. huge inputs fail fast

    def test_huge_sweeps_refused_at_once(self):
        where = self.out("h")
        self.sweep_file(where)
        with open(os.path.join(where, "big.yaml"), "w") as f:
            f.write("base: base.yaml\npoints:\n")
            for i in range(200000):
                f.write("  - {model.m: %d}\n" % (i + 1))
        d = os.path.join(where, "sw")
        # 30 s: a hang guard only; the quadratic check needed far more.
        p = otd(["sweep", os.path.join(where, "big.yaml"), "--out", d, "--dry-run"], timeout=30)
        self.assertRc(p, 2)
        self.assertIn("points lists 200000 entries: more than 100000 points per sweep", p.stderr)
        p = otd(["sweep", os.path.join(where, "big.yaml"), "--out", d], timeout=30)
        self.assertRc(p, 2)
        self.assertFalse(os.path.exists(d))
        grid = self.write(os.path.join(where, "grid.yaml"),
                          "base: base.yaml\ngrid:\n  model.m: [%s]\n  run.seed: [%s]\n"
                          % (", ".join(str(i + 1) for i in range(1000)),
                             ", ".join(str(i) for i in range(1000))))
        p = otd(["sweep", grid, "--out", d], timeout=30)
        self.assertRc(p, 2)
        self.assertIn("the grid has 1000 x 1000 = 1000000 points: more than 100000 per sweep",
                      p.stderr)
        # Grid and points together over the limit.
        both = self.write(os.path.join(where, "both.yaml"),
                          "base: base.yaml\ngrid:\n  run.seed: [%s]\npoints:\n%s"
                          % (", ".join(str(i) for i in range(60000)),
                             "".join("  - {model.m: %d}\n" % (i + 1) for i in range(50000))))
        p = otd(["sweep", both, "--out", d], timeout=30)
        self.assertRc(p, 2)
        self.assertIn("110000 points (60000 of the grid, 50000 listed): more than 100000",
                      p.stderr)
        self.assertFalse(os.path.exists(d))


if __name__ == "__main__":
    unittest.main()
