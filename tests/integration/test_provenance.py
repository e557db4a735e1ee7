"""Provenance (docs/file-formats.md#provenance): every results.h5 says where,
when, by which command and with which libraries it ran; a resume adds a row
to /provenance/resumes; Slurm's ids come from the environment; `otd run
--print-config` prints the configuration a run would use and creates
nothing; `otd collect` carries hosts and times into the summary."""
import csv
import os
import re
import shlex
import signal
import socket
import subprocess
import time
import unittest

import h5py
import yaml

import test_faults
from otdtest import MPIEXEC, OTD, TmpTestCase, run, run_command
from test_faults import CHECKPOINTED, END_TIMEOUT, LONG, WAIT_TIMEOUT, Job, committed

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
SLURM_VARS = ("SLURM_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT")
ATTRS = {"hosts", "started_utc", "finished_utc", "command", "overrides", "mpi_library",
         "hdf5_version", "blas", "scalapack", "slurm_job_id", "slurm_array_task_id",
         "slurm_restart_count"}

CONFIG = """\
problem: {order: 3, dim: 7}
model.m: 4
algo: {name: gd, max_iters: 60, target_rel_err: 0}
run.log_every: 20
"""
# One value a shell must read quoted (a space, brackets), one it need not.
SETS = ["problem.weights=[1, 0.5]", "problem.rank=2", "run.seed=3"]


def utc_stamp():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def provenance(out):
    with h5py.File(os.path.join(out, "results.h5"), "r") as f:
        attrs = {k: f["provenance"].attrs[k] for k in f["provenance"].attrs}
        resumes = f["provenance/resumes"][()] if "resumes" in f["provenance"] else None
        if resumes is not None:  # described like every dataset otd writes
            assert f["provenance/resumes"].attrs["description"], "resumes has no description"
        root = {k: f.attrs[k] for k in f.attrs}
    return attrs, resumes, root


def mpi_flavour():
    """'Open MPI <version>' or 'MPICH', from the mpiexec the tests use."""
    v = subprocess.run([MPIEXEC, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"\(Open(?:RTE| MPI)\) (\S+)", v.stdout + v.stderr)
    return ("Open MPI", m.group(1)) if m else ("MPICH", "")


class Provenance(TmpTestCase):
    def setUp(self):
        super().setUp()
        # A test run inside a Slurm job would otherwise see its ids.
        self.saved = {k: os.environ.pop(k) for k in SLURM_VARS if k in os.environ}

    def tearDown(self):
        os.environ.update(self.saved)
        super().tearDown()

    def config(self):
        path = self.out("exp.yaml")
        with open(path, "w") as f:
            f.write(CONFIG)
        return path

    def test_run_p2(self):
        cfg, out = self.config(), self.out("r1")
        args = ["run", cfg] + sum((["--set", s] for s in SETS), []) + ["--out", out]
        before = utc_stamp()
        self.assertOk(run(args, nranks=2))
        after = utc_stamp()
        p, resumes, root = provenance(out)
        self.assertEqual(set(p), ATTRS)
        for k, v in p.items():
            self.assertIsInstance(v, str, k)  # variable-length UTF-8: str in h5py
        # one host, named once although two ranks run there
        self.assertEqual(p["hosts"], socket.gethostname())
        self.assertRegex(p["started_utc"], ISO)
        self.assertRegex(p["finished_utc"], ISO)
        self.assertTrue(before <= p["started_utc"] <= p["finished_utc"] <= after,
                        (before, p["started_utc"], p["finished_utc"], after))
        # the command line, word for word as a shell reads it back
        self.assertEqual(shlex.split(p["command"]), ["otd"] + args)
        self.assertIn("--set 'problem.weights=[1, 0.5]' --set problem.rank=2 ", p["command"])
        self.assertEqual(p["overrides"], "\n".join(SETS))
        lib, version = mpi_flavour()
        self.assertTrue(p["mpi_library"].startswith(lib), p["mpi_library"])
        self.assertIn(version, p["mpi_library"])
        self.assertNotIn("\n", p["mpi_library"])
        self.assertEqual(p["hdf5_version"], h5py.version.hdf5_version)
        self.assertEqual(p["blas"], root["blas"])
        self.assertTrue(p["blas"].startswith("OpenBLAS "), p["blas"])
        self.assertTrue(os.path.isfile(p["scalapack"]), p["scalapack"])
        self.assertIn("scalapack", os.path.basename(p["scalapack"]))
        for k in ("slurm_job_id", "slurm_array_task_id", "slurm_restart_count"):
            self.assertEqual(p[k], "", k)
        self.assertIsNone(resumes, "a run that never resumed has no resumes record")
        # otd info shows them
        info = run_command([OTD, "info", out])
        self.assertOk(info)
        section = info.stdout.split("provenance:\n", 1)[1]
        self.assertRegex(section, r"(?m)^  hosts +%s$" % re.escape(p["hosts"]))
        self.assertRegex(section, r"(?m)^  started_utc +%s$" % p["started_utc"])

    def test_slurm_environment(self):
        out = self.out("slurm")
        env = {"SLURM_JOB_ID": "123", "SLURM_ARRAY_TASK_ID": "7", "SLURM_RESTART_COUNT": "2"}
        self.assertOk(run(["run", self.config(), "--out", out], nranks=1, env=env))
        p, _, _ = provenance(out)
        self.assertEqual((p["slurm_job_id"], p["slurm_array_task_id"], p["slurm_restart_count"]),
                         ("123", "7", "2"))
        self.assertEqual(p["overrides"], "")
        self.assertEqual(shlex.split(p["command"]),
                         ["otd", "run", self.out("exp.yaml"), "--out", out])

    def test_signalled_and_resumed(self):
        out = self.out("long")
        job = Job(["run", "--out", out] + LONG, nranks=2)
        try:
            deadline = time.monotonic() + WAIT_TIMEOUT
            while not (committed(out) and committed(out)[-1][0] > 0):
                self.assertTrue(time.monotonic() < deadline and job.running(),
                                "no checkpoint beyond iteration 0")
                time.sleep(0.005)
            os.kill(job.pid, signal.SIGUSR1)
            res = job.wait(END_TIMEOUT)
        finally:
            job.kill_all()
        self.assertEqual(res.returncode, 75, res.stderr)
        at = int(CHECKPOINTED.search(res.stdout).group(1))
        p0, resumes, _ = provenance(out)
        self.assertEqual(p0["finished_utc"], "", "a checkpointed run has not finished")
        self.assertIsNone(resumes)
        # resumed on one rank, with a budget that ends it soon after
        before = utc_stamp()
        self.assertOk(run(["run", "--out", out] + LONG +
                          ["--set", "algo.max_iters=%d" % (at + 10)], nranks=1))
        p, resumes, root = provenance(out)
        self.assertEqual(len(resumes), 1)
        r = resumes[0]
        self.assertEqual(int(r["nranks"]), 1)
        self.assertEqual(int(root["nranks"]), 2)  # the creating run's count stays
        self.assertEqual(int(r["iteration"]), at)
        self.assertEqual(r["hosts"].decode(), socket.gethostname())
        self.assertRegex(r["utc"].decode(), ISO)
        self.assertTrue(before <= r["utc"].decode() <= p["finished_utc"])
        # what the creating process recorded stays
        for k in ("started_utc", "command", "overrides"):
            self.assertEqual(p[k], p0[k], k)
        # a second resume of a finished run only reports it: no new row
        self.assertOk(run(["run", "--out", out] + LONG +
                          ["--set", "algo.max_iters=%d" % (at + 10)], nranks=1))
        self.assertEqual(len(provenance(out)[1]), 1)

    def test_print_config(self):
        cfg = self.config()
        work = self.out("work")
        os.mkdir(work)
        sets = sum((["--set", s] for s in SETS), [])
        p = run_command([MPIEXEC, "-n", "2", OTD, "run", "--print-config", cfg] + sets +
                        ["--out", "never"], cwd=work)
        self.assertOk(p)
        self.assertEqual(os.listdir(work), [], "--print-config created something")
        self.assertEqual(p.stdout.count("problem:"), 1, "printed once, by one rank")
        printed = yaml.safe_load(p.stdout)
        self.assertEqual(printed["problem"]["weights"], [1, 0.5])
        self.assertEqual(printed["model"]["init_scale"], 1)  # a default filled in
        # the same configuration as the run's: stored YAML, and its hash
        ref, again = self.out("ref"), self.out("again")
        self.assertOk(run(["run", cfg] + sets + ["--out", ref]))
        with open(self.out("printed.yaml"), "w") as f:
            f.write(p.stdout)
        self.assertOk(run(["run", self.out("printed.yaml"), "--out", again]))
        _, _, a = provenance(ref)
        _, _, b = provenance(again)
        self.assertEqual(p.stdout, a["config"])
        self.assertEqual(a["config_hash"], b["config_hash"])
        # a bad key is still refused, exit 2
        bad = run_command([MPIEXEC, "-n", "1", OTD, "run", "--print-config", "--set",
                           "model.m=-1"], cwd=work)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        self.assertEqual(os.listdir(work), [])

    def test_collect(self):
        sw = self.out("sw.yaml")
        with open(sw, "w") as f:
            f.write("name: prov\nset: {problem.dim: 6, model.m: 4, algo.name: gd, "
                    "algo.max_iters: 40, algo.target_rel_err: 0}\ngrid:\n  run.seed: [1, 2]\n")
        d = self.out("sweep")
        self.assertOk(run_command([OTD, "sweep", sw, "--out", d, "--local", "1"]))
        self.assertOk(run_command([OTD, "collect", d]))
        with open(os.path.join(d, "summary.csv")) as f:
            table = list(csv.DictReader(f))
        self.assertEqual(len(table), 2)
        with h5py.File(os.path.join(d, "summary.h5"), "r") as h:
            cols = {k: [v.decode() if isinstance(v, bytes) else v for v in h[k][()]]
                    for k in ("hosts", "started_utc", "finished_utc")}
        for i, row in enumerate(table):
            p, _, _ = provenance(os.path.join(d, row["rundir"]))
            for k in ("hosts", "started_utc", "finished_utc"):
                self.assertEqual(row[k], p[k], k)
                self.assertEqual(cols[k][i], p[k], k)
            self.assertEqual(row["hosts"], socket.gethostname())
            self.assertRegex(row["finished_utc"], ISO)
            # run by the in-allocation runner: its command, and the point's file
            self.assertTrue(p["command"].startswith("otd sweep-run %s # point " % d),
                            p["command"])
            self.assertTrue(p["command"].endswith(
                "/configs/%s.yaml" % row["name"]), p["command"])
            self.assertEqual(p["overrides"], "")


def tearDownModule():
    test_faults.tearDownModule()


if __name__ == "__main__":
    unittest.main()
