"""Faults of the sweep commands that write: `otd collect` and `otd sweep`
on a full disk (a small tmpfs this test mounts and always unmounts). A full
disk is an error naming the file and "No space left on device" (exit 1),
never a partial summary.csv, summary.h5 or manifest under its final name:
what was there before stays byte for byte, and the same command succeeds
once there is space again."""
import os
import subprocess
import unittest

import yaml

from otdtest import OTD, run_command
from test_faults_io import NO_SPACE, DiskCase, tearDownModule  # noqa: F401

BASE = {"problem": {"order": 3, "dim": 6, "rank": 2},
        "algo": {"name": "gd", "max_iters": 50, "target_rel_err": 0},
        "model.init_scale": 1, "run.log_every": 10}


def otd(args, cwd=None):
    return run_command([OTD] + list(args), timeout=120, cwd=cwd)


def fill(path):
    """Fill the file system of path to the last byte."""
    subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(path, "filler"), "bs=4096"],
                   capture_output=True, timeout=60)


def snapshot(d, names):
    out = {}
    for n in names:
        p = os.path.join(d, n)
        if os.path.exists(p):
            with open(p, "rb") as f:
                out[n] = f.read()
    return out


class SweepCommandsDiskFull(DiskCase):
    def sweep_file(self, grid):
        with open(self.out("base.yaml"), "w") as f:
            yaml.safe_dump(BASE, f)
        path = self.out("sw.yaml")
        with open(path, "w") as f:
            yaml.safe_dump({"name": "full", "base": "base.yaml", "grid": grid}, f)
        return path

    def test_collect_on_a_full_disk(self):
        mnt = self.out("mnt")
        self.mount_tmpfs(mnt, "4m")
        d = os.path.join(mnt, "sw")
        self.assertOk(otd(["sweep", self.sweep_file({"run.seed": [0, 1, 2, 3]}), "--out", d,
                           "--local", "2"]))
        first = otd(["collect", d])
        self.assertOk(first)
        before = snapshot(d, ["summary.csv", "summary.h5"])
        self.assertEqual(sorted(before), ["summary.csv", "summary.h5"])
        fill(mnt)
        # A new point's result changes what collect would write.
        proc = otd(["collect", d])
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertRegex(proc.stderr, NO_SPACE)
        self.assertIn("summary", proc.stderr)
        self.assertEqual(snapshot(d, ["summary.csv", "summary.h5"]), before)
        self.assertFalse([n for n in os.listdir(d) if n.startswith("summary") and
                          n not in ("summary.csv", "summary.h5")], os.listdir(d))
        os.remove(os.path.join(mnt, "filler"))
        self.assertOk(otd(["collect", d]))

    def test_sweep_expansion_on_a_full_disk(self):
        """Expanding an edited sweep (new points) onto a full disk: the
        manifest and configs of the old expansion stay as they were."""
        mnt = self.out("mnt")
        self.mount_tmpfs(mnt, "2m")
        d = os.path.join(mnt, "sw")
        self.assertOk(otd(["sweep", self.sweep_file({"run.seed": [0, 1]}), "--out", d]))
        before = snapshot(d, ["manifest.tsv", "sweep.yaml"])
        fill(mnt)
        grid = {"run.seed": list(range(40)), "model.m": [4, 5, 6, 7, 8]}
        proc = otd(["sweep", self.sweep_file(grid), "--out", d])
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertRegex(proc.stderr, NO_SPACE)
        self.assertEqual(snapshot(d, ["manifest.tsv", "sweep.yaml"]), before)
        os.remove(os.path.join(mnt, "filler"))
        proc = otd(["sweep", self.sweep_file(grid), "--out", d])
        self.assertOk(proc)
        self.assertIn("200 points", proc.stdout)


if __name__ == "__main__":
    unittest.main()
