"""Shared helpers for the integration tests: run the real `otd` under the
real mpiexec and read what it wrote with h5py.

CTest passes OTD_BIN, OTD_MPIEXEC and OTD_SOURCE_DIR in the environment
(tests/CMakeLists.txt); the Open MPI root/oversubscribe variables come from
there too."""
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

OTD = os.environ.get("OTD_BIN", "otd")
MPIEXEC = os.environ.get("OTD_MPIEXEC", "mpiexec")
SOURCE = os.environ.get("OTD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
# Every otd process is bounded: a hang fails the test instead of stalling CI.
TIMEOUT = 240


def session_pids(sid):
    """Live pids whose session id is sid (mpiexec and every rank: Open MPI
    puts ranks in process groups of their own, but not in other sessions)."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) == sid:
                    pids.append(int(p))
        except (OSError, IndexError, ValueError):
            pass
    return pids


def run_command(cmd, timeout=TIMEOUT, env=None, cwd=None):
    """Run cmd (a list) in a session of its own; return a CompletedProcess
    (text). On a timeout every process of the session (mpiexec, ranks, and
    what `otd sweep --local` started) is killed before TimeoutExpired
    propagates: a hang fails the test and leaves nothing behind."""
    e = dict(os.environ)
    e.update(env or {})
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=e, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_session(proc.pid)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def kill_session(sid):
    """SIGKILL every live process of session sid."""
    for pid in session_pids(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def run(args, nranks=1, timeout=TIMEOUT, env=None):
    """Run `mpiexec -n nranks otd ARGS` (see run_command)."""
    return run_command([MPIEXEC, "-n", str(nranks), OTD] + list(args), timeout, env)


def run_serial(args, timeout=60):
    """Run `otd ARGS` directly (no mpiexec), as a user would for info/help."""
    return subprocess.run([OTD] + list(args), capture_output=True, text=True, timeout=timeout)


def sets(**kv):
    """--set arguments from keyword arguments: sets(problem__dim=10)."""
    out = []
    for k, v in kv.items():
        out += ["--set", "%s=%s" % (k.replace("__", "."), v)]
    return out


def read(path):
    """The parts of a results.h5 the tests compare, as numpy arrays / dicts."""
    with h5py.File(path, "r") as f:
        out = {
            "attrs": {k: f.attrs[k] for k in f.attrs},
            "summary": {k: f["summary"].attrs[k] for k in f["summary"].attrs},
            "history": {k: f["history"][k][()] for k in f["history"]},
        }
        for name in ("target/U", "target/a", "init/W", "final/W"):
            out[name] = f[name][()]
    return out


class TmpTestCase(unittest.TestCase):
    """A test case with a fresh temporary directory self.tmp."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="otd-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def out(self, name):
        return os.path.join(self.tmp, name)

    def assertOk(self, proc):
        self.assertEqual(proc.returncode, 0,
                         "otd failed (%d)\nstdout:\n%s\nstderr:\n%s"
                         % (proc.returncode, proc.stdout, proc.stderr))
