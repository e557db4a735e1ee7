"""Faults of the file system under otd's writers (docs/reliability.md): a disk
that fills while `otd run` writes results.h5 or a checkpoint, or while `otd
tensor` writes its file, at P = 1 and P = 2; a checkpoint that cannot be read
for lack of permission; and inputs that define no problem (a tensor file
that is all zero or whose norm overflows, weights whose norm overflows).

Real processes on real file systems: small tmpfs mounts (fallocate works
there, as on ext4, xfs and Lustre) and small ext2 images on a loop device
(no fallocate, as on older NFS), each mounted under the test's temporary
directory and always unmounted, also when the test fails. A case whose
mount (or unprivileged user) this machine cannot provide is skipped, saying
so. Every job runs under a timeout and in a session of its own (Job), so a
hang fails the test and leaves nothing running.

What a full disk must give, whatever was being written: exit 1 within
seconds on every rank, one message naming the file and "No space left on
device", no partial file under a final name, the committed checkpoints
untouched and valid, and the run resumable from the newest one once there
is space again."""
import os
import re
import shutil
import signal
import subprocess
import unittest

import h5py
import numpy as np

from otdtest import MPIEXEC, OTD, run_command, sets
from test_faults import (BASE, LONG, LONG_EVERY, FaultCase, ckpt_dir, committed, file_bytes,
                         leftovers, reference, tearDownModule, verify_ckpt)

FULL_TIMEOUT = 30  # a job on a full disk must end within this (it takes seconds)
NO_SPACE = re.compile(r"no space left on device", re.IGNORECASE)

# Results and history: the history is flushed every 4096 rows, ~0.5 MiB at
# log_every = 1, more than the 400 KiB tmpfs holds beside checkpoint 0.
HISTORY = sets(algo__name="gd", model__init_scale=1, algo__target_rel_err=0,
               run__log_every=1, algo__max_iters=5000)
HISTORY_ITERS = 5000
# Checkpoints of (10 x 60) W and W0, ~14 KiB each (~10 KiB of it data),
# every 5000 steps; the whole run takes a second or two.
BIG_CKPT_ITERS = 30000
BIG_CKPT = BASE + sets(model__m=60, algo__max_iters=BIG_CKPT_ITERS, run__checkpoint_every=5000)
# A tensor of 40^3 doubles, 500 KiB: more than the 400 KiB tmpfs.
TENSOR = sets(problem__dim=40, engine="dense")


class DiskCase(FaultCase):
    """FaultCase with small file systems mounted under self.tmp."""

    def mount_tmpfs(self, path, size):
        os.makedirs(path, exist_ok=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            self.skipTest("needs `mount -t tmpfs` (not available here: %s)" % res.stderr.strip())
        self.mounts.append(path)

    def grow_tmpfs(self, path, size):
        res = subprocess.run(["mount", "-o", "remount,size=%s" % size, path],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)

    def mount_ext2(self, path, kib):
        """An ext2 file system of kib KiB on a loop device: no fallocate."""
        image = path.rstrip("/") + ".img"
        with open(image, "wb") as f:
            f.truncate(kib * 1024)
        try:
            mk = subprocess.run(["mke2fs", "-q", "-F", "-t", "ext2", "-b", "1024", "-m", "0",
                                 image], capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            self.skipTest("needs mke2fs (e2fsprogs) for a file system without fallocate")
        if mk.returncode != 0:
            self.skipTest("mke2fs failed: %s" % mk.stderr.strip())
        os.makedirs(path, exist_ok=True)
        res = subprocess.run(["mount", "-o", "loop", image, path], capture_output=True,
                             text=True, timeout=30)
        if res.returncode != 0:
            self.skipTest("needs a loop device for an ext2 image (not available here: %s)"
                          % res.stderr.strip())
        self.mounts.append(path)
        shutil.rmtree(os.path.join(path, "lost+found"), ignore_errors=True)

    def fill(self, path, leave):
        """Fill the file system of path until about `leave` bytes are free."""
        st = os.statvfs(path)
        size = st.f_bavail * st.f_frsize - leave
        if size > 0:
            with open(os.path.join(path, "filler"), "wb") as f:
                f.write(b"\0" * size)

    def assertDiskFull(self, res, name):
        """Exit 1, one message naming the file `name` and the reason."""
        self.assertExit(res, 1)
        self.assertIn(name, res.stderr)
        self.assertRegex(res.stderr, NO_SPACE)
        self.assertNotIn("Segmentation", res.stderr)

    def assertFinishes(self, out, args, nranks, it, max_iters):
        """Rerun args: exit 0, resumed at checkpoint it, and the results those
        of an uninterrupted run (final W bitwise, one history row per logged
        iteration, every column but wall_time bitwise)."""
        res = self.otd(args, nranks)
        self.assertExit(res, 0)
        self.assertResumedAt(res, it)
        self.assertNotIn("damaged", res.stdout + res.stderr)
        ref = reference(args[args.index("--out") + 2:], nranks)
        with h5py.File(os.path.join(out, "results.h5"), "r") as f:
            self.assertTrue(np.array_equal(f["final/W"][()], ref["final/W"]))
            hist = {k: f["history"][k][()] for k in f["history"]}
        self.assertEqual(sorted(hist), sorted(ref["history"]))
        self.assertEqual(len(hist["iter"]), len(ref["history"]["iter"]))
        for key, col in ref["history"].items():
            if key != "wall_time":
                self.assertEqual(hist[key].tobytes(), col.tobytes(), key)
        self.assertEqual(int(hist["iter"][-1]), max_iters)


class RunDiskFull(DiskCase):
    """results.h5 and its history on a disk that fills: each write reserves
    its blocks first, so the failure comes before HDF5 writes anything, on
    rank 0, and is agreed; results.h5 stays as its last flush left it."""

    def run_out_of_space(self, nranks, fs):
        mnt = self.out("disk")
        if fs == "tmpfs":
            self.mount_tmpfs(mnt, "400k")
        else:
            self.mount_ext2(mnt, 512)
        out = os.path.join(mnt, "run")
        args = ["run", "--out", out] + HISTORY
        res = self.otd(args, nranks, timeout=FULL_TIMEOUT)
        self.assertDiskFull(res, os.path.join(out, "results.h5"))
        self.assertNoProcessesLeft(out)
        # The last good checkpoint is kept, valid, and nothing is half written.
        kept = committed(out)
        self.assertTrue(kept, "no committed checkpoint left")
        for _, path in kept:
            verify_ckpt(path)
        self.assertEqual(leftovers(out, ".tmp"), [])
        self.assertEqual(leftovers(out, ".bad"), [])
        return mnt, out, args, kept[-1][0]

    def check(self, nranks):
        mnt, out, args, newest = self.run_out_of_space(nranks, "tmpfs")
        # Room again: the same command resumes and finishes exactly.
        self.grow_tmpfs(mnt, "8m")
        self.assertFinishes(out, args, nranks, newest, HISTORY_ITERS)

    def test_history_p1(self):
        self.check(1)

    def test_history_p2(self):
        self.check(2)

    def test_history_p2_without_fallocate(self):
        """Where blocks cannot be reserved, the free space is checked first:
        still a clean stop, and the copy of the run finishes elsewhere."""
        mnt, out, args, newest = self.run_out_of_space(2, "ext2")
        elsewhere = self.out("elsewhere")
        shutil.copytree(out, elsewhere, ignore=shutil.ignore_patterns(".lock"))
        self.assertFinishes(elsewhere, ["run", "--out", elsewhere] + HISTORY, 2, newest,
                            HISTORY_ITERS)


class CheckpointDiskFull(DiskCase):
    """The checkpoint directory of an interrupted run is moved onto a small
    file system without fallocate and filled so that the next checkpoint's
    data fits but not all of its metadata: the write stops before HDF5
    starts it (exit 1), the committed checkpoints are untouched, and a copy
    of the run finishes elsewhere."""

    def test_checkpoint_write_p2_without_fallocate(self):
        out = self.out("run")
        args = ["run", "--out", out] + BIG_CKPT
        job = self.start(args, 2)
        self.wait_checkpoint(job, out, 5000)
        os.kill(job.pid, signal.SIGUSR1)
        self.assertExit(job.wait(FULL_TIMEOUT), 75)
        ck, saved = ckpt_dir(out), self.out("saved")
        os.rename(ck, saved)
        self.mount_ext2(ck, 256)
        for name in os.listdir(saved):
            shutil.copy2(os.path.join(saved, name), ck)
        size = os.path.getsize(committed(out)[-1][1])
        # W and W0 fit; the file's metadata does not.
        self.fill(ck, size - 2048)
        kept = [(i, file_bytes(p)) for i, p in committed(out)]

        res = self.otd(args, 2, timeout=FULL_TIMEOUT)
        self.assertDiskFull(res, ck)
        self.assertNoProcessesLeft(out)
        self.assertEqual([(i, file_bytes(p)) for i, p in committed(out)], kept)
        self.assertEqual(leftovers(out, ".tmp"), [])
        elsewhere = self.out("elsewhere")
        os.mkdir(elsewhere)
        shutil.copy2(os.path.join(out, "results.h5"), elsewhere)
        os.mkdir(ckpt_dir(elsewhere))
        for _, path in committed(out):
            verify_ckpt(path)
            shutil.copy2(path, ckpt_dir(elsewhere))
        self.assertFinishes(elsewhere, ["run", "--out", elsewhere] + BIG_CKPT, 2, kept[-1][0],
                            BIG_CKPT_ITERS)


class TensorDiskFull(DiskCase):
    """`otd tensor` writes a temporary file next to the output and renames
    it only when complete: a full disk leaves no file under either name,
    and the same command succeeds once there is room."""

    def check(self, nranks, fs):
        mnt = self.out("disk")
        if fs == "tmpfs":
            self.mount_tmpfs(mnt, "400k")
        else:
            self.mount_ext2(mnt, 512)
        path = os.path.join(mnt, "t.h5")
        args = ["tensor", "--out", path] + TENSOR
        res = self.otd(args, nranks, timeout=FULL_TIMEOUT)
        self.assertDiskFull(res, path)
        self.assertNoProcessesLeft(path)
        self.assertEqual(sorted(os.listdir(mnt)), [], "partial files left behind")
        if fs == "tmpfs":
            self.grow_tmpfs(mnt, "2m")
        else:
            path = self.out("t.h5")
            args = ["tensor", "--out", path] + TENSOR
        self.assertExit(self.otd(args, nranks, timeout=FULL_TIMEOUT), 0)
        with h5py.File(path, "r") as f:
            self.assertEqual(f["T"].shape, (40, 40, 40))
            self.assertEqual(f["U"].shape, (40, 3))
        self.assertEqual([n for n in os.listdir(os.path.dirname(path)) if ".tmp" in n], [])

    def test_tensor_p1(self):
        self.check(1, "tmpfs")

    def test_tensor_p2(self):
        self.check(2, "tmpfs")

    def test_tensor_p2_without_fallocate(self):
        self.check(2, "ext2")


class UnreadableCheckpoint(FaultCase):
    """A checkpoint that the file system does not let otd read (no
    permission) is an error to fix, not damage: exit 1 naming the file and
    the reason, nothing renamed *.bad, nothing changed; once readable again
    the run resumes from it. The run is done as an unprivileged user (root
    reads any file)."""

    def as_nobody(self, args, nranks=2):
        cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env",
               "HOME=/tmp", MPIEXEC, "-n", str(nranks), OTD] + args
        return run_command(cmd, timeout=FULL_TIMEOUT)

    def test_permission_denied_is_not_damage(self):
        if shutil.which("setpriv") is None:
            self.skipTest("needs setpriv (util-linux) to run otd as an unprivileged user")
        try:
            subprocess.run(["id", "nobody"], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            self.skipTest("needs the user nobody")
        os.chmod(self.tmp, 0o755)
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        job = self.start(args, 2)
        self.wait_checkpoint(job, out, LONG_EVERY)
        os.kill(job.pid, signal.SIGUSR1)
        self.assertExit(job.wait(FULL_TIMEOUT), 75)
        probe = self.as_nobody(["--help"], 1)
        if probe.returncode != 0:
            self.skipTest("otd does not run as nobody here: %s" % probe.stderr.strip()[-300:])
        subprocess.run(["chown", "-R", "nobody:nogroup", out], check=True)
        newest = committed(out)[-1]
        os.chmod(newest[1], 0)
        before = {n: file_bytes(os.path.join(ckpt_dir(out), n))
                  for n in os.listdir(ckpt_dir(out))}

        res = self.as_nobody(args)
        self.assertExit(res, 1)
        self.assertIn(newest[1], res.stderr)
        self.assertRegex(res.stderr, re.compile("permission denied", re.IGNORECASE))
        self.assertNotIn("is damaged", res.stderr)
        self.assertEqual(leftovers(out, ".bad"), [])
        self.assertEqual({n: file_bytes(os.path.join(ckpt_dir(out), n))
                          for n in os.listdir(ckpt_dir(out))}, before)
        # Readable again: it is the one the run resumes from.
        os.chmod(newest[1], 0o644)
        res = self.as_nobody(args)
        self.assertExit(res, 0)
        self.assertResumedAt(res, newest[0])


class UndefinedProblem(FaultCase):
    """Inputs whose ||T||^2 is zero or not a finite double define no problem:
    refused before anything is written (exit 2), naming the key or file and
    saying why, not "nan". At P = 2 through mpiexec, at P = 1 as a singleton
    (`otd` started directly, as a user would), which starts faster."""

    def serial(self, args):
        return run_command([OTD] + args, timeout=FULL_TIMEOUT)

    def assertRefused(self, res, out, *words):
        self.assertExit(res, 2)
        for w in words:
            self.assertIn(w, res.stderr)
        self.assertNotIn("nan", res.stderr.lower())
        self.assertFalse(os.path.exists(os.path.join(out, "results.h5")))
        self.assertFalse(os.path.exists(ckpt_dir(out)))

    def tensor_file(self, name, value):
        path = self.out(name)
        with h5py.File(path, "w") as f:
            f["T"] = np.full((6, 6, 6), value)
        return path

    def test_all_zero_tensor_file(self):
        path, out = self.tensor_file("zero.h5", 0.0), self.out("run")
        res = self.otd(["run", "--out", out] + sets(engine="dense", problem__dim=6,
                                                    problem__tensor_file=path))
        self.assertRefused(res, out, "problem.tensor_file", path, "all zero")

    def test_tensor_file_norm_overflows(self):
        path, out = self.tensor_file("huge.h5", 1e200), self.out("run")
        res = self.serial(["run", "--out", out] + sets(engine="dense", problem__dim=6,
                                                       problem__tensor_file=path))
        self.assertRefused(res, out, "problem.tensor_file", path, "overflow")

    def test_weights_norm_overflows(self):
        out = self.out("run")
        res = self.serial(["run", "--out", out, "--set", "problem.rank=2",
                           "--set", "problem.weights=[1e300, 1e300]"])
        self.assertRefused(res, out, "problem.weights", "overflow")

    def test_tensor_noise_overflows(self):
        path = self.out("t.h5")
        res = self.serial(["tensor", "--out", path] + sets(problem__dim=6, problem__noise=1e300))
        self.assertExit(res, 2)
        self.assertIn("problem.noise", res.stderr)
        self.assertIn("overflow", res.stderr)
        self.assertEqual(os.listdir(self.tmp), [])


if __name__ == "__main__":
    unittest.main()
