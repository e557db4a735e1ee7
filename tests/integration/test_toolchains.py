"""Two toolchains, one answer (issue 14, item 1): this build (Debian's
defaults: Open MPI, OpenBLAS, ScaLAPACK and HDF5 for Open MPI) and the build
of jobs/toolchains/mpich-blis.cmake (MPICH, BLIS, the reference LAPACK,
ScaLAPACK and HDF5 for MPICH) run the same configurations, each under its
own mpiexec at 2 ranks, and end at the same final W to 1e-12.

The second build is OTD_MPICH_BIN, run by OTD_MPICH_MPIEXEC
(tests/CMakeLists.txt: OTD_MPICH_BUILD, default build-mpich/ in the source
tree; `bash jobs/test.sh` makes it). Without it this test fails: it is not
skipped."""
import os
import subprocess
import unittest

import h5py
import numpy as np

from otdtest import TmpTestCase, run, run_command, sets

MPICH_OTD = os.environ.get("OTD_MPICH_BIN", "")
MPICH_MPIEXEC = os.environ.get("OTD_MPICH_MPIEXEC", "mpiexec.mpich")

# bl on the implicit engine (the default), gd on the dense engine at order
# 4, and lazy_opt's one-shot solve (ScaLAPACK/LAPACK) at m d < D, where its
# answer is unique.
CASES = {
    "bl-implicit": sets(algo__max_iters=2000),
    "gd-dense-l4": sets(engine="dense", algo__name="gd", algo__max_iters=2000,
                        problem__order=4, problem__dim=6, model__m=8),
    "lazy_opt": sets(algo__name="lazy_opt", model__m=12),
}


def final(path):
    with h5py.File(os.path.join(path, "results.h5"), "r") as f:
        blas = f.attrs["blas"]
        return (f["final/W"][()], blas.decode() if isinstance(blas, bytes) else blas,
                int(f.attrs["nranks"]))


class Toolchains(TmpTestCase):
    def test_mpich_variant_is_built(self):
        self.assertTrue(MPICH_OTD and os.access(MPICH_OTD, os.X_OK),
                        "no MPICH + BLIS build at OTD_MPICH_BIN=%r: build it with `cmake -C "
                        "jobs/toolchains/mpich-blis.cmake -S . -B build-mpich && cmake --build "
                        "build-mpich` (bash jobs/test.sh does)" % MPICH_OTD)
        # It is what it says: MPICH and BLIS, neither Open MPI nor OpenBLAS.
        ldd = subprocess.run(["ldd", MPICH_OTD], capture_output=True, text=True).stdout
        libs = sorted(w for w in ldd.split() if "mpi" in w or "blas" in w or "blis" in w)
        for want in ("libmpich.so", "libblis.so"):
            self.assertTrue(any(want in l for l in libs), "%s lacks %s: %s" % (MPICH_OTD, want, libs))
        for bad in ("libmpi.so", "openblas"):
            self.assertFalse(any(bad in l for l in libs), "%s loads %s: %s" % (MPICH_OTD, bad, libs))

    def test_same_final_W(self):
        self.assertTrue(MPICH_OTD and os.access(MPICH_OTD, os.X_OK),
                        "no MPICH + BLIS build at OTD_MPICH_BIN=%r (bash jobs/test.sh builds it)"
                        % MPICH_OTD)
        for name, args in CASES.items():
            with self.subTest(case=name):
                a, b = self.out(name + "-default"), self.out(name + "-mpich")
                p = run(["run", "--out", a] + args, nranks=2)
                self.assertOk(p)
                p = run_command([MPICH_MPIEXEC, "-n", "2", MPICH_OTD, "run", "--out", b] + args)
                self.assertOk(p)
                wa, blas_a, pa = final(a)
                wb, blas_b, pb = final(b)
                # Two different BLAS libraries, each run on 2 ranks of one job.
                self.assertTrue(blas_a.startswith("OpenBLAS"), blas_a)
                self.assertTrue(blas_b.startswith("BLIS"), blas_b)
                self.assertEqual((pa, pb), (2, 2))
                self.assertEqual(wa.shape, wb.shape)
                self.assertTrue(np.all(np.isfinite(wa)))
                diff = float(np.max(np.abs(wa - wb)))
                self.assertLessEqual(diff, 1e-12, "%s: max |W_openmpi - W_mpich| = %.3g"
                                     % (name, diff))
                # ... and the runs did move W (a no-op would agree trivially).
                with h5py.File(os.path.join(a, "results.h5"), "r") as f:
                    self.assertGreater(float(np.max(np.abs(wa - f["init/W"][()]))), 1e-3)


if __name__ == "__main__":
    unittest.main()
