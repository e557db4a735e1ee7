"""How every command reports a fault: one line "otd CMD: message" on stderr,
the exit status of the one policy (2 bad usage, configuration or input
file; 1 runtime failure; see `otd --help`), the source trail ("  at
file:line" lines) only with OTD_DEBUG=1, and warnings as "otd CMD:
warning: ..." lines through the library's warning sink."""
import os
import re
import unittest

from otdtest import OTD, TmpTestCase, run, run_command

USAGE, FAILURE = 2, 1

TRAIL = re.compile(r"^  (at|from) \S+:\d+$", re.M)

BASE = "problem:\n  order: 3\n  rank: 2\nalgo:\n  max_iters: 5\n"


class Errors(TmpTestCase):

    def setUp(self):
        super().setUp()
        self.write("base.yaml", BASE)
        self.write("badval.yaml", "problem:\n  order: 1\n")
        self.write("sweep.yaml", "base: base.yaml\ngrid:\n  model.m: [4, 5]\n")
        self.write("badsweep.yaml", "base: base.yaml\nranks: 0\n")
        self.write("plain.txt", "not HDF5\n")
        os.mkdir(self.out("emptydir"))

    def write(self, name, text):
        with open(self.out(name), "w") as f:
            f.write(text)
        return self.out(name)

    def cases(self):
        """(command, arguments, ranks (0: a plain process), exit status, words
        the message names). {d} is the temporary directory."""
        return [
            (None, ["frobnicate"], 0, USAGE, ["unknown command", "frobnicate"]),
            (None, ["help", "frobnicate"], 0, USAGE, ["unknown command", "frobnicate"]),
            (None, ["help", "run", "sweep"], 0, USAGE, ["one command"]),
            # run and tensor: usage, configuration file, configuration value
            ("run", ["--bogus"], 2, USAGE, ["--bogus"]),
            ("run", ["{d}/missing.yaml"], 2, USAGE, ["missing.yaml"]),
            ("run", ["{d}/badval.yaml", "--out", "{d}/r"], 2, USAGE, ["problem.order", "1"]),
            ("run", ["--set", "algo.lrr=1", "--out", "{d}/r"], 1, USAGE, ["algo.lrr", "algo.lr"]),
            ("tensor", ["--bogus"], 1, USAGE, ["--bogus"]),
            ("tensor", ["{d}/missing.yaml", "--out", "{d}/t.h5"], 2, USAGE, ["missing.yaml"]),
            ("tensor", ["{d}/badval.yaml", "--out", "{d}/t.h5"], 1, USAGE, ["problem.order"]),
            ("tensor", ["{d}/base.yaml"], 1, USAGE, ["--out"]),
            ("tensor", ["{d}/base.yaml", "--out", "{d}/plain.txt"], 1, FAILURE,
             ["plain.txt", "already exists"]),
            ("bench", ["--bogus"], 1, USAGE, ["--bogus"]),
            ("bench", ["--case", "dense:1:5:5"], 1, USAGE, ["--case"]),
            # info: usage, missing or unreadable input
            ("info", ["--bogus"], 0, USAGE, ["--bogus"]),
            ("info", [], 0, USAGE, ["no file"]),
            ("info", ["{d}/a.h5", "{d}/b.h5"], 0, USAGE, ["one file"]),
            ("info", ["{d}/missing.h5"], 0, USAGE, ["missing.h5"]),
            ("info", ["{d}/plain.txt"], 0, USAGE, ["plain.txt", "not an HDF5 file"]),
            ("info", ["{d}/emptydir"], 0, USAGE, ["emptydir", "without results.h5"]),
            # --json: the same errors, and nothing on stdout (checked below)
            ("info", ["--json", "{d}/plain.txt"], 0, USAGE, ["plain.txt", "not an HDF5 file"]),
            ("collect", ["--json", "{d}/emptydir"], 0, USAGE, ["emptydir", "not a sweep"]),
            # collect: usage, missing directory, not a sweep directory
            ("collect", ["--bogus"], 0, USAGE, ["--bogus"]),
            ("collect", [], 0, USAGE, ["no sweep directory"]),
            ("collect", ["{d}/missing"], 0, USAGE, ["missing"]),
            ("collect", ["{d}/emptydir"], 0, USAGE, ["emptydir", "not a sweep directory"]),
            # sweep: usage, missing sweep file, bad value, bad configuration key
            ("sweep", ["--bogus"], 0, USAGE, ["--bogus"]),
            ("sweep", ["{d}/sweep.yaml"], 0, USAGE, ["--out"]),
            ("sweep", ["{d}/missing.yaml", "--out", "{d}/s"], 0, USAGE, ["missing.yaml"]),
            ("sweep", ["{d}/badsweep.yaml", "--out", "{d}/s"], 0, USAGE, ["ranks", "'0'"]),
            ("sweep", ["{d}/badval.yaml", "--out", "{d}/s"], 0, USAGE, ["unknown sweep key"]),
            ("sweep", ["{d}/sweep.yaml", "--out", "{d}/plain.txt/s"], 0, FAILURE,
             ["plain.txt", "not a directory"]),
        ]

    def otd(self, cmd, args, ranks, env=None):
        args = [a.format(d=self.tmp) for a in ([cmd] if cmd else []) + args]
        if ranks:
            return run(args, nranks=ranks, timeout=120, env=env)
        return run_command([OTD] + args, timeout=120, env=env)

    def error_lines(self, cmd, stderr):
        """The lines that report an error (not warnings) for cmd."""
        prefix = "otd %s: " % cmd if cmd else "otd: "
        return [l for l in stderr.splitlines()
                if l.startswith(prefix) and not l.startswith(prefix + "warning: ")]

    def test_one_line_and_the_policy(self):
        env = {"OTD_DEBUG": ""}
        for cmd, args, ranks, status, words in self.cases():
            with self.subTest(cmd=cmd, args=args, ranks=ranks):
                p = self.otd(cmd, args, ranks, env)
                what = "exit %d\nstdout:\n%s\nstderr:\n%s" % (p.returncode, p.stdout, p.stderr)
                self.assertEqual(p.returncode, status, what)
                lines = self.error_lines(cmd, p.stderr)
                self.assertEqual(len(lines), 1, what)
                for w in words:
                    self.assertIn(w, lines[0], what)
                self.assertIsNone(TRAIL.search(p.stderr), what)
                if "--json" in args:  # no half document for a script to misread
                    self.assertEqual(p.stdout, "", what)
        self.assertFalse(os.path.exists(self.out("r")), "a run directory was written")
        self.assertFalse(os.path.exists(self.out("s")), "a sweep directory was written")

    def test_trail_with_otd_debug(self):
        """OTD_DEBUG=1: the same line, then where it was raised and passed."""
        seen = set()
        for cmd, args, ranks, status, words in self.cases():
            if cmd in seen:
                continue  # one fault per command is enough here
            seen.add(cmd)
            with self.subTest(cmd=cmd, args=args):
                p = self.otd(cmd, args, ranks, {"OTD_DEBUG": "1"})
                what = "exit %d\nstderr:\n%s" % (p.returncode, p.stderr)
                self.assertEqual(p.returncode, status, what)
                lines = p.stderr.splitlines()
                first = self.error_lines(cmd, p.stderr)
                self.assertEqual(len(first), 1, what)
                at = lines.index(first[0]) + 1
                self.assertRegex(lines[at], r"^  at \S+\.c:\d+$", what)

    def test_warnings_through_the_sink(self):
        # An invalid point: expanded and kept, with a warning naming it.
        sw = self.write("inv.yaml", "base: base.yaml\ngrid:\n  model.m: [4, -1]\n")
        p = self.otd("sweep", [sw, "--out", "{d}/inv", "--dry-run"], 0)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, r"(?m)^otd sweep: warning: point 1 \S+ is invalid: "
                         r"model\.m = -1: out of range")
        self.assertEqual(self.error_lines("sweep", p.stderr), [])
        # More points than a Slurm array may hold by default: packed into
        # jobs, nothing to warn about.
        seeds = ", ".join(str(i) for i in range(1002))
        big = self.write("big.yaml", "base: base.yaml\ngrid:\n  run.seed: [%s]\n" % seeds)
        p = self.otd("sweep", [big, "--out", "{d}/big", "--dry-run"], 0)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([l for l in p.stderr.splitlines() if l.startswith("otd sweep: ")], [],
                         p.stderr)
        self.assertRegex(p.stdout, r"(?m)^slurm: 1002 points in \d jobs? ")
        self.assertFalse(os.path.exists(self.out("big")))

    def test_help_documents_policy_and_debug(self):
        p = run_command([OTD, "--help"])
        self.assertEqual(p.returncode, 0)
        for w in ("exit status", "1 runtime failure", "2 bad usage", "3 loss", "75",
                  "OTD_DEBUG=1"):
            self.assertIn(w, p.stdout)
        # every status the commands can end with, one line each
        for status in (0, 1, 2, 3, 75, 130):
            self.assertRegex(p.stdout, r"(?m)^ +%d [a-z]" % status)


if __name__ == "__main__":
    unittest.main()
