"""The install tree (issue 14, item 2): `cmake --install` from a copy of the
source tree into a temporary prefix; the copy and its build directory are
deleted; then, as a user of a cluster would, `module load otd` (Lmod) and a
small E1 sweep with `otd sweep --local 2`, `otd collect` and the figure, all
from the prefix. One point also goes through the installed Slurm scripts
(share/otd/jobs/slurm/run_one.sbatch -> task.sh) as a batch job would.

What the copy was built with: this build's defaults (find_package(MPI),
HDF5, BLAS and LAPACK), with ScaLAPACK given as -DSCALAPACK_LIBRARIES (the
way a cluster without pkg-config names it), tests off, warnings as errors.
"""
import os
import re
import shutil
import subprocess
import unittest

from otdtest import TmpTestCase, run_command

SOURCE = os.path.abspath(os.environ.get(
    "OTD_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")))
LMOD_INIT = "/usr/share/lmod/lmod/init/bash"
BUILD_TIMEOUT = 420

# E1 at the smallest scale: lazy_opt and bl at d = 10, m in {3, 12}, 2 seeds.
SWEEP = """name: e1-tiny
base: %s/share/otd/jobs/configs/e1.yaml
set:
  algo.max_iters: 3000
grid:
  algo.name: [lazy_opt, bl]
  problem.dim: [10]
  model.m: [3, 12]
  run.seed: [0, 1]
ranks: 1
"""

SCRIPT = r"""
set -e
source %(lmod)s
module use "%(prefix)s/share/modulefiles"
module load otd
set -u
test "$(command -v otd)" = "%(prefix)s/bin/otd"
test "$OTD_ROOT" = "%(prefix)s/share/otd"
. "$OTD_ROOT/jobs/env.sh"
cd "%(work)s"
otd sweep sweep.yaml --out sw --local 2
otd collect sw
/usr/bin/python3 "$OTD_ROOT/analysis/figures.py" e1 sw
# One run through the installed batch script, as Slurm would run it
# (OTD_ROOT from the module: the installed otd and jobs/).
OTD_LAUNCH="$OTD_MPIEXEC -n 1" bash "$OTD_ROOT/jobs/slurm/run_one.sbatch" \
  "$OTD_ROOT/jobs/configs/default.yaml" one
"""


def ignore_builds(directory, names):
    """What a copy of the source tree leaves out: build and result
    directories, git's metadata, Python caches."""
    if os.path.abspath(directory) == SOURCE:
        return [n for n in names if n.startswith("build") or n.startswith("otd-run-")
                or n in (".git", "results", "runs")]
    return [n for n in names if n == "__pycache__"]


class Install(TmpTestCase):
    def sh(self, cmd, timeout=BUILD_TIMEOUT, **kw):
        p = run_command(cmd, timeout=timeout, **kw)
        self.assertEqual(p.returncode, 0, "%s failed (%d)\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(cmd), p.returncode, p.stdout[-4000:], p.stderr[-4000:]))
        return p

    def test_install_module_sweep(self):
        self.assertTrue(os.path.exists(LMOD_INIT), "no Lmod (%s): bash jobs/setup.sh installs "
                        "the Debian package lmod" % LMOD_INIT)
        copy, build, prefix = self.out("src copy"), self.out("build"), self.out("prefix")
        work = self.out("work")
        shutil.copytree(SOURCE, copy, ignore=ignore_builds, symlinks=True)
        scalapack = subprocess.run(["pkg-config", "--variable=libdir", "scalapack-openmpi"],
                                   capture_output=True, text=True).stdout.strip()
        self.sh(["cmake", "-S", copy, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                 "-DOTD_BUILD_TESTS=OFF", "-DOTD_WERROR=ON",
                 "-DSCALAPACK_LIBRARIES=%s/libscalapack-openmpi.so" % scalapack])
        self.sh(["cmake", "--build", build, "-j", "2", "--target", "otd"])
        self.sh(["cmake", "--install", build, "--prefix", prefix])
        shutil.rmtree(copy)
        shutil.rmtree(build)

        # The tree: the binary, share/otd/{jobs,analysis,docs}, the modulefile.
        for where, name in (("bin", "otd"), ("share/otd/jobs", "env.sh"),
                            ("share/otd/jobs/slurm", "task.sh"),
                            ("share/otd/jobs/slurm", "run_one.sbatch"),
                            ("share/otd/jobs/configs", "default.yaml"),
                            ("share/otd/jobs/sweeps", "e1_small.yaml"),
                            ("share/otd/analysis", "figures.py"),
                            ("share/otd/analysis", "otd_sweep.py"),
                            ("share/otd", "README.md"), ("share/otd/docs", "file-formats.md"),
                            ("share/modulefiles/otd", "0.1.0.lua")):
            self.assertTrue(os.path.isfile(os.path.join(prefix, where, name)), (where, name))
        self.assertTrue(os.access(os.path.join(prefix, "share/otd/jobs/slurm/run_one.sbatch"),
                                  os.X_OK))
        # No path of the (deleted) source copy or build is in the binary.
        with open(os.path.join(prefix, "bin/otd"), "rb") as f:
            data = f.read()
        for gone in (copy, build):
            self.assertNotIn(gone.encode(), data, "%s is compiled into bin/otd" % gone)

        os.makedirs(work)
        with open(os.path.join(work, "sweep.yaml"), "w") as f:
            f.write(SWEEP % prefix)
        script = os.path.join(work, "use.sh")
        with open(script, "w") as f:
            f.write(SCRIPT % {"lmod": LMOD_INIT, "prefix": prefix, "work": work})
        # Nothing of the build or checkout leaks in through the environment.
        env = {k: "" for k in ("OTD_JOBS_DIR", "OTD_BIN", "OTD_MPIEXEC", "OTD_ROOT")}
        p = self.sh(["bash", script], timeout=300, env=env)
        sw = os.path.join(work, "sw")
        self.assertIn("8 of 8 points done", p.stdout)
        self.assertIn("8 points: 8 done", p.stdout)
        for name in ("summary.csv", "summary.h5", "figures/e1.png", "figures/e1.pdf"):
            self.assertTrue(os.path.isfile(os.path.join(sw, name)), name)
        # run_one.sbatch ran the installed otd through the installed task.sh:
        # one attempt, exit 0, recorded in the run directory.
        one = os.path.join(work, "one")
        with open(os.path.join(one, "task.exit")) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertRegex(lines[0], r"^\d+ 0 \S+ ")
        self.assertTrue(os.path.isfile(os.path.join(one, "results.h5")))
        self.assertIn("otd %s" % "0.1.0", p.stdout)

        # Without its jobs/ the installed otd refuses to write a sweep whose
        # sbatch script would point nowhere, and says what to do.
        jobs = os.path.join(prefix, "share/otd/jobs")
        os.rename(jobs, jobs + ".away")
        alone = os.path.join(work, "alone.yaml")
        with open(alone, "w") as f:
            f.write("name: alone\nset:\n  algo.max_iters: 10\ngrid:\n  model.m: [3]\n")
        p = run_command([os.path.join(prefix, "bin/otd"), "sweep", alone, "--out",
                         os.path.join(work, "sw2"), "--dry-run"], env=env)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("cannot find otd's jobs/ directory", p.stderr)
        self.assertIn("OTD_JOBS_DIR", p.stderr)


if __name__ == "__main__":
    unittest.main()
