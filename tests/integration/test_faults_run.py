"""Fault injection for `otd run`, round 2 (issue 11, docs/reliability.md):
real processes under real mpiexec, real files damaged byte by byte, real
symbolic links, real signals; every job under a timeout.

  FinishedRunOtherConfiguration  a finished run is checked like a checkpoint
  DamagedResults                 results.h5 verified and repaired on resume;
                                 damaged metadata reported, never a crash
  Symlinks                       no link in a run directory is followed
  Memory                         sizes a node cannot hold refused up front
  Sigint                         Ctrl-C checkpoints and exits 130
  StoppingKeys                   what governed a resumed run is recorded
  NothingWritten                 setup errors leave the directory as it was
  ExitStatuses                   one policy for the remaining cases

The problems are test_faults.py's (d = 10, m = 12, gd, implicit engine),
and so are the job and checkpoint helpers; one interrupted run is made once
and copied into the tests that need one."""
import os
import re
import shutil
import signal
import tempfile
import time
import unittest

import h5py
import numpy as np

import test_faults
from otdtest import OTD, read, run_command, sets
from test_faults import (CHECKPOINTED, END_TIMEOUT, LONG, LONG_EVERY, LONG_ITERS, SHORT,
                         WAIT_TIMEOUT, FaultCase, committed, file_bytes, verify_ckpt)

INTERRUPTED = 130
DAMAGED = re.compile(r"is damaged \(HDF5 could not read it")


# ---------------------------------------------------------------- helpers

def snapshot(top):
    """{relative path: bytes, 'dir', or ('link', target)} of everything
    under top (links not followed): "nothing touched" compares two. A
    .lock counts by its presence: whoever tries the directory writes its
    pid into it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = "dir"
            elif name == ".lock":
                out[rel] = "lock"
            else:
                out[rel] = file_bytes(p)
    return out


def flip_byte(path, dataset):
    """Flip a mantissa byte in the middle of dataset's contiguous data."""
    with h5py.File(path, "r") as f:
        offset, nbytes = f[dataset].id.get_offset(), f[dataset].id.get_storage_size()
        before = f[dataset][()]
    assert offset is not None, "%s has no contiguous storage" % dataset
    at = offset + nbytes // 2 + 3
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))
    with h5py.File(path, "r") as f:
        assert not np.array_equal(f[dataset][()], before), "the flip missed %s" % dataset


def junk_heap(path, seed=1, nbytes=64):
    """Overwrite nbytes around the file's first fractal heap (the link
    storage of /history, a group with more than 8 links) with junk: what
    made HDF5 itself segfault in `otd info`."""
    data = bytearray(file_bytes(path))
    at = data.find(b"FRHP")
    assert at > 0, "no fractal heap in %s" % path
    rnd = np.random.default_rng(seed)
    data[at:at + nbytes] = rnd.integers(0, 256, nbytes, dtype=np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(data)


def caught(pid):
    """The signal numbers pid has handlers for (SigCgt of /proc/pid/status)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    mask = int(line.split()[1], 16)
                    return {s for s in range(1, 64) if mask & (1 << (s - 1))}
    except OSError:
        pass
    return set()


_TEMPLATE = None


def interrupted_template():
    """A LONG run at P = 2 stopped by SIGUSR1 after its first checkpoint
    beyond iteration 0 (made once): (its directory, its iteration)."""
    global _TEMPLATE
    if _TEMPLATE is None:
        top = tempfile.mkdtemp(prefix="otd-faults-run-template-")
        out = os.path.join(top, "run")
        res = test_faults.interrupt_long_run(out)
        _TEMPLATE = (top, out, int(CHECKPOINTED.search(res.stdout).group(1)))
    return _TEMPLATE[1], _TEMPLATE[2]


def tearDownModule():
    if _TEMPLATE is not None:
        shutil.rmtree(_TEMPLATE[0], ignore_errors=True)
    test_faults.tearDownModule()


class Case(FaultCase):
    def solo(self, args, timeout=60):
        """`otd ARGS` as a plain process: a real MPI run at P = 1 (a
        singleton), without the two seconds mpiexec spends ending a job whose
        rank failed; in a session of its own, killed whole on a timeout."""
        return run_command([OTD] + list(args), timeout=timeout)

    def copy_interrupted(self, name="run"):
        """A private copy of the interrupted run: (dir, args, iteration)."""
        src, it = interrupted_template()
        out = self.out(name)
        shutil.copytree(src, out, symlinks=True)
        return out, ["run", "--out", out] + LONG, it

    def assertRefused(self, res, code, *words):
        self.assertExit(res, code)
        for w in words:
            self.assertIn(w, res.stderr)
        self.assertNotIn("MPI_ABORT", res.stderr)
        self.assertNotIn("Segmentation", res.stderr)


# ---------------------------------------------------------------- 2. finished runs

class FinishedRunOtherConfiguration(Case):
    def test_refused_listing_keys_nothing_touched(self):
        out = self.out("run")
        args = ["run", "--out", out] + SHORT
        self.assertExit(self.otd(args), 0)
        before = snapshot(out)
        for extra, nranks, expect in ((sets(model__m=20), 2, "model.m (12 -> 20)"),
                                      (sets(run__seed=1), 1, "run.seed (0 -> 1)")):
            with self.subTest(change=expect, nranks=nranks):
                res = self.otd(args + extra) if nranks == 2 else self.solo(args + extra)
                self.assertRefused(res, 2, expect, "finished run")
                self.assertNotIn("complete", res.stdout)
                self.assertEqual(snapshot(out), before, "the run directory changed")
        # A stopping key may differ: the run is complete as it ran.
        res = self.otd(args + sets(algo__max_iters=400))
        self.assertExit(res, 0)
        self.assertIn("is complete", res.stdout)
        self.assertIn("algo.max_iters (200 -> 400)", res.stdout)
        self.assertEqual(snapshot(out), before, "the run directory changed")


# ---------------------------------------------------------------- 3. damaged results

class DamagedResults(Case):
    def repaired(self, dataset, what):
        out, args, it = self.copy_interrupted()
        results = os.path.join(out, "results.h5")
        flip_byte(results, dataset)
        res = self.otd(args)
        self.assertExit(res, 0)
        self.assertResumedAt(res, it)
        self.assertIn("%s differed from %s in 1 values" % (dataset, what), res.stderr)
        ref = test_faults.reference(LONG)
        got = read(results)
        self.assertTrue(np.array_equal(got[dataset.strip("/")], ref[dataset.strip("/")]),
                        "%s was not repaired" % dataset)
        self.assertMatchesReference(out, LONG)

    def test_flipped_byte_in_init_w_repaired(self):
        self.repaired("/init/W", "the checkpoint's verified W0")

    def test_flipped_byte_in_target_u_repaired(self):
        self.repaired("/target/U", "the target regenerated from run.seed")

    def test_junk_in_attribute_heap_never_crashes(self):
        """`otd info` on it and `otd run` on a finished and an unfinished
        run with it say "damaged", exit 2, and touch nothing."""
        done = self.out("done")
        self.assertExit(self.otd(["run", "--out", done] + SHORT, nranks=1), 0)
        unfinished, uargs, _ = self.copy_interrupted("unfinished")
        for out, args, nranks in ((done, ["run", "--out", done] + SHORT, 2),
                                  (unfinished, uargs, 1)):
            junk_heap(os.path.join(out, "results.h5"))
            before = snapshot(out)
            with self.subTest(run=os.path.basename(out)):
                for target in (os.path.join(out, "results.h5"), out):
                    info = run_command([OTD, "info", target], timeout=60)
                    self.assertEqual(info.returncode, 2, "otd info %s: %d\n%s"
                                     % (target, info.returncode, info.stderr))
                    self.assertRegex(info.stderr, DAMAGED)
                res = self.otd(args) if nranks == 2 else self.solo(args)
                self.assertRefused(res, 2, "--restart")
                self.assertRegex(res.stderr, DAMAGED)
                self.assertEqual(snapshot(out), before, "the run directory changed")


# ---------------------------------------------------------------- 4. symbolic links

class Symlinks(Case):
    def victim(self, content):
        path = self.out("victim")
        with open(path, "wb") as f:
            f.write(content)
        return path

    def test_lock_is_a_link(self):
        out = self.out("run")
        os.mkdir(out)
        victim = self.victim(b"someone else's file\n")
        os.symlink(victim, os.path.join(out, ".lock"))
        res = self.otd(["run", "--out", out] + SHORT)
        self.assertRefused(res, 2, ".lock", "symbolic link")
        self.assertEqual(file_bytes(victim), b"someone else's file\n")
        self.assertEqual(sorted(os.listdir(out)), [".lock"])

    def test_entries_that_are_links(self):
        """results.h5, a checkpoint, checkpoints/ itself: each moved out of
        the run directory and linked back is refused, nothing written."""
        for entry in ("results.h5", "checkpoints/newest", "checkpoints"):
            with self.subTest(entry=entry):
                out, args, _ = self.copy_interrupted("run-" + entry.replace("/", "-"))
                if entry == "checkpoints/newest":
                    entry = os.path.relpath(committed(out)[-1][1], out)
                inside = os.path.join(out, entry)
                outside = self.out("elsewhere-" + os.path.basename(entry))
                os.rename(inside, outside)
                os.symlink(outside, inside)
                before, elsewhere = snapshot(out), snapshot(self.tmp)
                res = self.otd(args) if entry == "results.h5" else self.solo(args)
                self.assertRefused(res, 2, entry, "symbolic link")
                self.assertEqual(snapshot(out), before, "the run directory changed")
                self.assertEqual(snapshot(self.tmp), elsewhere, "a file elsewhere changed")


# ---------------------------------------------------------------- 5. memory

class Memory(Case):
    """Sizes no node holds are refused before anything is allocated: exit 2
    with the up-front check's message (naming the keys and the GiB, which
    no failed allocation prints), no run directory."""

    def test_refused_up_front(self):
        for extra, key, nranks in ((sets(problem__dim=10 ** 11, problem__target="gaussian"),
                                    "problem.dim = 100000000000", 2),
                                   (sets(model__m=10 ** 9), "model.m = 1000000000", 1),
                                   (sets(engine="dense", problem__order=4, problem__dim=4000),
                                    "problem.dim = 4000", 1)):
            with self.subTest(key=key, nranks=nranks):
                out = os.path.join(self.out("new"), "run")
                args = ["run", "--out", out] + SHORT + extra
                res = self.otd(args) if nranks == 2 else self.solo(args)
                self.assertRefused(res, 2, key, "GiB per rank needed", "GiB available per rank")
                self.assertFalse(os.path.exists(self.out("new")), "a run directory was left")


# ---------------------------------------------------------------- 8. SIGINT

class Sigint(Case):
    def interrupt_at_checkpoint(self, nranks, to):
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        job = self.start(args, nranks)
        self.wait_checkpoint(job, out, LONG_EVERY)
        ranks = job.rank_pids()
        for r in to:
            os.kill(ranks[r], signal.SIGINT)
        res = job.wait(END_TIMEOUT, "the job after SIGINT")
        return out, args, res

    def check_interrupted(self, out, args, res, nranks, rerun=True):
        """Exit 130 after a committed checkpoint at the iteration it names
        (checksums verified independently); with rerun, the same command
        resumes there and ends bitwise like the uninterrupted run."""
        self.assertExit(res, INTERRUPTED)
        self.assertIn("interrupted (SIGINT)", res.stdout)
        it = int(CHECKPOINTED.search(res.stdout).group(1))
        self.assertEqual(committed(out)[-1][0], it, "the SIGINT checkpoint is not the newest")
        for _, path in committed(out):
            verify_ckpt(path)
        self.assertNoProcessesLeft(out)
        if rerun:
            res = self.otd(args, nranks=nranks)
            self.assertExit(res, 0)
            self.assertResumedAt(res, it)
            self.assertMatchesReference(out, LONG, nranks=nranks)
        return it

    def test_p1_to_the_process(self):
        out, args, res = self.interrupt_at_checkpoint(1, [0])
        self.check_interrupted(out, args, res, 1)

    def test_p2_to_one_rank(self):
        out, args, res = self.interrupt_at_checkpoint(2, [1])
        self.check_interrupted(out, args, res, 2)

    def test_p2_to_all_ranks(self):
        # As a terminal's Ctrl-C reaches every process of its group.
        out, args, res = self.interrupt_at_checkpoint(2, [0, 1])
        self.check_interrupted(out, args, res, 2, rerun=False)

    def test_right_after_start(self):
        """SIGINT to every rank as soon as each can take a handler (MPI may
        still be starting): a checkpoint-consistent stop, exit 130."""
        out = self.out("run")
        args = ["run", "--out", out] + LONG
        job = self.start(args)
        ranks = job.rank_pids()
        stops = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1}
        deadline = time.monotonic() + WAIT_TIMEOUT
        pending = dict(ranks)
        while pending and time.monotonic() < deadline and job.running():
            for r, pid in list(pending.items()):
                if caught(pid) & stops:
                    os.kill(pid, signal.SIGINT)
                    del pending[r]
            time.sleep(0.0005)
        self.assertEqual(pending, {}, "ranks never installed a handler")
        res = job.wait(END_TIMEOUT, "the job after an early SIGINT")
        it = self.check_interrupted(out, args, res, 2)
        self.assertLess(it, LONG_EVERY, "the signal was honoured late")

    def test_during_a_lazy_opt_solve(self):
        """The solve cannot stop midway: it ends, is recorded, exit 0."""
        out = self.out("lazy")
        args = ["run", "--out", out] + sets(algo__name="lazy_opt", problem__dim=100, model__m=50)
        job = self.start(args)
        ranks = job.rank_pids()
        deadline = time.monotonic() + WAIT_TIMEOUT
        while b"solving" not in os.pread(job._out.fileno(), 1 << 16, 0):
            self.assertTrue(job.running() and time.monotonic() < deadline, "no solve started")
            time.sleep(0.002)
        for pid in ranks.values():
            os.kill(pid, signal.SIGINT)
        res = job.wait(END_TIMEOUT, "the job after SIGINT during the solve")
        self.assertExit(res, 0)
        self.assertIn("a signal came during the solve", res.stdout)
        self.assertEqual(read(os.path.join(out, "results.h5"))["summary"]["status"], "solved")


# ---------------------------------------------------------------- 9. stopping keys

class StoppingKeys(Case):
    def test_changed_budget_recorded(self):
        out, args, it = self.copy_interrupted()
        shorter = LONG_ITERS // 2
        res = self.otd(args + sets(algo__max_iters=shorter, algo__target_rel_err=1e-30))
        self.assertExit(res, 0)
        with h5py.File(os.path.join(out, "results.h5"), "r") as f:
            summary = dict(f["summary"].attrs)
            config = f.attrs["config"]
            changes = f.attrs["config_changes"]
        self.assertEqual(int(summary["max_iters"]), shorter)
        self.assertEqual(float(summary["target_rel_err"]), 1e-30)
        self.assertEqual(int(summary["iters"]), shorter)
        self.assertIn("max_iters: %d\n" % shorter, config)
        self.assertIn("target_rel_err: 1e-30\n", config)
        self.assertIn("iteration %d: algo.max_iters (%d -> %d), algo.target_rel_err (0 -> 1e-30)"
                      % (it, LONG_ITERS, shorter), changes)

    def test_budget_already_spent(self):
        out, args, it = self.copy_interrupted()
        res = self.otd(args + sets(algo__max_iters=it - 1000))
        self.assertExit(res, 0)
        self.assertIn("already spent", res.stdout)
        got = read(os.path.join(out, "results.h5"))
        self.assertEqual(got["summary"]["status"], "max_iters")
        self.assertEqual(int(got["summary"]["iters"]), it)
        self.assertEqual(int(got["summary"]["max_iters"]), it - 1000)
        self.assertEqual(int(got["history"]["iter"][-1]), it)
        self.assertEqual(committed(out)[-1][0], it, "it stepped past the checkpoint")


# ---------------------------------------------------------------- 12. nothing written

class NothingWritten(Case):
    """Errors found after the run directory is locked leave no .lock and no
    directory otd created; an existing directory stays as it was."""

    def write_h5(self, name, **arrays):
        path = self.out(name)
        with h5py.File(path, "w") as f:
            for k, v in arrays.items():
                f[k] = v
        return path

    def test_setup_errors(self):
        d = self.tmp
        zero_u = self.write_h5("zero.h5", U=np.zeros((10, 3)), a=np.ones(3))
        bad_w = self.write_h5("w.h5", W=np.ones((3, 3)))
        with h5py.File(self.out("dangling.h5"), "w") as f:
            f["T"] = h5py.SoftLink("/nothing")
        cases = [
            (sets(engine="dense", problem__tensor_file=d + "/missing.h5"), "problem.tensor_file"),
            (sets(engine="dense", problem__tensor_file=d + "/dangling.h5"), "link to nothing"),
            (sets(problem__components_file=d + "/missing.h5"), "problem.components_file"),
            (sets(problem__components_file=zero_u), "define no target"),
            (sets(model__init_file=bad_w), "model.init_file"),
            (sets(model__m=10 ** 9), "GiB per rank"),
        ]
        os.mkdir(self.out("existing"))
        for k, (extra, word) in enumerate(cases):
            with self.subTest(error=word):
                # Both kinds of directory, at P = 2 and at P = 1, in turn.
                new = os.path.join(self.out("new"), "a", "b")
                out = new if k % 2 == 0 else self.out("existing")
                args = ["run", "--out", out] + SHORT + extra
                res = self.otd(args) if k in (1, 4) else self.solo(args)
                self.assertRefused(res, 2, word)
                self.assertFalse(os.path.exists(self.out("new")), "a run directory was left")
                self.assertEqual(os.listdir(self.out("existing")), [])


# ---------------------------------------------------------------- 13. exit statuses

class ExitStatuses(Case):
    def test_no_checkpoint_to_resume_from(self):
        for nranks in (1, 2):
            with self.subTest(nranks=nranks):
                out, args, _ = self.copy_interrupted("run%d" % nranks)
                shutil.rmtree(os.path.join(out, "checkpoints"))
                before = snapshot(out)
                res = self.otd(args) if nranks == 2 else self.solo(args)
                self.assertRefused(res, 2, "no checkpoint to resume from")
                self.assertEqual(snapshot(out), before)

    def test_checkpoint_directory_is_a_file(self):
        out, args, _ = self.copy_interrupted()
        shutil.rmtree(os.path.join(out, "checkpoints"))
        with open(os.path.join(out, "checkpoints"), "w") as f:
            f.write("in the way\n")
        before = snapshot(out)
        res = self.solo(args)
        self.assertRefused(res, 2, "checkpoints' is not a directory")
        self.assertEqual(snapshot(out), before)

    def test_empty_out(self):
        cwd = os.getcwd()
        os.chdir(self.tmp)
        try:
            res = self.otd(["run", "--out", ""] + SHORT)
        finally:
            os.chdir(cwd)
        self.assertRefused(res, 2, "--out")
        self.assertEqual(os.listdir(self.tmp), [])


if __name__ == "__main__":
    unittest.main()
